"""`sinergi up`: the whole system on one machine — nats-server, migrations, three services."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from sinergi.catalogue import CONSOLE, SERVICE_NAMES
from sinergi.config import Settings
from sinergi.issuer import ensure_key, system_headers
from sinergi.natsauth import OPERATOR, connect_options, embedded_users
from sinergi.natsserver import NatsServer, free_port
from sinergi.streams import declare_streams

PREFERRED_HTTP_PORTS = {
    "console": 8100,
    "registry": 8101,
    "referrals": 8102,
    "notifications": 8103,
}
PREFERRED_NATS_PORT = 4333


@dataclass
class RunningService:
    name: str
    port: int
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def nats_url_file(data_dir: Path) -> Path:
    """Where `sinergi up` leaves the NATS URL for `sinergi dlq …` and other commands."""
    return data_dir / "nats.url"


def nats_users_file(data_dir: Path) -> Path:
    """The embedded nats-server's users and their passwords (owner-only): `operator` for the
    command line, one per service, `agency-<code>` for each agency's system."""
    return data_dir / "nats" / "users.json"


def embedded_nats(data_dir: Path) -> NatsServer:
    """The embedded nats-server, each service and agency confined to its own subjects."""
    directory = os.environ.get("SINERGI_DIRECTORY_FILE")
    users = embedded_users(nats_users_file(data_dir), Path(directory) if directory else None)
    return NatsServer(store_dir=data_dir / "nats", port=free_port(PREFERRED_NATS_PORT), users=users)


def service_env(
    name: str, *, data_dir: Path, nats_url: str, port: int, nats_password: str | None = None
) -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("SINERGI_ENVIRONMENT", "development")
    env.update(
        {
            "SINERGI_DATABASE_URL": f"sqlite+aiosqlite:///{(data_dir / f'{name}.db').as_posix()}",
            "SINERGI_NATS_SERVERS": nats_url,
            "SINERGI_HTTP_PORT": str(port),
            "SINERGI_LOG_JSON": env.get("SINERGI_LOG_JSON", "false"),
        }
    )
    if nats_password is not None:
        env |= {"SINERGI_NATS_USER": name, "SINERGI_NATS_PASSWORD": nats_password}
    if not env.get("SINERGI_AUTH_JWKS_URL"):
        # The embedded mode's own issuer; `sinergi token` signs with the same key.
        env.setdefault("SINERGI_AUTH_KEY_FILE", str(issuer_key_file(data_dir)))
    return env


def issuer_key_file(data_dir: Path) -> Path:
    return data_dir / "auth" / "issuer.pem"


def embedded_key_file(data_dir: Path) -> Path | None:
    """The built-in issuer's key the services will use, made before they start (None when
    they check an OIDC provider's tokens instead)."""
    if os.environ.get("SINERGI_AUTH_JWKS_URL"):
        return None
    return ensure_key(Path(os.environ.get("SINERGI_AUTH_KEY_FILE") or issuer_key_file(data_dir)))


def wait_ready(service: RunningService, *, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if service.process.poll() is not None:
            raise RuntimeError(f"{service.name} berhenti saat mulai (exited while starting)")
        try:
            if httpx.get(f"{service.url}/readyz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{service.name} tidak siap dalam {timeout}s (not ready in time)")


def stop_all(services: list[RunningService], nats: NatsServer) -> None:
    for service in services:
        if service.process.poll() is None:
            service.process.send_signal(signal.SIGTERM)
    for service in services:
        try:
            service.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            service.process.kill()
            service.process.wait()
    nats.stop()


def _interrupt(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def up(data_dir: Path) -> None:
    # A SIGTERM (from a supervisor or a test) stops everything as cleanly as Ctrl-C does; and
    # Ctrl-C does even when the shell started us with SIGINT ignored (a background job's
    # commands are), where Python would leave it ignored.
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)
    data_dir = data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    nats = embedded_nats(data_dir)
    if (nats.store_dir / "jetstream" / "$G").exists():
        # Streams from before the NATS accounts are in the global account, out of reach.
        print(
            "Peringatan: folder data ini punya stream NATS lama (tanpa akun); riwayat event-nya "
            "tidak terbawa — data layanan tetap ada. (Warning: this data folder has NATS streams "
            "from before accounts; their event history does not carry over, the services' data "
            "does.) Mulai bersih (start clean): hapus (remove) " + str(data_dir),
            flush=True,
        )
    nats.start()
    # The operator creates or updates the streams; the services may only create a missing one.
    settings = Settings(database_url="sqlite+aiosqlite:///unused.db", nats_servers=[nats.url])
    operator = connect_options(OPERATOR, nats.password_of(OPERATOR))
    asyncio.run(declare_streams([nats.url], settings, **operator))
    nats_url_file(data_dir).write_text(nats.url)
    key_file = embedded_key_file(data_dir)
    services: list[RunningService] = []
    try:
        for name in SERVICE_NAMES:
            port = free_port(PREFERRED_HTTP_PORTS[name])
            env = service_env(
                name,
                data_dir=data_dir,
                nats_url=nats.url,
                port=port,
                nats_password=nats.password_of(name),
            )
            process = subprocess.Popen(
                [sys.executable, "-m", "sinergi.cli", "serve", name, "--migrate"],
                env=env,
                stdin=subprocess.DEVNULL,
            )
            services.append(RunningService(name=name, port=port, process=process))
        for service in services:
            wait_ready(service)
        services.append(start_console(data_dir, nats.url, services))
        wait_ready(services[-1])
        print_urls(services, nats, data_dir, key_file)
        while all(s.process.poll() is None for s in services):
            time.sleep(0.5)
        print("Sebuah layanan berhenti; menghentikan semuanya (a service stopped; stopping all)")
    except KeyboardInterrupt:
        print("\nMenghentikan Sinergi… (stopping)", flush=True)
    finally:
        # A second Ctrl-C must not cut the clean-up short and orphan nats-server.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        stop_all(services, nats)
        nats_url_file(data_dir).unlink(missing_ok=True)


def start_console(data_dir: Path, nats_url: str, services: list[RunningService]) -> RunningService:
    """The web console, pointed at the services just started (it uses neither NATS nor a
    database of its own; the settings want them named all the same)."""
    port = free_port(PREFERRED_HTTP_PORTS[CONSOLE])
    env = service_env(CONSOLE, data_dir=data_dir, nats_url=nats_url, port=port)
    env |= {f"SINERGI_CONSOLE_{s.name.upper()}_URL": s.url for s in services}
    process = subprocess.Popen(
        [sys.executable, "-m", "sinergi.cli", "serve", CONSOLE],
        env=env,
        stdin=subprocess.DEVNULL,
    )
    return RunningService(name=CONSOLE, port=port, process=process)


def print_urls(
    services: list[RunningService], nats: NatsServer, data_dir: Path, key_file: Path | None
) -> None:
    lines = ["", "Sinergi berjalan (running). Tekan Ctrl-C untuk berhenti (to stop).", ""]
    for service in services:
        if service.name == CONSOLE:
            lines += [
                f"  {'konsol':<14} WEB      {service.url}  (buka di peramban: open in a browser)"
            ]
            continue
        lines += [
            f"  {service.name:<14} API      {service.url}",
            f"  {'':<14} OpenAPI  {service.url}/docs",
            f"  {'':<14} AsyncAPI {service.url}/asyncapi",
        ]
    lines += [
        "",
        f"  NATS           {nats.url}",
        f"  NATS users     {nats_users_file(data_dir)} (agency systems: agency-<code>)",
        f"  data           {data_dir}",
        "",
    ]
    lines += [
        "Setiap permintaan memerlukan token (every request needs a token), mis. (e.g.):",
        f"  {Path(sys.executable).parent / 'sinergi'} token --role coordinator "
        f"--data-dir {data_dir}",
        "",
    ]
    if registry_is_empty(services, key_file):
        lines += [
            "Registry masih kosong. Untuk melihat-lihat, isi data contoh Kota Bontang di terminal",
            "lain (the registry is empty; for a first look, load synthetic data):",
            f"  make demo        atau (or)  {Path(sys.executable).parent / 'sinergi'} demo "
            f"--households 2000 --data-dir {data_dir}",
            "",
        ]
    print("\n".join(lines), flush=True)


def registry_is_empty(services: list[RunningService], key_file: Path | None) -> bool:
    registry = next((s for s in services if s.name == "registry"), None)
    if registry is None:
        return False
    # None: the services check an OIDC provider's tokens, and up has none to show.
    headers = system_headers(key_file, "sinergi-up", 60) if key_file else {}
    try:
        page = httpx.get(
            f"{registry.url}/households", params={"limit": 1}, headers=headers, timeout=5
        ).json()
    except (httpx.HTTPError, ValueError):
        return False
    return page.get("items") == []
