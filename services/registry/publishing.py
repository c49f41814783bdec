"""How the registry's events leave: wrapped in their envelope, into the transaction's outbox."""

from __future__ import annotations

from sinergi_contracts import Envelope
from sinergi_contracts.household import RegistryEvent

from sinergi.outbox import Transaction

SOURCE = "/sinergi/registry"


def publish(tx: Transaction, *events: RegistryEvent) -> None:
    tx.publish(*(Envelope.wrap(event, source=SOURCE) for event in events))
