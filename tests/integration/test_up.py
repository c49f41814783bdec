"""`sinergi up` as a new user runs it: real processes, real ports, Ctrl-C, and a second start."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import nats
import pytest

from tests.integration.test_slice import LOK_TUAN, household

pytestmark = pytest.mark.integration

URL_LINE = re.compile(r"^\s+(registry|referrals|notifications|konsol)\s+(?:API|WEB)\s+(http://\S+)")


class Up:
    """One `sinergi up` process whose printed URLs are collected as they appear."""

    def __init__(
        self,
        data_dir: Path,
        settings: dict[str, str] | None = None,
        *,
        sigint_ignored: bool = False,
    ):
        env = {k: v for k, v in os.environ.items() if not k.startswith("SINERGI_")}
        env |= settings or {}

        def as_a_background_job() -> None:  # what a shell does to a command started with &
            signal.signal(signal.SIGINT, signal.SIG_IGN)

        self.process = subprocess.Popen(
            [sys.executable, "-m", "sinergi.cli", "up", "--data-dir", str(data_dir)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            text=True,
            preexec_fn=as_a_background_job if sigint_ignored else None,
        )
        self.urls: dict[str, str] = {}
        self.output: list[str] = []
        self.ready = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.output.append(line)
            if found := URL_LINE.match(line):
                self.urls[found.group(1)] = found.group(2)
            if line.strip().startswith("NATS") and len(self.urls) == 4:
                self.ready.set()

    def wait_ready(self) -> dict[str, str]:
        if not self.ready.wait(120):
            self.stop()
            raise AssertionError("sinergi up did not print its URLs:\n" + "".join(self.output))
        return self.urls

    def stop(self) -> int:
        self.process.send_signal(signal.SIGINT)
        return self.process.wait(timeout=60)


def processes_mentioning(text: str) -> list[str]:
    """Processes whose command line or environment names `text` (our data folder).

    nats-server has it in its command line, the services in SINERGI_DATABASE_URL.
    """
    found = []
    for process in Path("/proc").glob("[0-9]*"):
        try:
            seen = (process / "cmdline").read_bytes() + (process / "environ").read_bytes()
        except OSError:
            continue
        if text.encode() in seen:
            found.append(process.name)
    return found


async def connects(url: str) -> bool:
    """Whether an anonymous client gets a NATS connection at `url`."""
    try:
        nc = await nats.connect(url, allow_reconnect=False, connect_timeout=3)
    except Exception:  # refused: nats-py says so in several ways
        return False
    await nc.close()
    return True


def token_headers(data_dir: Path, *options: str) -> dict[str, str]:
    """A token printed by `sinergi token`, signed with the key `sinergi up` made."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SINERGI_")}
    printed = subprocess.run(
        [sys.executable, "-m", "sinergi.cli", "token", "--data-dir", str(data_dir), *options],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    return {"Authorization": f"Bearer {printed.stdout.strip()}"}


def poll(
    url: str, accept: object, headers: dict[str, str], timeout: float = 30.0
) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while True:
        response = httpx.get(url, headers=headers, timeout=5)
        if callable(accept) and accept(response):
            return response
        if time.monotonic() > deadline:
            raise AssertionError(f"{url} never satisfied the check: {response.text}")
        time.sleep(0.1)


def test_sinergi_up_runs_the_slice_stops_cleanly_and_keeps_the_data(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    first = Up(data_dir)
    try:
        urls = first.wait_ready()
        anonymous = httpx.post(f"{urls['registry']}/households", json=household(), timeout=10)
        assert anonymous.status_code == 401, anonymous.text
        system = token_headers(data_dir, "--role", "system")
        created = httpx.post(
            f"{urls['registry']}/households", json=household(), headers=system, timeout=10
        )
        assert created.status_code == 201, created.text
        household_id = created.json()["id"]
        poll(
            f"{urls['referrals']}/households/{household_id}/timeline",
            lambda r: len(r.json()["entries"]) == 1,
            system,
        )
        poll(
            f"{urls['notifications']}/inbox?recipient=kelurahan:{LOK_TUAN}",
            lambda r: r.json()["unread"] == 1,
            token_headers(data_dir, "--role", "kelurahan", "--kelurahan", "Lok Tuan"),
        )
        asyncapi = httpx.get(f"{urls['registry']}/asyncapi", headers=system, timeout=5)
        assert asyncapi.status_code == 200
        assert httpx.get(f"{urls['registry']}/docs", timeout=5).status_code == 200
        # NATS is closed to anyone without a user; the command line gets in as the operator.
        assert (data_dir / "nats" / "users.json").stat().st_mode & 0o777 == 0o600
        assert not asyncio.run(connects((data_dir / "nats.url").read_text()))
        listed = subprocess.run(
            [sys.executable, "-m", "sinergi.cli", "dlq", "list", "--data-dir", str(data_dir)],
            capture_output=True,
            text=True,
            env={k: v for k, v in os.environ.items() if not k.startswith("SINERGI_")},
        )
        assert listed.returncode == 0 and listed.stdout == "", listed.stderr
    finally:
        assert first.stop() == 0, "".join(first.output)
    # An empty registry: `sinergi up` offers the synthetic data for a first look.
    assert any("sinergi demo" in line for line in first.output), "".join(first.output)

    assert processes_mentioning(str(data_dir)) == [], "a process outlived Ctrl-C"

    second = Up(data_dir)
    try:
        urls = second.wait_ready()
        # The key stays with the data: a token from the first run still opens the second.
        kept = httpx.get(f"{urls['registry']}/households/{household_id}", headers=system, timeout=5)
        assert kept.status_code == 200
        timeline = httpx.get(
            f"{urls['referrals']}/households/{household_id}/timeline", headers=system, timeout=5
        )
        assert len(timeline.json()["entries"]) == 1
    finally:
        assert second.stop() == 0, "".join(second.output)
    assert not any("sinergi demo" in line for line in second.output)
    assert processes_mentioning(str(data_dir)) == []


def test_ctrl_c_stops_sinergi_up_started_as_a_background_job(tmp_path: Path) -> None:
    """A shell starts a background job's commands with SIGINT ignored (a CI runner may too);
    Ctrl-C (SIGINT) must still stop the whole system."""
    up = Up(tmp_path / "data", sigint_ignored=True)
    try:
        up.wait_ready()
    finally:
        assert up.stop() == 0, "".join(up.output)
    assert processes_mentioning(str(tmp_path / "data")) == []
