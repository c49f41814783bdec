"""The delivery log: each attempt recorded, and its delivery moved on (delivered, due again
after its retry delay, or dead), in as few transactions as the attempts allow.

An outcome is written only while the row still holds the claim's lease, so a late writer
cannot overwrite a newer attempt's result. `disable_after_dead` dead deliveries in a row
disable the endpoint, with a notice in its owner's inbox.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from sinergi_contracts.events import CE_TYPE_PREFIX
from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.notifications.inbox import INBOX_HUB
from services.notifications.models import deliveries, delivery_attempts, inbox_items, subscriptions
from services.notifications.webhooks import Outcome
from sinergi import live
from sinergi.config import Settings
from sinergi.db import insert_many

log = logging.getLogger(__name__)

DISABLED_TYPE: Final = f"{CE_TYPE_PREFIX}.notifications.endpoint_disabled.v1"


def retry_delay(attempts: int, schedule: Sequence[float]) -> float | None:
    """Seconds before the next try after `attempts` failed ones; None: the delivery is dead."""
    if attempts < 1 or attempts > len(schedule):
        return None
    return schedule[attempts - 1]


@dataclass(frozen=True)
class Claim:
    """A delivery this sender holds until `lease`, with what sending it needs."""

    id: int
    subscription_id: str
    event_id: str
    channel: str
    target: str
    subject: str | None
    payload: str
    attempts: int
    secret: str | None
    lease: datetime


@dataclass(frozen=True)
class Attempted:
    """One finished attempt, to be logged and its delivery moved on."""

    claim: Claim
    outcome: Outcome
    started_at: datetime
    latency_ms: float


async def record(engine: AsyncEngine, settings: Settings, done: Sequence[Attempted]) -> None:
    """Log the attempts and move their deliveries on, in one transaction."""
    a = delivery_attempts.c
    now = datetime.now(UTC)
    notified: list[str] = []
    async with engine.begin() as conn:
        # Numbered after every earlier attempt, replays included (the log is never reset).
        ids = [item.claim.id for item in done]
        found = await conn.execute(
            select(a.delivery_id, func.max(a.attempt))
            .where(a.delivery_id.in_(ids))
            .group_by(a.delivery_id)
        )
        before = {delivery_id: int(last) for delivery_id, last in found}
        await insert_many(
            conn,
            delivery_attempts,
            [
                {
                    "delivery_id": item.claim.id,
                    "attempt": before.get(item.claim.id, 0) + 1,
                    "started_at": item.started_at,
                    "latency_ms": item.latency_ms,
                    "outcome": item.outcome.result,
                    "status_code": item.outcome.status_code,
                    "error": item.outcome.error,
                }
                for item in done
            ],
        )
        delivered = [item.claim for item in done if item.outcome.ok]
        if delivered:
            await _delivered(conn, delivered, now)
        for item in done:
            if not item.outcome.ok:
                notified += await _failed(conn, settings, item, now)
    if notified:
        live.announce(engine, INBOX_HUB, notified)


async def _delivered(conn: AsyncConnection, claims: Sequence[Claim], now: datetime) -> None:
    """Accepted: one statement for them all (most attempts are), and their endpoints' count
    of consecutive dead deliveries starts again."""
    d, s = deliveries.c, subscriptions.c
    moved = await conn.execute(
        update(deliveries)
        .where(d.id == bindparam("b_id"), d.lease_until == bindparam("b_lease"))
        .values(
            state="delivered", delivered_at=now, last_error=None, lease_until=None,
            attempts=bindparam("b_attempts"),
        ),
        [{"b_id": c.id, "b_lease": c.lease, "b_attempts": c.attempts + 1} for c in claims],
    )  # fmt: skip
    if conn.dialect.supports_sane_multi_rowcount and moved.rowcount != len(claims):
        # A lease ran out and another sender took the row: its result stands.
        log.warning(
            "hasil pengiriman terlambat, diabaikan (late delivery outcomes ignored)",
            extra={"late": len(claims) - moved.rowcount},
        )
    await conn.execute(
        update(subscriptions)
        .where(s.id.in_({c.subscription_id for c in claims}), s.failures != 0)
        .values(failures=0)
    )


async def _failed(
    conn: AsyncConnection, settings: Settings, item: Attempted, now: datetime
) -> list[str]:
    """Not accepted: due again after its retry delay, or dead. Returns inbox recipients."""
    d = deliveries.c
    claim = item.claim
    attempts = claim.attempts + 1
    delay = retry_delay(attempts, settings.delivery_retry_seconds)
    values: dict[str, Any] = {
        "attempts": attempts,
        "lease_until": None,
        "last_error": item.outcome.error,
    }
    if delay is None:
        values |= {"state": "dead", "next_attempt_at": None}
    else:
        values["next_attempt_at"] = now + timedelta(seconds=delay)
    moved = await conn.execute(
        update(deliveries).where(d.id == claim.id, d.lease_until == claim.lease).values(**values)
    )
    if moved.rowcount != 1:
        log.warning(
            "hasil pengiriman terlambat, diabaikan (late delivery outcome ignored)",
            extra={"delivery_id": claim.id},
        )
        return []
    if delay is None:
        return await _count_dead(conn, settings, claim.subscription_id, now)
    return []


async def _count_dead(
    conn: AsyncConnection, settings: Settings, subscription_id: str, now: datetime
) -> list[str]:
    """One more consecutive dead delivery; at the limit the endpoint is disabled and its
    owner told. Returns the inbox recipients written to."""
    s = subscriptions.c
    await conn.execute(
        update(subscriptions)
        .where(s.id == subscription_id)
        .values(failures=subscriptions.c.failures + 1)
    )
    limit = settings.disable_after_dead
    at = f"{now:%Y-%m-%d %H:%M} UTC"
    reason = (
        f"{limit} pengiriman berturut-turut gagal semua percobaan; dinonaktifkan {at} "
        f"({limit} deliveries in a row failed every attempt; disabled {at})"
    )
    disabled = await conn.execute(
        update(subscriptions)
        .where(s.id == subscription_id, s.state == "active", s.failures >= limit)
        .values(state="disabled", disabled_reason=reason)
    )
    if disabled.rowcount != 1:
        return []
    sub = (await conn.execute(select(subscriptions).where(s.id == subscription_id))).one()
    title, body = disabled_notice(sub.channel, sub.target or "", subscription_id, limit)
    await conn.execute(
        insert(inbox_items).values(
            recipient=sub.owner,
            # Unique per disabling: enabled and disabled again is a new notice.
            event_id=f"disabled:{subscription_id}:{int(now.timestamp())}",
            event_type=DISABLED_TYPE,
            household_id="",
            title=title,
            body=body,
            created_at=now,
            read_at=None,
        )
    )
    return [sub.owner]


def disabled_notice(channel: str, target: str, subscription_id: str, limit: int) -> tuple[str, str]:
    """The owner's inbox notice: Indonesian first, English beside."""
    what = "Webhook" if channel == "webhook" else "E-mail"
    title = f"{what} dinonaktifkan (endpoint disabled): {target}"[:300]
    body = (
        f"{limit} pengiriman berturut-turut ke {target} gagal setelah semua percobaan ulang, "
        f"jadi langganan {subscription_id} dinonaktifkan. Pengiriman baru disimpan dan menunggu. "
        f"Perbaiki penerimanya, lalu aktifkan lagi dengan POST /subscriptions/{subscription_id}/"
        f"enable; yang gagal dapat dikirim ulang dari GET /subscriptions/{subscription_id}/"
        "dead-letters.\n\n"
        f"{limit} deliveries in a row to {target} failed after every retry, so subscription "
        f"{subscription_id} was disabled. New deliveries are kept and wait. Fix the receiver, "
        f"then enable it again with POST /subscriptions/{subscription_id}/enable; the failed "
        f"ones can be replayed from GET /subscriptions/{subscription_id}/dead-letters."
    )
    return title, body
