"""How the registry's events leave: wrapped in their envelope, into the transaction's outbox."""

from __future__ import annotations

from sinergi_contracts import Envelope
from sinergi_contracts.household import RegistryEvent

from sinergi.auth import CALLER
from sinergi.outbox import Transaction

SOURCE = "/sinergi/registry"


def publish(tx: Transaction, *events: RegistryEvent) -> None:
    tx.publish(*(Envelope.wrap(signed(event), source=SOURCE) for event in events))


def signed(event: RegistryEvent) -> RegistryEvent:
    """The event with who recorded it, from the request's verified token (as "<role>:<sub>"),
    unless it names someone already."""
    caller = CALLER.get()
    if event.recorded_by is not None or caller is None:
        return event
    return event.model_copy(update={"recorded_by": f"{caller.role.value}:{caller.subject}"})
