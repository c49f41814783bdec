"""The agency and programme directory, deadlines and the escalation ladder, read from data.

`data/directory.yaml` ships with the service; `SINERGI_DIRECTORY_FILE` names another file (the
city's own, or a test's with deadlines in seconds). Deadlines count working days in Bontang's
time zone (WITA, UTC+8): Saturday, Sunday and the listed holidays do not count.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Final, cast, get_args

import yaml
from sinergi_contracts.referral import EscalationRole

SHIPPED: Final = Path(__file__).parent / "data" / "directory.yaml"
WITA: Final = timezone(timedelta(hours=8), "WITA")
DAY: Final = timedelta(days=1)
LADDER_LENGTH: Final = 5


class DirectoryError(ValueError):
    """The directory file is not usable; the service refuses to start with it."""


@dataclass(frozen=True)
class Duration:
    working_days: float = 0.0
    seconds: float = 0.0

    def after(self, start: datetime, holidays: frozenset[date] = frozenset()) -> datetime:
        if self.seconds:
            return start + timedelta(seconds=self.seconds)
        return add_working_days(start, self.working_days, holidays)


@dataclass(frozen=True)
class Agency:
    code: str
    name: str
    sla: Mapping[str, Duration]
    # A health agency reads the health details of the households it serves (UU PDP).
    health: bool = False


@dataclass(frozen=True)
class Programme:
    code: str
    agency: str
    name: str
    funding: str
    eligibility: str


@dataclass(frozen=True)
class Directory:
    agencies: Mapping[str, Agency]
    programmes: Mapping[str, Programme]
    escalation_every: Duration
    ladder: tuple[EscalationRole, ...]
    hundred_days_start: date
    hundred_days: int
    hundred_days_kelurahan: tuple[str, ...]
    holidays: frozenset[date] = field(default_factory=frozenset)

    def deadline(self, agency: str, state: str, since: datetime) -> datetime | None:
        """When the step after `state` is due, or None when that state has no deadline.

        A referral *requested* must be *received*, one *received* must be *accepted* (or
        rejected), one *accepted* or *in-progress* must be *completed*.
        """
        step = {"requested": "received", "received": "accepted", "accepted": "completed"}.get(
            state, "completed" if state == "in-progress" else None
        )
        if step is None:
            return None
        duration = self.agencies[agency].sla.get(step)
        return duration.after(since, self.holidays) if duration else None

    def escalation_level(self, due_at: datetime, now: datetime) -> int:
        """0 before the deadline, then one more level per `escalation.every`, up to the top."""
        if now < due_at:
            return 0
        level, mark = 1, due_at
        while level < len(self.ladder):
            mark = self.escalation_every.after(mark, self.holidays)
            if now < mark:
                break
            level += 1
        return level


def add_working_days(start: datetime, days: float, holidays: frozenset[date]) -> datetime:
    """`start` plus `days` working days in WITA (a start on a day off counts from the next
    working day's midnight)."""

    def working(moment: datetime) -> bool:
        return moment.weekday() < 5 and moment.date() not in holidays

    moment = start.astimezone(WITA)
    while not working(moment):
        moment = (moment + DAY).replace(hour=0, minute=0, second=0, microsecond=0)
    whole = int(days)
    while whole:
        moment += DAY
        if working(moment):
            whole -= 1
    moment += (days - int(days)) * DAY
    while not working(moment):
        moment += DAY
    return moment.astimezone(start.tzinfo)


def _duration(raw: Any, where: str) -> Duration:
    if not isinstance(raw, dict) or not raw.keys() <= {"working_days", "seconds"} or not raw:
        raise DirectoryError(f"{where}: give working_days or seconds, e.g. {{working_days: 2}}")
    return Duration(float(raw.get("working_days", 0)), float(raw.get("seconds", 0)))


def _sla(raw: Any, where: str) -> dict[str, Duration]:
    steps = {"received", "accepted", "completed"}
    if not isinstance(raw, dict) or not raw.keys() <= steps:
        raise DirectoryError(f"{where}: deadlines are for {sorted(steps)}")
    return {step: _duration(value, f"{where}.{step}") for step, value in raw.items()}


def parse(raw: Mapping[str, Any]) -> Directory:
    defaults = _sla(raw.get("sla", {}), "sla")
    agencies = {}
    for code, entry in (raw.get("agencies") or {}).items():
        if not code or any(c in code for c in ". *>"):
            raise DirectoryError(f"agencies.{code}: a code is one NATS subject token")
        own = _sla(entry.get("sla", {}), f"agencies.{code}.sla")
        health = entry.get("health", False)
        if not isinstance(health, bool):
            raise DirectoryError(f"agencies.{code}.health: true or false")
        agencies[code] = Agency(code, str(entry["name"]), defaults | own, health)
    programmes = {}
    for code, entry in (raw.get("programmes") or {}).items():
        if entry.get("agency") not in agencies:
            raise DirectoryError(f"programmes.{code}: unknown agency {entry.get('agency')!r}")
        programmes[code] = Programme(
            code,
            entry["agency"],
            str(entry["name"]),
            str(entry["funding"]),
            str(entry.get("eligibility", "")),
        )
    escalation = raw.get("escalation", {})
    ladder = tuple(escalation.get("ladder", ()))
    roles = get_args(EscalationRole)
    if len(ladder) != LADDER_LENGTH or not set(ladder) <= set(roles):
        raise DirectoryError(f"escalation.ladder: five of {roles}, from the RT up")
    hundred = raw.get("hundred_days", {})
    return Directory(
        agencies=agencies,
        programmes=programmes,
        escalation_every=_duration(escalation.get("every"), "escalation.every"),
        ladder=cast(tuple[EscalationRole, ...], ladder),
        hundred_days_start=hundred.get("start", date(2026, 11, 2)),
        hundred_days=int(hundred.get("days", 100)),
        hundred_days_kelurahan=tuple(hundred.get("kelurahan", ())),
        holidays=frozenset(raw.get("holidays") or ()),
    )


@functools.cache
def load(path: Path | None = None) -> Directory:
    """The directory in `path` (default: the shipped one), read once per process."""
    try:
        raw = yaml.safe_load((path or SHIPPED).read_text(encoding="utf-8"))
        return parse(raw)
    except (OSError, KeyError, TypeError, yaml.YAMLError) as error:
        raise DirectoryError(f"direktori tidak terbaca (unreadable directory): {error}") from None
