"""The daily digest per kelurahan and per agency: what is new, what is overdue.

Each morning (`digest_hour`, WITA) every kelurahan and agency audience that had anything in
the last day, or has an overdue referral, gets one digest in its inbox, and each e-mail
subscription of that audience that asks for digests (event type DIGEST_TYPE, or all types)
one e-mail. The digest's id is "digest:<date>", so a second replica, or a second run the same
day, adds nothing (the inbox's and the deliveries' unique keys).
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Final

from sinergi_contracts.events import CE_TYPE_PREFIX
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.notifications import sending
from services.notifications.models import deliveries, inbox_items, referral_parties, subscriptions
from services.notifications.render import WITA
from sinergi.db import insert_ignoring_repeats
from sinergi.service import Runtime

log = logging.getLogger(__name__)

DIGEST_TYPE: Final = f"{CE_TYPE_PREFIX}.notifications.digest.v1"
OPEN: Final = ("requested", "received", "accepted", "in-progress", "on-hold")
_KINDS: Final = ("kelurahan:", "agency:")


@dataclass(frozen=True)
class Digest:
    audience: str
    day: date
    new: dict[str, int]  # title -> how many
    overdue: list[tuple[str, int]]  # (programme, escalation level)

    @property
    def title(self) -> str:
        new, late = sum(self.new.values()), len(self.overdue)
        return f"Ringkasan harian {self.day:%d-%m-%Y}: {new} baru, {late} terlambat"

    @property
    def body(self) -> str:
        lines = [f"Ringkasan untuk {self.audience} (daily digest)."]
        if self.new:
            lines.append("Baru dalam 24 jam terakhir (new):")
            lines += [f"- {title}: {count}" for title, count in sorted(self.new.items())]
        if self.overdue:
            lines.append("Rujukan terlambat (overdue referrals):")
            lines += [
                f"- {programme}: tingkat eskalasi {level}" for programme, level in self.overdue
            ]
        return "\n".join(lines)


async def compose(conn: AsyncConnection, day: date, now: datetime) -> list[Digest]:
    """The digests of `day`: new inbox items of the last 24 h and open overdue referrals."""
    since = now - timedelta(days=1)
    t = inbox_items.c
    new: dict[str, Counter[str]] = {}
    rows = await conn.execute(
        select(t.recipient, t.title, func.count())
        .where(t.created_at >= since, t.event_type != DIGEST_TYPE)
        .group_by(t.recipient, t.title)
    )
    for recipient, title, count in rows:
        if recipient.startswith(_KINDS):
            new.setdefault(recipient, Counter())[title] += int(count)
    overdue: dict[str, list[tuple[str, int]]] = {}
    p = referral_parties.c
    rows = await conn.execute(
        select(p.agency, p.kelurahan_code, p.programme, p.overdue_level)
        .where(p.overdue_level.is_not(None), p.status.in_(OPEN))
        .order_by(p.overdue_level.desc(), p.programme)
    )
    for agency, kelurahan_code, programme, level in rows:
        for audience in (f"agency:{agency}", f"kelurahan:{kelurahan_code}"):
            overdue.setdefault(audience, []).append((programme, int(level)))
    return [
        Digest(audience, day, dict(new.get(audience, {})), overdue.get(audience, []))
        for audience in sorted(set(new) | set(overdue))
    ]


async def send_digests(engine: AsyncEngine, day: date, now: datetime) -> int:
    """Write `day`'s digests (inbox and e-mail); returns the digests new this time."""
    event_id = f"digest:{day.isoformat()}"
    written = 0
    async with engine.begin() as conn:
        digests = await compose(conn, day, now)
        s = subscriptions.c
        mailing = (
            await conn.execute(
                select(subscriptions).where(
                    s.channel == "email",
                    s.state != "deleted",
                    s.audience.in_([d.audience for d in digests]),
                )
            )
        ).all()
        for digest in digests:
            result = await conn.execute(
                insert_ignoring_repeats(conn, inbox_items).values(
                    recipient=digest.audience,
                    event_id=event_id,
                    event_type=DIGEST_TYPE,
                    household_id="",
                    title=digest.title[:300],
                    body=digest.body,
                    created_at=now,
                    read_at=None,
                )
            )
            written += result.rowcount or 0
            for sub in mailing:
                if sub.audience != digest.audience:
                    continue
                if sub.event_types and DIGEST_TYPE not in sub.event_types:
                    continue
                await conn.execute(
                    insert_ignoring_repeats(conn, deliveries).values(
                        subscription_id=sub.id, event_id=event_id, event_type=DIGEST_TYPE,
                        household_id="", channel="email", owner=sub.owner, target=sub.target,
                        subject=f"[Sinergi] {digest.title}"[:300], payload=digest.body,
                        state="pending", attempts=0, created_at=now, next_attempt_at=now,
                    )
                )  # fmt: skip
    sending.wake(engine)
    return written


def next_run(now: datetime, hour: int) -> datetime:
    """The next `hour`:00 WITA after `now`."""
    local = now.astimezone(WITA)
    run = local.replace(hour=hour, minute=0, second=0, microsecond=0)
    if run <= local:
        run += timedelta(days=1)
    return run.astimezone(UTC)


async def watch(runtime: Runtime) -> None:
    """Send the digest every day at `digest_hour` WITA, until cancelled; a failed run is
    tried again each minute (nothing is sent twice: see the module's note)."""
    while True:
        now = datetime.now(UTC)
        run = next_run(now, runtime.settings.digest_hour)
        await asyncio.sleep((run - now).total_seconds())
        while True:
            try:
                count = await send_digests(runtime.engine, run.astimezone(WITA).date(), run)
            except Exception:
                log.exception("ringkasan harian gagal (daily digest failed)")
                await asyncio.sleep(60)
                continue
            log.info("ringkasan harian terkirim (daily digest sent)", extra={"digests": count})
            break
