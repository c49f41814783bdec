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

Every attempt is logged in `delivery_attempts` (delivery_log.py). A failure waits
`delivery_retry_seconds[n]` before retry n; once they are used up the delivery is dead, counts
as one more consecutive dead delivery of its subscription, and `disable_after_dead` of them
disable the endpoint with a notice in its owner's inbox. A disabled endpoint's deliveries stay
pending until it is enabled again (deliveries_api.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
import weakref
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import httpx
from sqlalchemy import (
    CompoundSelect,
    Integer,
    String,
    bindparam,
    exists,
    or_,
    select,
    union_all,
    update,
)
from sqlalchemy.ext.asyncio import AsyncEngine

from services.notifications import email, webhooks
from services.notifications.delivery_log import Attempted, Claim, record, retry_delay
from services.notifications.models import deliveries, subscriptions
from services.notifications.webhooks import Outcome
from sinergi.config import Settings
from sinergi.db import chunks

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
LANES_PER_QUERY = 400
SMTP_CHECK_SECONDS = 60.0


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


_d = deliveries.c
# What an attempt needs: the delivery and its endpoint's signing secret.
_CLAIMED = (
    *(_d.id, _d.subscription_id, _d.event_id, _d.channel, _d.target, _d.subject),
    *(_d.payload, _d.attempts, subscriptions.c.secret),
)


def _now() -> datetime:
    return datetime.now(UTC)


@functools.cache
def _lane_heads(lanes: int) -> CompoundSelect:
    """The due heads of `lanes` endpoints in one statement, with parameters `now`,
    `lane_<n>` and `room_<n>`: built once per count (building it took longer than running
    it). SQLite takes at most 500 selects in one compound statement (LANES_PER_QUERY)."""
    d = deliveries.c
    now = bindparam("now", type_=deliveries.c.next_attempt_at.type)

    def head(n: int) -> Any:
        return (
            select(d.id, d.subscription_id, d.next_attempt_at)
            .where(
                d.subscription_id == bindparam(f"lane_{n}", type_=String),
                d.state == "pending",
                d.next_attempt_at <= now,
                or_(d.lease_until.is_(None), d.lease_until < now),
            )
            .order_by(d.next_attempt_at, d.id)
            .limit(bindparam(f"room_{n}", type_=Integer))
            .subquery()
        )

    heads = [head(n) for n in range(lanes)]
    return union_all(*(select(h.c.id, h.c.subscription_id, h.c.next_attempt_at) for h in heads))


class Sender:
    """The dispatcher and its lanes, for one process and database."""

    def __init__(self, engine: AsyncEngine, settings: Settings) -> None:
        self.engine = engine
        self.settings = settings
        self.wakeup = wakeup(engine)
        self.in_flight: dict[str, int] = {}  # subscription id -> attempts running
        self.tasks: set[asyncio.Task[None]] = set()
        self.http: httpx.AsyncClient | None = None
        self._next_smtp_check = 0.0  # time.monotonic() of the next look for waiting e-mail
        self.attempted = 0  # attempts this sender started, for its replicas to be told apart
        # Finished attempts waiting for the delivery log, and the task writing it.
        self.finished: list[tuple[Attempted, asyncio.Future[None]]] = []
        self.recording: asyncio.Task[None] | None = None

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
        if self.recording is not None:
            self.recording.cancel()
            await asyncio.wait({self.recording}, timeout=5)
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
        if self.settings.smtp_host is None and time.monotonic() >= self._next_smtp_check:
            await self._warn_if_email_waits()
        return len(rows), len(claims)

    async def _due(self, now: datetime) -> list[Any]:
        """Due pending rows of enabled endpoints, at most a lane's room per endpoint.

        Each lane's head is read on its own, through the (subscription, state, next attempt)
        index: a pass costs the same whatever backlog a slow or dead endpoint has built up,
        and one endpoint's backlog cannot fill the page. Full lanes are not read at all.
        """
        s = subscriptions.c
        channels = ["webhook"] if self.settings.smtp_host is None else ["webhook", "email"]
        lanes = select(s.id).where(s.channel.in_(channels), s.state != "disabled")
        async with self.engine.connect() as conn:
            open_lanes = [
                lane
                for lane in await conn.scalars(lanes)
                if self.in_flight.get(lane, 0) < self._lane_size
            ]
            found: list[Any] = []
            for chunk in chunks(open_lanes, LANES_PER_QUERY):
                params: dict[str, Any] = {"now": now}
                for n, lane in enumerate(chunk):
                    params[f"lane_{n}"] = lane
                    params[f"room_{n}"] = self._lane_size - self.in_flight.get(lane, 0)
                found += list(await conn.execute(_lane_heads(len(chunk)), params))
        found.sort(key=lambda row: (row.next_attempt_at, row.id))
        return found[:CLAIM_PAGE]

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
        task.add_done_callback(self._finished)

    def _release(self, lane: str) -> None:
        was_full = self.in_flight[lane] >= self._lane_size
        self.in_flight[lane] -= 1
        if not self.in_flight[lane]:
            del self.in_flight[lane]
        if was_full:
            self.wakeup.set()  # its backlog may be waiting for this slot

    def _finished(self, task: asyncio.Task[None]) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error(
                "percobaan pengiriman gagal (delivery attempt failed)",
                exc_info=task.exception(),
            )

    async def _warn_if_email_waits(self) -> None:
        """Once a minute at most: someone subscribed by e-mail, and no SMTP server is set."""
        self._next_smtp_check = time.monotonic() + SMTP_CHECK_SECONDS
        s = subscriptions.c
        async with self.engine.connect() as conn:
            waiting = await conn.scalar(
                select(exists().where(s.channel == "email", s.state != "disabled"))
            )
        if waiting:
            self._next_smtp_check = float("inf")  # said once
            log.warning("e-mail menunggu: SMTP belum diatur (e-mail waits: set SINERGI_SMTP_HOST)")

    # --- one attempt -----------------------------------------------------------------------

    async def _attempt(self, claim: Claim) -> None:
        started_at = _now()
        started = time.perf_counter()
        try:
            outcome = await self._send(claim)
        finally:
            # The endpoint has answered: its lane has room while the attempt is logged (the
            # lease keeps the row from being claimed again until then).
            self._release(claim.subscription_id)
        latency_ms = round((time.perf_counter() - started) * 1000, 3)
        await self._record(Attempted(claim, outcome, started_at, latency_ms))
        if not outcome.ok:
            delay = retry_delay(claim.attempts + 1, self.settings.delivery_retry_seconds)
            if delay is not None and delay < self.settings.delivery_poll_seconds:
                # Sooner than the next poll: look again when it is due.
                asyncio.get_running_loop().call_later(delay, self.wakeup.set)

    async def _record(self, attempted: Attempted) -> None:
        """Wait until `attempted` is logged. Attempts finishing while a log transaction runs
        share the next one: one write a batch, not one an attempt (SQLite has one writer)."""
        written = asyncio.get_running_loop().create_future()
        self.finished.append((attempted, written))
        if self.recording is None or self.recording.done():
            self.recording = asyncio.create_task(self._record_finished(), name="delivery-log")
        await written

    async def _record_finished(self) -> None:
        while self.finished:
            batch, self.finished = self.finished, []
            try:
                await record(self.engine, self.settings, [item for item, _ in batch])
            except Exception as error:
                if len(batch) == 1:
                    _settle(batch[0][1], error)
                    continue
                # One bad row must not cost the others their log: each on its own then.
                for item, written in batch:
                    try:
                        await record(self.engine, self.settings, [item])
                    except Exception as alone:
                        _settle(written, alone)
                    else:
                        _settle(written, None)
            else:
                for _, written in batch:
                    _settle(written, None)

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


def _settle(written: asyncio.Future[None], error: BaseException | None) -> None:
    if written.done():  # its attempt was cancelled meanwhile (the sender is stopping)
        return
    if error is None:
        written.set_result(None)
    else:
        written.set_exception(error)
