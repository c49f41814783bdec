"""Sending deliveries (webhooks, e-mail): the sender wakes as soon as the fan-out commits.

The fan-out only stores `deliveries` rows; this worker sends them, so no receiver ever holds
up the event stream. Each endpoint (subscription) has a lane of at most
`delivery_lane_concurrency` attempts in flight. The dispatcher claims due deliveries only
for lanes with room and never waits on a lane, so a slow or dead endpoint fills its own lane
and nothing else.

A claim moves `lease_until` with a compare-and-set UPDATE: of two replicas looking at the
same due row one claims it, the other gets no row. The lease outlives the attempt's timeout;
if a replica dies mid-attempt the row is due again when the lease ends (at least once). The
lease value is also the claim's token: an outcome is written only while the row still holds
it, so a late writer cannot overwrite a newer attempt's result.

Every attempt is logged in `delivery_attempts`. A failure waits `delivery_retry_seconds[n]`
before retry n; once they are used up the delivery is dead, counts as one more consecutive
dead delivery of its subscription, and `disable_after_dead` of them disable the endpoint with
a notice in its owner's inbox. A disabled endpoint's deliveries stay pending until it is
enabled again (deliveries_api.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

import httpx
from sinergi_contracts.events import CE_TYPE_PREFIX
from sqlalchemy import and_, exists, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.notifications import email, webhooks
from services.notifications.inbox import INBOX_HUB
from services.notifications.models import deliveries, delivery_attempts, inbox_items, subscriptions
from services.notifications.webhooks import Outcome
from sinergi import live
from sinergi.config import Settings

if TYPE_CHECKING:
    from sinergi.service import Runtime

log = logging.getLogger(__name__)

# One wake-up per process and database: the fan-out sets it after its batch committed, so a
# new delivery leaves at once instead of at the next poll.
_wakeups: weakref.WeakKeyDictionary[AsyncEngine, asyncio.Event] = weakref.WeakKeyDictionary()

# How long a claim outlives the attempt's own timeout: room for writing the outcome.
LEASE_MARGIN_SECONDS = 30.0
# Due rows looked at per pass; a full page means look again at once.
CLAIM_PAGE = 500
DISABLED_TYPE: Final = f"{CE_TYPE_PREFIX}.notifications.endpoint_disabled.v1"


def wakeup(engine: AsyncEngine) -> asyncio.Event:
    """The event the sender of `engine`'s database waits on between polls."""
    return _wakeups.setdefault(engine, asyncio.Event())


def wake(engine: AsyncEngine) -> None:
    """New deliveries are stored (called after the fan-out's batch committed)."""
    event = _wakeups.get(engine)
    if event is not None:
        event.set()


async def send_deliveries(runtime: Runtime) -> None:
    """The service's worker: sends due deliveries until the service stops."""
    await Sender(runtime.engine, runtime.settings).run()


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


_d = deliveries.c
# What an attempt needs: the delivery and its endpoint's signing secret.
_CLAIMED = (
    *(_d.id, _d.subscription_id, _d.event_id, _d.channel, _d.target, _d.subject),
    *(_d.payload, _d.attempts, subscriptions.c.secret),
)


def _now() -> datetime:
    return datetime.now(UTC)


class Sender:
    """The dispatcher and its lanes, for one process and database."""

    def __init__(self, engine: AsyncEngine, settings: Settings) -> None:
        self.engine = engine
        self.settings = settings
        self.wakeup = wakeup(engine)
        self.in_flight: dict[str, int] = {}  # subscription id -> attempts running
        self.tasks: set[asyncio.Task[None]] = set()
        self.http: httpx.AsyncClient | None = None
        self._warned_no_smtp = False
        self.attempted = 0  # attempts this sender started, for its replicas to be told apart

    async def run(self) -> None:
        self.http = webhooks.client()
        poll = self.settings.delivery_poll_seconds
        try:
            while True:
                # Cleared before looking: a wake during the look is not lost.
                self.wakeup.clear()
                try:
                    seen, started = await self.dispatch()
                    if seen >= CLAIM_PAGE and started:
                        continue  # a full page: more may be due
                except Exception:
                    log.exception("pengiriman gagal mengambil tugas (sender could not claim)")
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(poll):
                        await self.wakeup.wait()
        finally:
            await self.stop()

    async def stop(self) -> None:
        # Attempts cut short keep their lease: they are sent again once it ends.
        for task in self.tasks:
            task.cancel()
        if self.tasks:
            await asyncio.wait(self.tasks, timeout=5)
        if self.http is not None:
            await self.http.aclose()

    # --- the dispatcher --------------------------------------------------------------------

    async def dispatch(self) -> tuple[int, int]:
        """Claim due deliveries for the lanes with room and start them: (rows seen, started)."""
        now = _now()
        rows = await self._due(now)
        room = {
            sub: self.settings.delivery_lane_concurrency - self.in_flight.get(sub, 0)
            for sub in {r.subscription_id for r in rows}
        }
        wanted: list[Any] = []
        for row in rows:
            if room[row.subscription_id] > 0:
                room[row.subscription_id] -= 1
                wanted.append(row)
        claims = await self._claim(wanted, now)
        for claim in claims:
            self._start(claim)
        if not self._warned_no_smtp and self.settings.smtp_host is None:
            await self._warn_if_email_waits()
        return len(rows), len(claims)

    async def _due(self, now: datetime) -> list[Any]:
        """Due pending rows of enabled endpoints, at most a lane's worth per endpoint.

        A window per subscription keeps one endpoint's backlog from filling the page and
        starving the others; full lanes are left out altogether.
        """
        d, s = deliveries.c, subscriptions.c
        conditions = [
            d.state == "pending",
            d.next_attempt_at <= now,
            or_(d.lease_until.is_(None), d.lease_until < now),
            s.state != "disabled",
        ]
        if self.settings.smtp_host is None:
            conditions.append(d.channel != "email")  # e-mail waits for an SMTP server
        full = [sub for sub, n in self.in_flight.items() if n >= self._lane_size]
        if full:
            conditions.append(d.subscription_id.not_in(full))
        place = (
            func.row_number()
            .over(partition_by=d.subscription_id, order_by=(d.next_attempt_at, d.id))
            .label("place")
        )
        ranked = (
            select(d.id, d.subscription_id, d.next_attempt_at, place)
            .join(subscriptions, s.id == d.subscription_id)
            .where(and_(*conditions))
            .subquery()
        )
        query = (
            select(ranked.c.id, ranked.c.subscription_id)
            .where(ranked.c.place <= self._lane_size)
            .order_by(ranked.c.next_attempt_at, ranked.c.id)
            .limit(CLAIM_PAGE)
        )
        async with self.engine.connect() as conn:
            return list(await conn.execute(query))

    @property
    def _lane_size(self) -> int:
        return self.settings.delivery_lane_concurrency

    async def _claim(self, rows: Sequence[Any], now: datetime) -> list[Claim]:
        """Compare-and-set on the lease: only rows still free and due are taken."""
        if not rows:
            return []
        d, s = deliveries.c, subscriptions.c
        lease = now + timedelta(
            seconds=self.settings.delivery_timeout_seconds + LEASE_MARGIN_SECONDS
        )
        ids = [r.id for r in rows]
        async with self.engine.begin() as conn:
            taken = [
                i
                for (i,) in await conn.execute(
                    update(deliveries)
                    .where(
                        d.id.in_(ids),
                        d.state == "pending",
                        d.next_attempt_at <= now,
                        or_(d.lease_until.is_(None), d.lease_until < now),
                    )
                    .values(lease_until=lease)
                    .returning(d.id)
                )
            ]
            if not taken:
                return []
            found = await conn.execute(
                select(*_CLAIMED)
                .join(subscriptions, s.id == d.subscription_id)
                .where(d.id.in_(taken))
            )
            return [Claim(**row._mapping, lease=lease) for row in found]

    def _start(self, claim: Claim) -> None:
        lane = claim.subscription_id
        self.attempted += 1
        self.in_flight[lane] = self.in_flight.get(lane, 0) + 1
        task = asyncio.create_task(self._attempt(claim), name=f"delivery-{claim.id}")
        self.tasks.add(task)
        task.add_done_callback(lambda done: self._finished(done, lane))

    def _finished(self, task: asyncio.Task[None], lane: str) -> None:
        self.tasks.discard(task)
        was_full = self.in_flight[lane] >= self._lane_size
        self.in_flight[lane] -= 1
        if not self.in_flight[lane]:
            del self.in_flight[lane]
        if was_full:
            self.wakeup.set()  # its backlog may be waiting for this slot
        if not task.cancelled() and task.exception() is not None:
            log.error(
                "percobaan pengiriman gagal (delivery attempt failed)",
                exc_info=task.exception(),
            )

    async def _warn_if_email_waits(self) -> None:
        d = deliveries.c
        async with self.engine.connect() as conn:
            waiting = await conn.scalar(
                select(exists().where(d.channel == "email", d.state == "pending"))
            )
        if waiting:
            self._warned_no_smtp = True
            log.warning("e-mail menunggu: SMTP belum diatur (e-mail waits: set SINERGI_SMTP_HOST)")

    # --- one attempt -----------------------------------------------------------------------

    async def _attempt(self, claim: Claim) -> None:
        started_at = _now()
        started = time.perf_counter()
        outcome = await self._send(claim)
        latency_ms = round((time.perf_counter() - started) * 1000, 3)
        await record(
            self.engine, self.settings, claim, outcome, started_at=started_at, latency_ms=latency_ms
        )
        if not outcome.ok:
            delay = retry_delay(claim.attempts + 1, self.settings.delivery_retry_seconds)
            if delay is not None and delay < self.settings.delivery_poll_seconds:
                # Sooner than the next poll: look again when it is due.
                asyncio.get_running_loop().call_later(delay, self.wakeup.set)

    async def _send(self, claim: Claim) -> Outcome:
        if claim.channel == "webhook":
            assert self.http is not None
            return await webhooks.post(
                self.http,
                url=claim.target,
                secret=claim.secret,
                message_id=claim.event_id,
                payload=claim.payload,
                timeout=self.settings.delivery_timeout_seconds,
            )
        if claim.channel == "email":
            mail = email.message(
                sender=self.settings.smtp_sender,
                to=claim.target,
                subject=claim.subject,
                body=claim.payload,
                delivery_id=claim.id,
                event_id=claim.event_id,
            )
            return await email.send(self.settings, mail)
        return Outcome("error", None, f"saluran tidak dikenal (unknown channel): {claim.channel}")


async def record(
    engine: AsyncEngine,
    settings: Settings,
    claim: Claim,
    outcome: Outcome,
    *,
    started_at: datetime,
    latency_ms: float,
) -> None:
    """Log the attempt and move the delivery on, in one transaction."""
    d, a = deliveries.c, delivery_attempts.c
    now = _now()
    notified: list[str] = []
    async with engine.begin() as conn:
        # Numbered after every earlier attempt, replays included (the log is never reset).
        number = await conn.scalar(
            select(func.coalesce(func.max(a.attempt), 0) + 1).where(a.delivery_id == claim.id)
        )
        await conn.execute(
            insert(delivery_attempts).values(
                delivery_id=claim.id,
                attempt=number,
                started_at=started_at,
                latency_ms=latency_ms,
                outcome=outcome.result,
                status_code=outcome.status_code,
                error=outcome.error,
            )
        )
        attempts = claim.attempts + 1
        values: dict[str, Any] = {"attempts": attempts, "lease_until": None}
        if outcome.ok:
            values |= {"state": "delivered", "delivered_at": now, "last_error": None}
        else:
            delay = retry_delay(attempts, settings.delivery_retry_seconds)
            values["last_error"] = outcome.error
            if delay is None:
                values |= {"state": "dead", "next_attempt_at": None}
            else:
                values["next_attempt_at"] = now + timedelta(seconds=delay)
        moved = await conn.execute(
            update(deliveries)
            .where(d.id == claim.id, d.lease_until == claim.lease)
            .values(**values)
        )
        if moved.rowcount != 1:
            # The lease ran out and another sender took the row: its result stands.
            log.warning(
                "hasil pengiriman terlambat, diabaikan (late delivery outcome ignored)",
                extra={"delivery_id": claim.id, "attempt": number},
            )
            return
        if outcome.ok:
            await _reset_failures(conn, claim.subscription_id)
        elif values.get("state") == "dead":
            notified = await _count_dead(conn, settings, claim.subscription_id, now)
    if notified:
        live.announce(engine, INBOX_HUB, notified)


async def _reset_failures(conn: AsyncConnection, subscription_id: str) -> None:
    s = subscriptions.c
    await conn.execute(
        update(subscriptions).where(s.id == subscription_id, s.failures != 0).values(failures=0)
    )


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
