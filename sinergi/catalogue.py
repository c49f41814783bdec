"""The services of this repository, by name (for the command line and the docs generator)."""

from __future__ import annotations

from importlib import import_module

from sinergi.service import ServiceDefinition

SERVICE_NAMES = ("registry", "referrals", "notifications")
CONSOLE = "console"  # the web console: pages over the services' APIs, not an event service


def definition(name: str) -> ServiceDefinition:
    if name not in SERVICE_NAMES:
        raise ValueError(f"layanan tidak dikenal {name!r} (unknown service); pilih {SERVICE_NAMES}")
    module = import_module(f"services.{name}.app")
    found: ServiceDefinition = module.DEFINITION
    return found
