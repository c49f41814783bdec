"""The base of every event and the catalogue that maps a CloudEvents type to its model."""

from __future__ import annotations

from typing import Any, ClassVar
from uuid import UUID

from pydantic import BaseModel, ConfigDict

from sinergi_contracts import subjects

CE_TYPE_PREFIX = "id.go.bontang.sinergi"


class Event(BaseModel):
    """An immutable fact, named in the past tense, about one household.

    Subclasses set `service` (who publishes it), `name` (the subject token) and `version`.
    A breaking change to the payload is a new version, published beside the old one.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    service: ClassVar[str]
    name: ClassVar[str]
    version: ClassVar[int] = 1
    # Health details (UU PDP: specific personal data): the fields, dotted into nested
    # objects, that only health roles and the household's kelurahan may read.
    health_fields: ClassVar[tuple[str, ...]] = ()

    household_id: UUID

    @classmethod
    def ce_type(cls) -> str:
        return f"{CE_TYPE_PREFIX}.{cls.service}.{cls.name}.v{cls.version}"

    def subject(self) -> str:
        return subjects.household_subject(str(self.household_id), self.service, self.name)


EVENT_TYPES: dict[str, type[Event]] = {}


def register(cls: type[Event]) -> type[Event]:
    """Add an event class to the catalogue; the CloudEvents type must be unique."""
    ce_type = cls.ce_type()
    if ce_type in EVENT_TYPES:
        raise ValueError(f"duplicate event type {ce_type}")
    EVENT_TYPES[ce_type] = cls
    return cls


def event_class_for(ce_type: str) -> type[Event] | None:
    return EVENT_TYPES.get(ce_type)


def without_health(ce_type: str, data: dict[str, Any]) -> dict[str, Any]:
    """`data` of an event of `ce_type` with its health fields taken out (a copy if any)."""
    cls = EVENT_TYPES.get(ce_type)
    if cls is None or not cls.health_fields:
        return data
    kept = dict(data)
    for path in cls.health_fields:
        head, _, rest = path.partition(".")
        if not rest:
            kept.pop(head, None)
        elif isinstance(kept.get(head), dict):
            kept[head] = {k: v for k, v in kept[head].items() if k != rest}
    return kept
