"""Benchmark: the console's 100-day dashboard with the city's demo data.

    .venv/bin/python -m benchmarks.console [--households 50000] [--samples 50] [--changes 20]

Starts the system as `make up` does (`sinergi up`, its own data folder and free ports), loads
`sinergi demo --households N`, signs in as a coordinator and measures:

* the dashboard's render: GET /dasbor, sequential requests, p50/p99 of the time to the last
  byte (server time: the client is on the same machine) while nothing changes (the referrals
  service keeps the computed figures until its data changes), beside the referrals service's
  own dashboard read (GET /reports/dashboard); the first render after a change (the figures
  computed again); and the page weight (HTML, CSS, script);
* the delay from an event to the dashboard's live update: a household registered in the
  registry (HTTP) until the console's live stream says `berubah`, and until the re-read panel
  (GET /dasbor/panel) has arrived — what a browser does before it paints;
* meanwhile, the referrals service's answer to everyone else: GET /healthz every 10 ms while
  those changes are made and their figures computed again (a stall of its event loop shows).

`--data-dir DIR` keeps the system's data folder and loads the demo only when it is empty, so a
second run measures the same data without the ~6 minutes of loading.

A benchmark, not a test: it reports, it never fails.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from benchmarks.event_log import machine, save_result
from sinergi.auth import Principal, Role
from sinergi.issuer import issue
from sinergi.up import issuer_key_file

URL = re.compile(r"^\s+(registry|referrals|notifications|konsol)\s+(?:API|WEB)\s+(http://\S+)")
LOK_TUAN = "64.74.01.1003"


def percentiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "n": len(ordered),
        "p50": statistics.median(ordered),
        "p99": ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))],
        "max": ordered[-1],
    }


class System:
    """`sinergi up` in a folder of its own, its printed URLs collected."""

    def __init__(self, data_dir: Path) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SINERGI_")}
        self.data_dir = data_dir
        self.process = subprocess.Popen(
            [sys.executable, "-m", "sinergi.cli", "up", "--data-dir", str(data_dir)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env=env, text=True,
        )  # fmt: skip
        self.urls: dict[str, str] = {}
        self.ready = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            if found := URL.match(line):
                self.urls[found.group(1)] = found.group(2)
            if line.strip().startswith("NATS") and len(self.urls) == 4:
                self.ready.set()

    def token(self, principal: Principal) -> str:
        return issue(issuer_key_file(self.data_dir), principal, lifetime_seconds=3600)

    def stop(self) -> None:
        # SIGTERM, not SIGINT: a benchmark started in the background (nohup … &) passes an
        # ignored SIGINT on to `sinergi up`, which then never hears it.
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=120)


def demo(data_dir: Path, households: int) -> float:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SINERGI_")}
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "sinergi.cli", "demo", "--households", str(households),
         "--data-dir", str(data_dir)],
        check=True, env=env, capture_output=True,
    )  # fmt: skip
    return time.perf_counter() - started


def settled(system: System, coordinator: dict[str, str]) -> None:
    """Wait until the referrals service has projected everything the registry published."""
    last, same = None, 0
    while same < 3:
        report = httpx.get(
            f"{system.urls['referrals']}/reports/dashboard", headers=coordinator, timeout=60
        ).json()
        now = (report["stunting"], report["hundred_days"], report["funnel"])
        same = same + 1 if now == last else 0
        last = now
        time.sleep(1)


def timed(client: httpx.Client, url: str, samples: int, **options: Any) -> list[float]:
    for _ in range(3):
        client.get(url, **options)
    times = []
    for _ in range(samples):
        started = time.perf_counter()
        response = client.get(url, **options)
        response.raise_for_status()
        times.append((time.perf_counter() - started) * 1000)
    return times


def probed(url: str, stop: threading.Event, found: list[float]) -> None:
    """GET `url` every 10 ms until `stop`, each answer's time into `found` (ms)."""
    with httpx.Client(timeout=30) as client:
        while not stop.is_set():
            started = time.perf_counter()
            client.get(url).raise_for_status()
            found.append((time.perf_counter() - started) * 1000)
            time.sleep(0.01)


def live_delays(system: System, console: httpx.Client, changes: int) -> dict[str, Any]:
    kelurahan = {"Authorization": "Bearer " + system.token(
        Principal(subject="bench-lurah", role=Role.KELURAHAN, kelurahan=LOK_TUAN)
    )}  # fmt: skip
    to_event: list[float] = []
    to_panel: list[float] = []
    arrived = threading.Event()
    stop = threading.Event()

    def listen() -> None:
        # Ends when the system stops under it (the connection closes then).
        with (
            contextlib.suppress(httpx.HTTPError),
            console.stream("GET", "/dasbor/langsung", timeout=None) as stream,
        ):
            for line in stream.iter_lines():
                if stop.is_set():
                    return
                if line.startswith("event: berubah"):
                    arrived.set()

    threading.Thread(target=listen, daemon=True).start()
    arrived.wait(10)  # the first event comes on connecting
    time.sleep(0.5)
    health: list[float] = []
    prober = threading.Thread(
        target=probed, args=(f"{system.urls['referrals']}/healthz", stop, health), daemon=True
    )
    prober.start()
    run = int(time.time()) % 100_000 * 100  # a No. KK of its own each run (--data-dir)
    for n in range(changes):
        arrived.clear()
        body = {"no_kk": f"64740199{run + n:08d}", "kelurahan_code": LOK_TUAN, "rw": 1, "rt": 1,
                "address": f"Jl. Bench No. {n}", "head_name": "Bench"}  # fmt: skip
        started = time.perf_counter()
        httpx.post(f"{system.urls['registry']}/households", json=body, headers=kelurahan)
        if not arrived.wait(10):
            continue
        to_event.append((time.perf_counter() - started) * 1000)
        console.get("/dasbor/panel").raise_for_status()
        to_panel.append((time.perf_counter() - started) * 1000)
        time.sleep(0.3)
    stop.set()
    prober.join()
    return {
        "to_event": percentiles(to_event),
        "to_panel": percentiles(to_panel),
        "health": percentiles(health),
        "to_event_raw": to_event,
        "to_panel_raw": to_panel,
    }


def main(households: int, samples: int, changes: int, data_dir: Path | None) -> None:
    with tempfile.TemporaryDirectory(prefix="bench_console_") as tmp:
        kept = data_dir is not None and (data_dir / "registry.db").exists()
        system = System(data_dir or Path(tmp) / "data")
        try:
            if not system.ready.wait(180):
                raise RuntimeError("sinergi up did not start")
            loaded = 0.0 if kept else demo(system.data_dir, households)
            coordinator = {"Authorization": "Bearer " + system.token(
                Principal(subject="bench-koordinator", role=Role.COORDINATOR)
            )}  # fmt: skip
            settled(system, coordinator)
            console = httpx.Client(base_url=system.urls["konsol"], timeout=60)
            console.post("/masuk", data={"name": "Koordinator", "role": "coordinator"})
            page = timed(console, "/dasbor", samples)
            with httpx.Client(timeout=60) as plain:
                data = timed(
                    plain, f"{system.urls['referrals']}/reports/dashboard", samples,
                    headers=coordinator,
                )  # fmt: skip
            html = console.get("/dasbor").content
            weight = {
                "html": len(html),
                "css": len(console.get("/static/console.css").content),
                "js": len(console.get("/static/console.js").content),
            }
            live = live_delays(system, console, changes)
        finally:
            system.stop()
    m = machine("sqlite")
    print(f"machine: {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB, Python {m['python']}")
    if loaded:
        print(f"demo: {households:,} households loaded in {loaded:.0f} s (sinergi demo)")
    else:
        print(f"demo: the data already in {data_dir} (loaded by an earlier run)")

    def line(label: str, p: dict[str, float]) -> str:
        return (
            f"  {label:<46} n={p['n']:>4}  p50 {p['p50']:7.1f} ms  p99 {p['p99']:7.1f} ms  "
            f"max {p['max']:7.1f} ms"
        )

    print(line("GET /dasbor, nothing changed since (cached)", percentiles(page)))
    print(line("GET /reports/dashboard alone (its data)", percentiles(data)))
    total = sum(weight.values())
    print(f"  page weight: {total:,} bytes (HTML {weight['html']:,}, CSS {weight['css']:,}, "
          f"script {weight['js']:,}; no images, no fonts)")  # fmt: skip
    print(line("event → live stream says berubah", live["to_event"]))
    print(line("event → re-read panel arrived (recomputed)", live["to_panel"]))
    cold = [p - e for p, e in zip(live["to_panel_raw"], live["to_event_raw"], strict=True)]
    print(line("first render after a change (panel, server)", percentiles(cold)))
    print(line("referrals GET /healthz meanwhile (every 10 ms)", live["health"]))
    save_result(
        {"machine": m, "households": households, "demo_seconds": loaded, "page": percentiles(page),
         "data": percentiles(data), "weight": weight, "live": live},
        "console",
    )  # fmt: skip


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--households", type=int, default=50_000)
    parser.add_argument("--samples", type=int, default=50)
    parser.add_argument("--changes", type=int, default=20)
    parser.add_argument("--data-dir", type=Path, default=None, help="keep the data here")
    args = parser.parse_args()
    main(args.households, args.samples, args.changes, args.data_dir)


if __name__ == "__main__":
    cli()
