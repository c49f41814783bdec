"""Transactional outbox: events are rows written with the state change, then relayed to NATS."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import zlib
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from nats.js.api import PubAck
from nats.js.client import JetStreamContext
from opentelemetry import trace
from opentelemetry.trace import SpanKind
from sinergi_contracts import Envelope
from sinergi_contracts.envelope import MSG_ID_HEADER, TRACEPARENT_HEADER
from sqlalchemy import Table, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from sinergi import telemetry
from sinergi.db import chunks, insert_many, lock_for_relay
from sinergi.idempotency import CLAIM, claim_key
from sinergi.tasks import cancel_and_wait

log = logging.getLogger(__name__)

# SQLite: how long published rows wait to be marked, gathering others (one write for many).
MARK_AFTER_SECONDS = 0.05


def outbox_rows(envelopes: Sequence[Envelope]) -> list[dict[str, Any]]:
    """The outbox rows of `envelopes`, each carrying the trace of the moment it was written."""
    now = datetime.now(UTC)
    traceparent = telemetry.current_traceparent()
    rows = []
    for envelope in envelopes:
        headers = envelope.attributes.to_headers()
        if traceparent and TRACEPARENT_HEADER not in headers:
            headers[TRACEPARENT_HEADER] = traceparent
        rows.append(
            {
                "event_id": envelope.id,
                "subject": envelope.nats_subject,
                "headers": headers,
                "data": envelope.data(),
                "created_at": now,
            }
        )
    return rows


class UnitOfWork:
    """One transaction: the state change and its events commit together or not at all.

    Use ``async with uow.begin() as tx:`` then ``tx.conn`` for the state change and
    ``tx.publish(...)`` for events; leaving the block commits, an exception rolls back.
    """

    def __init__(
        self,
        *,
        engine: AsyncEngine,
        outbox: Table,
        on_commit: Callable[[], None],
        keys: Table | None = None,
    ):
        self._engine = engine
        self._outbox = outbox
        self._on_commit = on_commit
        self._keys = keys

    @contextlib.asynccontextmanager
    async def begin(self) -> AsyncIterator[Transaction]:
        # A command sent with an Idempotency-Key claims it in its first transaction.
        claim = CLAIM.get() if self._keys is not None else None
        claim = None if claim is None or claim.applied else claim
        async with self._engine.begin() as conn:
            if claim is not None and self._keys is not None:
                await claim_key(conn, self._keys, claim)
            tx = Transaction(conn, self._outbox)
            yield tx
            await tx.flush()
        if claim is not None:
            claim.applied = True
        if tx.published:
            self._on_commit()


class Transaction:
    def __init__(self, conn: AsyncConnection, outbox: Table):
        self.conn = conn
        self._outbox = outbox
        self._pending: list[Envelope] = []
        self._forwarded: list[dict[str, Any]] = []
        self.published = 0

    def publish(self, *envelopes: Envelope) -> None:
        self._pending.extend(envelopes)

    def forward(
        self, envelope: Envelope, *, subject: str, message_id: str, data: bytes | None = None
    ) -> None:
        """Publish an event already in the stream again, on `subject` (e.g. to one agency).

        Its CloudEvents id stays, so receivers de-duplicate on it; `message_id` (the outbox
        key and Nats-Msg-Id) must be unique, e.g. "<agency>:<event id>". `data` replaces the
        event's own, e.g. without the health details the receiver may not see.
        """
        row = outbox_rows([envelope])[0]
        row["headers"][MSG_ID_HEADER] = message_id
        if data is not None:
            row["data"] = data
        self._forwarded.append(row | {"event_id": message_id, "subject": subject})

    async def flush(self) -> None:
        rows = outbox_rows(self._pending) + self._forwarded
        if rows:
            await insert_many(self.conn, self._outbox, rows)
            self.published += len(rows)
            self._pending.clear()
            self._forwarded.clear()


class OutboxRelay:
    """Publishes unpublished outbox rows to JetStream in position order, each exactly once.

    `Nats-Msg-Id` is the event id, so a row published twice (a crash between the ack and the
    UPDATE) is dropped by the stream's duplicate window. While NATS is unreachable rows stay in
    the outbox and the relay keeps trying.
    """

    def __init__(
        self,
        *,
        service: str,
        engine: AsyncEngine,
        outbox: Table,
        js: JetStreamContext,
        tracer: trace.Tracer,
        batch_size: int = 500,
        poll_seconds: float = 0.5,
        ack_timeout: float = 5.0,
    ):
        self._service = service
        self._engine = engine
        self._outbox = outbox
        self._js = js
        self._tracer = tracer
        self._batch_size = batch_size
        self._poll_seconds = poll_seconds
        self._ack_timeout = ack_timeout
        self._lock_key = zlib.crc32(f"sinergi-outbox-{service}".encode())
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.published = 0
        # SQLite only: the last position published, and those published but not yet marked.
        self._cursor = 0
        self._unmarked: list[int] = []
        self._marking: asyncio.Task[None] | None = None

    def wake(self) -> None:
        self._wakeup.set()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"outbox-relay-{self._service}")

    async def stop(self) -> None:
        task, self._task = self._task, None
        await cancel_and_wait(task)
        if self._marking is not None:
            # Left unmarked, rows go again after a restart (and are dropped as duplicates).
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(5):
                    await asyncio.shield(self._marking)
            await cancel_and_wait(self._marking)

    async def _run(self) -> None:
        failures = 0
        while True:
            self._wakeup.clear()
            try:
                sent = await self.relay_once()
                failures = 0
            except Exception as error:  # the relay must outlive NATS and database outages
                failures += 1
                delay = min(0.2 * 2**failures, 5.0)
                log.warning(
                    "outbox relay gagal, coba lagi (relay failed, retrying)",
                    extra={"service": self._service, "error": repr(error), "retry_in": delay},
                )
                await asyncio.sleep(delay)
                continue
            if sent < self._batch_size:
                # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow the
                # cancellation that stop() sends when it races the timeout, and stop() hangs.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self._poll_seconds):
                        await self._wakeup.wait()

    async def relay_once(self) -> int:
        """Publish one batch; returns how many rows were published."""
        if self._engine.dialect.name == "postgresql":
            # One transaction holding the relay's advisory lock over read, publish and mark:
            # replicas take turns, so events leave in position order.
            async with self._engine.begin() as conn:
                await lock_for_relay(conn, self._lock_key)
                rows = await self._unpublished(conn, after=0)
                sent, failure = await self._publish(rows)
                if sent:
                    await self._mark(conn, [row.position for row in rows[:sent]])
        else:
            # SQLite (one process per database file): read outside the writers' queue and
            # mark in the background, so publishing never waits behind a write (a bulk
            # import's transactions hold the queue for most of a second). The cursor skips
            # rows published but not marked yet; after a restart those go again and the
            # stream drops them as duplicates (Nats-Msg-Id is the event id).
            async with self._engine.connect() as conn:
                rows = await self._unpublished(conn, after=self._cursor)
            sent, failure = await self._publish(rows)
            if sent:
                self._cursor = rows[sent - 1].position
                self._unmarked += [row.position for row in rows[:sent]]
                if self._marking is None or self._marking.done():
                    self._marking = asyncio.create_task(
                        self._mark_unmarked(), name=f"outbox-mark-{self._service}"
                    )
        self.published += sent
        if failure is not None:
            raise failure
        return sent

    async def _unpublished(self, conn: AsyncConnection, *, after: int) -> Sequence[Any]:
        table = self._outbox
        return (
            await conn.execute(
                select(table.c.position, table.c.subject, table.c.headers, table.c.data)
                .where(table.c.published_at.is_(None), table.c.position > after)
                .order_by(table.c.position)
                .limit(self._batch_size)
            )
        ).all()

    async def _publish(self, rows: Sequence[Any]) -> tuple[int, BaseException | None]:
        """Publish `rows` in order: how many the stream acknowledged (a prefix), and why it
        stopped short, if it did."""
        acks: list[asyncio.Future[PubAck]] = []
        failure: BaseException | None = None
        for row in rows:
            try:
                headers = self._traced(row.subject, row.headers)
                acks.append(await self._js.publish_async(row.subject, row.data, headers=headers))
            except Exception as error:  # not connected: what was sent so far still counts
                failure = error
                break
        async with asyncio.timeout(self._ack_timeout):
            results = await asyncio.gather(*acks, return_exceptions=True)
        # Only the prefix that the stream acknowledged counts, so order is kept on retry.
        sent = 0
        for result in results:
            if isinstance(result, BaseException):
                failure = failure or result
                break
            sent += 1
        return sent, failure

    async def _mark(self, conn: AsyncConnection, positions: Sequence[int]) -> None:
        table = self._outbox
        now = datetime.now(UTC)
        for chunk in chunks(positions):
            await conn.execute(
                update(table).where(table.c.position.in_(chunk)).values(published_at=now)
            )

    async def _mark_unmarked(self) -> None:
        """Mark what was published, in as few writes as the queue allows: after a short wait,
        so that under a steady stream of single events one write marks several (the cursor
        keeps them from going twice meanwhile)."""
        await asyncio.sleep(MARK_AFTER_SECONDS)
        while self._unmarked:
            positions, self._unmarked = self._unmarked, []
            try:
                async with self._engine.begin() as conn:
                    await self._mark(conn, positions)
            except Exception as error:  # kept and tried again; the cursor stops a re-publish
                self._unmarked = positions + self._unmarked
                log.warning(
                    "outbox belum ditandai terkirim, coba lagi (outbox not marked, retrying)",
                    extra={"service": self._service, "error": repr(error)},
                )
                await asyncio.sleep(0.5)

    def _traced(self, subject: str, headers: dict[str, str]) -> dict[str, str]:
        parent = telemetry.context_from_headers(headers)
        span = self._tracer.start_span(
            f"{subject} publish",
            context=parent,
            kind=SpanKind.PRODUCER,
            attributes={
                "messaging.system": "nats",
                "messaging.destination.name": subject,
                "messaging.message.id": headers.get("ce-id", ""),
            },
        )
        span.end()
        if not span.get_span_context().is_valid:
            return headers
        traceparent = telemetry.traceparent_of(trace.set_span_in_context(span))
        return {**headers, TRACEPARENT_HEADER: traceparent} if traceparent else headers
