"""The registry is where household events start; it consumes none yet."""

from __future__ import annotations

from sinergi.service import Runtime


def register(runtime: Runtime) -> None:
    """No subscriptions: the registry only publishes (through its outbox)."""
