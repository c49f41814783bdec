"""The fan-out: each event to the inboxes, subscriptions and agency subjects that hear of it.

One batch, one transaction (with the consumer's processed-event rows): places and referral
parties are remembered, inbox items written, webhook and e-mail deliveries queued for the
sender, and each agency's copy put in the outbox for its NATS subject. Nothing here waits on a
receiver: sending happens later (sending.py), so a slow endpoint never holds up the stream.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sinergi_contracts import (
    Envelope,
    Event,
    HouseholdRegistered,
    ReferralOverdue,
    ReferralRequested,
    ReferralStatusChanged,
    subjects,
    without_health,
)
from sinergi_contracts.referral import ReferralEvent
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from services.notifications import sending
from services.notifications.domain import Party, Place, agency_of, audiences, hears_health
from services.notifications.inbox import INBOX_HUB
from services.notifications.models import (
    deliveries,
    inbox_items,
    places,
    referral_parties,
    subscriptions,
    tables,
)
from services.notifications.render import Language, Notice, render
from services.referrals import directory
from sinergi import live
from sinergi.config import Settings
from sinergi.consumer import Apply, Delivered, after_commit
from sinergi.db import chunks, insert_many
from sinergi.outbox import Transaction


@dataclass
class _Batch:
    """What one batch writes, collected before the inserts."""

    now: datetime
    inbox: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    deliveries: list[dict[str, Any]] = field(default_factory=list)

    def to_inbox(self, recipient: str, envelope: Envelope, title: str, body: str) -> None:
        key = (recipient, envelope.id)
        self.inbox.setdefault(
            key,
            {
                "recipient": recipient,
                "event_id": envelope.id,
                "event_type": envelope.attributes.type,
                "household_id": str(envelope.event.household_id),
                "title": title,
                "body": body,
                "created_at": envelope.attributes.time,
                "read_at": None,
            },
        )


def configure(settings: Settings) -> Apply:
    """The fan-out, knowing from the directory which agencies read health details."""
    agencies = directory.load(settings.directory_file).agencies
    health_agencies = frozenset(code for code, agency in agencies.items() if agency.health)

    async def apply(conn: AsyncConnection, batch: Sequence[Delivered]) -> None:
        await fan_out(conn, batch, health_agencies)

    return apply


async def fan_out(
    conn: AsyncConnection, batch: Sequence[Delivered], health_agencies: frozenset[str]
) -> None:
    events = [d.envelope for d in batch]
    await _remember(conn, [e.event for e in events])
    known_places = await _places(conn, {str(e.event.household_id) for e in events})
    parties = await _parties(
        conn, {str(e.event.referral_id) for e in events if isinstance(e.event, ReferralEvent)}
    )
    # Each event with its household's place, its referral's parties and who hears of it.
    routed = []
    for envelope in events:
        event = envelope.event
        place = known_places.get(str(event.household_id))
        party = _party_of(event, parties)
        routed.append((envelope, place, party, audiences(event, place, party)))
    wanted = await _subscriptions(conn, {a for *_, found in routed for a in found})
    out = _Batch(now=datetime.now(UTC))
    tx = Transaction(conn, tables.outbox)
    for envelope, place, party, found in routed:
        event = envelope.event
        notices = _Notices(event, place, party)
        data = _Data(envelope)
        for audience in found:
            notice = notices.get("id")
            out.to_inbox(audience, envelope, notice.title, notice.body)
            shown = data.full if hears_health(audience, health_agencies) else data.redacted
            if (agency := agency_of(audience)) is not None:
                tx.forward(
                    envelope,
                    subject=subjects.agency_subject(agency, event.service, event.name),
                    message_id=f"{agency}:{envelope.id}",
                    data=shown(),
                )
            for sub in wanted.get(audience, ()):
                if sub.hears(envelope.attributes.type):
                    notice = notices.get(sub.language, with_email=sub.channel == "email")
                    # A subscription sees health details only when its owner is the audience
                    # itself: a coordinator's webhook on a kelurahan gets the event without.
                    own = shown if sub.owner == audience else data.redacted
                    _deliver(out, sub, envelope, notice, own)
    await insert_many(conn, inbox_items, list(out.inbox.values()))
    await insert_many(conn, deliveries, out.deliveries)
    await tx.flush()
    engine = conn.engine
    recipients = {recipient for recipient, _ in out.inbox}
    after_commit(lambda: live.announce(engine, INBOX_HUB, recipients))
    if out.deliveries:
        after_commit(lambda: sending.wake(engine))


class _Data:
    """An event's data as each audience is sent it: whole, or without its health fields;
    each serialised once, when first asked for."""

    def __init__(self, envelope: Envelope) -> None:
        self._envelope = envelope
        self._full: bytes | None = None
        self._redacted: bytes | None = None

    def full(self) -> bytes:
        if self._full is None:
            self._full = self._envelope.data()
        return self._full

    def redacted(self) -> bytes:
        if self._redacted is None:
            whole = self._envelope.event.model_dump(mode="json")
            kept = without_health(self._envelope.attributes.type, whole)
            self._redacted = self.full() if kept is whole else json.dumps(kept).encode()
        return self._redacted


class _Notices:
    """An event's rendered notice per language (and with e-mail or not), rendered once."""

    def __init__(self, event: Event, place: Place | None, party: Party | None) -> None:
        self._args = (event, place, party)
        self._done: dict[tuple[Language, bool], Notice] = {}

    def get(self, language: Language, *, with_email: bool = False) -> Notice:
        key = (language, with_email)
        if key not in self._done:
            event, place, party = self._args
            self._done[key] = render(
                event, place=place, party=party, language=language, with_email=with_email
            )
        return self._done[key]


@dataclass(frozen=True)
class _Subscription:
    id: str
    owner: str
    channel: str
    audience: str
    event_types: tuple[str, ...]
    target: str | None
    language: Language

    def hears(self, event_type: str) -> bool:
        return not self.event_types or event_type in self.event_types


def _deliver(
    out: _Batch,
    sub: _Subscription,
    envelope: Envelope,
    notice: Notice,
    data: Callable[[], bytes],
) -> None:
    if sub.channel == "inbox":
        out.to_inbox(sub.owner, envelope, notice.title, notice.body)
        return
    row = {
        "subscription_id": sub.id,
        "event_id": envelope.id,
        "event_type": envelope.attributes.type,
        "household_id": str(envelope.event.household_id),
        "channel": sub.channel,
        "owner": sub.owner,
        "target": sub.target or "",
        "state": "pending",
        "attempts": 0,
        "created_at": out.now,
        "next_attempt_at": out.now,
        "lease_until": None,
        "delivered_at": None,
        "last_error": None,
    }
    if sub.channel == "webhook":
        row |= {"subject": None, "payload": webhook_body(envelope, notice, data())}
    else:
        row |= {"subject": notice.email_subject, "payload": notice.email_body}
    out.deliveries.append(row)


def webhook_body(envelope: Envelope, notice: Notice, data: bytes | None = None) -> str:
    """The Standard Webhooks payload: type, timestamp, data (the event, or `data` when it is
    shown without some fields), and the notice."""
    return json.dumps(
        {
            "type": envelope.attributes.type,
            "timestamp": envelope.attributes.time.isoformat().replace("+00:00", "Z"),
            "data": json.loads(envelope.data() if data is None else data),
            "notice": {"title": notice.title, "body": notice.body},
        },
        ensure_ascii=False,
    )


def _party_of(event: Event, parties: dict[str, Party]) -> Party | None:
    return parties.get(str(event.referral_id)) if isinstance(event, ReferralEvent) else None


async def _remember(conn: AsyncConnection, events: Iterable[Event]) -> None:
    """Places from registrations and parties from requests, once each (a redelivered batch
    may bring them again)."""
    new_places = {
        str(e.household_id): {
            "household_id": str(e.household_id),
            "kelurahan_code": e.kelurahan_code,
            "rw": e.rw,
            "rt": e.rt,
        }
        for e in events
        if isinstance(e, HouseholdRegistered)
    }
    new_parties = {
        str(e.referral_id): {
            "referral_id": str(e.referral_id),
            "household_id": str(e.household_id),
            "agency": e.agency,
            "referrer": e.actor,
            "kelurahan_code": e.kelurahan_code,
            "programme": e.programme,
            "status": "requested",
            "overdue_level": None,
            "due_at": e.due_at,
        }
        for e in events
        if isinstance(e, ReferralRequested)
    }
    for table, key, rows in (
        (places, places.c.household_id, new_places),
        (referral_parties, referral_parties.c.referral_id, new_parties),
    ):
        for chunk in chunks(list(rows)):
            held = set(await conn.scalars(select(key).where(key.in_(chunk))))
            await insert_many(conn, table, [rows[k] for k in chunk if k not in held])
    await _follow_referrals(conn, events)


async def _follow_referrals(conn: AsyncConnection, events: Iterable[Event]) -> None:
    """Each referral's state and escalation level, in stream order (for the digest)."""
    t = referral_parties.c
    for e in events:
        if isinstance(e, ReferralStatusChanged):
            values: dict[str, Any] = {"status": e.status, "due_at": e.due_at, "overdue_level": None}
        elif isinstance(e, ReferralOverdue):
            values = {"overdue_level": e.level}
        else:
            continue
        await conn.execute(
            update(referral_parties).where(t.referral_id == str(e.referral_id)).values(**values)
        )


async def _places(conn: AsyncConnection, household_ids: set[str]) -> dict[str, Place]:
    found: dict[str, Place] = {}
    for chunk in chunks(sorted(household_ids)):
        rows = await conn.execute(select(places).where(places.c.household_id.in_(chunk)))
        for row in rows:
            found[row.household_id] = Place(row.kelurahan_code, row.rw, row.rt)
    return found


async def _parties(conn: AsyncConnection, referral_ids: set[str]) -> dict[str, Party]:
    found: dict[str, Party] = {}
    t = referral_parties
    for chunk in chunks(sorted(referral_ids)):
        for row in await conn.execute(select(t).where(t.c.referral_id.in_(chunk))):
            found[row.referral_id] = Party(
                row.agency, row.referrer, row.kelurahan_code, row.programme
            )
    return found


async def _subscriptions(
    conn: AsyncConnection, audiences_found: set[str]
) -> dict[str, list[_Subscription]]:
    """Subscriptions of these audiences, by audience. A disabled endpoint's deliveries are
    queued too: they wait, and leave when it is enabled again."""
    found: dict[str, list[_Subscription]] = {}
    t = subscriptions
    for chunk in chunks(sorted(audiences_found)):
        rows = await conn.execute(select(t).where(t.c.audience.in_(chunk), t.c.state != "deleted"))
        for row in rows:
            found.setdefault(row.audience, []).append(
                _Subscription(
                    id=row.id,
                    owner=row.owner,
                    channel=row.channel,
                    audience=row.audience,
                    event_types=tuple(row.event_types or ()),
                    target=row.target,
                    language=row.language,
                )
            )
    return found
