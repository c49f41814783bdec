"""Idempotent batch consumers: one transaction per batch, each event's effect exactly once."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime

from nats.aio.msg import Msg
from nats.js.api import ConsumerConfig
from nats.js.client import JetStreamContext
from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode
from sinergi_contracts import Envelope, EnvelopeError, Event
from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from sinergi import telemetry
from sinergi.config import Settings
from sinergi.db import insert_ignoring_repeats
from sinergi.tasks import cancel_and_wait

log = logging.getLogger(__name__)

# How long one pull for the next event lingers on a quiet stream before it is renewed. Short:
# a pull left behind by a stopped consumer could still take a message for up to this long.
IDLE_WAIT_SECONDS = 1.0


@dataclass(frozen=True)
class Delivered:
    """An event as a consumer received it, with its place in the stream."""

    envelope: Envelope
    stream_seq: int
    subject: str


Apply = Callable[[AsyncConnection, Sequence[Delivered]], Awaitable[None]]

_after_commit: ContextVar[list[Callable[[], None]] | None] = ContextVar(
    "sinergi_after_commit", default=None
)


def after_commit(callback: Callable[[], None]) -> None:
    """Call `callback` once the batch being applied has committed (never if it rolls back).

    For effects outside the database, e.g. waking live readers of what the batch wrote. Outside
    a consumer's batch there is no transaction of ours to wait for: it is called at once.
    """
    pending = _after_commit.get()
    if pending is None:
        callback()
    else:
        pending.append(callback)


@dataclass(frozen=True)
class Subscription:
    """A durable batch consumer of household events, as a service declares it."""

    durable: str
    filter_subject: str
    consumes: tuple[type[Event], ...]
    title: str
    description: str
    apply: Apply | None = None
    # For an effect that depends on the service's settings (e.g. a rules file): called once
    # when the service starts, instead of `apply`.
    configure: Callable[[Settings], Apply] | None = None
    # Ack, unread, the events of types not in `consumes` (e.g. a newer registry event this
    # consumer has no use for), instead of dead-lettering what it cannot decode.
    only_consumed: bool = False

    def bound(self, settings: Settings) -> Apply:
        if self.configure is not None:
            return self.configure(settings)
        assert self.apply is not None, f"{self.durable}: give apply or configure"
        return self.apply


class BatchConsumer:
    """Applies a batch of events in one transaction with their processed-event rows.

    An event already recorded as processed by this consumer is skipped, so a redelivery changes
    nothing. A message that cannot be read, or whose effect fails on its own, is negatively
    acknowledged with a delay; after `max_deliver` attempts the server's advisory moves it to
    the dead-letter stream and the consumer has long since gone on with the rest.
    """

    def __init__(
        self,
        *,
        name: str,
        engine: AsyncEngine,
        processed: Table,
        apply: Apply,
        tracer: trace.Tracer,
        retry_delay: Callable[[int], float],
        only_types: frozenset[str] | None = None,
    ):
        self.name = name
        self._engine = engine
        self._processed = processed
        self._apply = apply
        self._tracer = tracer
        self._retry_delay = retry_delay
        self._only_types = only_types
        self._task: asyncio.Task[None] | None = None

    def start(
        self,
        js: JetStreamContext,
        *,
        stream: str,
        config: ConsumerConfig,
        batch_size: int,
        max_wait: float,
    ) -> None:
        if self._task is None:
            self._task = asyncio.create_task(
                self._run(
                    js, stream=stream, config=config, batch_size=batch_size, max_wait=max_wait
                ),
                name=f"consumer-{self.name}",
            )

    async def stop(self) -> None:
        task, self._task = self._task, None
        await cancel_and_wait(task)

    async def _run(
        self,
        js: JetStreamContext,
        *,
        stream: str,
        config: ConsumerConfig,
        batch_size: int,
        max_wait: float,
    ) -> None:
        """Fetch batches until stopped.

        FastStream 0.7's pull loop only catches nats-py's own TimeoutError, while nats-py 2.16
        raises the built-in one when a fetch finds nothing, so each idle wait restarted the
        task with an error log. This loop treats an empty wait as what it is.
        """
        # Creates the durable, or updates its settings (max_deliver, ack_wait) on a new release.
        await js.add_consumer(stream, config)
        assert config.durable_name is not None
        pull = await js.pull_subscribe_bind(config.durable_name, stream)
        while True:
            try:
                messages = await self._next_batch(pull, batch_size, max_wait)
            except TimeoutError:  # nats.errors.TimeoutError is one too
                continue
            except Exception as error:  # NATS away or the batch failed to ack: retry later
                log.warning(
                    "consumer menunggu NATS (consumer waiting for NATS)",
                    extra={"consumer": self.name, "error": repr(error)},
                )
                await asyncio.sleep(0.5)
                continue
            try:
                await self.consume(messages)
            except Exception:
                # Unacked messages come back after ack_wait; the loop must outlive the cause.
                log.exception(
                    "batch tidak selesai (batch not finished)", extra={"consumer": self.name}
                )
                await asyncio.sleep(0.5)

    @staticmethod
    async def _next_batch(
        pull: JetStreamContext.PullSubscription, batch_size: int, max_wait: float
    ) -> list[Msg]:
        """Wait for the first event, then take those pending behind it (within `max_wait`).

        nats-py's fetch(n) waits its whole timeout for n messages unless n arrive: each event
        of a quiet stream would wait the full batch window before it is applied. Here a lone
        event goes at once; under load the events that arrived while the last batch was being
        applied come together, and batches grow by themselves.
        """
        first = await pull.fetch(1, timeout=IDLE_WAIT_SECONDS)
        # The stream says how many more wait behind this one: none, and the event goes alone
        # at once; some, and they are asked for by number, which the server answers at once.
        pending = first[0].metadata.num_pending or 0
        if batch_size == 1 or pending == 0:
            return first
        try:
            return first + await pull.fetch(min(batch_size - 1, pending), timeout=max_wait)
        except TimeoutError:
            return first

    async def consume(self, messages: Sequence[Msg]) -> None:
        readable: list[tuple[Msg, Delivered]] = []
        for msg in messages:
            if (
                self._only_types is not None
                and (msg.headers or {}).get("ce-type") not in self._only_types
            ):
                await msg.ack()
                continue
            try:
                envelope = Envelope.from_message(msg.headers, msg.data)
            except EnvelopeError as error:
                log.warning(
                    "pesan tidak terbaca, dicoba lagi nanti (unreadable message, will retry)",
                    extra={"consumer": self.name, "subject": msg.subject, "error": str(error)},
                )
                await self._retry_later(msg)
                continue
            readable.append((msg, Delivered(envelope, msg.metadata.sequence.stream, msg.subject)))
        if not readable:
            return
        try:
            await self.apply_in_transaction([d for _, d in readable])
        except Exception:
            log.exception(
                "batch gagal, diproses satu per satu (batch failed, applying one by one)",
                extra={"consumer": self.name, "size": len(readable)},
            )
            await self._one_by_one(readable)
            return
        for msg, _ in readable:
            await msg.ack()

    async def _one_by_one(self, readable: list[tuple[Msg, Delivered]]) -> None:
        for msg, delivered in readable:
            try:
                await self.apply_in_transaction([delivered])
            except Exception:
                log.exception(
                    "event gagal diproses (event failed)",
                    extra={"consumer": self.name, "event_id": delivered.envelope.id},
                )
                await self._retry_later(msg)
            else:
                await msg.ack()

    async def _retry_later(self, msg: Msg) -> None:
        await msg.nak(delay=self._retry_delay(msg.metadata.num_delivered or 1))

    async def apply_in_transaction(self, batch: Sequence[Delivered]) -> None:
        spans = [self._span(d, len(batch)) for d in batch]
        committed: list[Callable[[], None]] = []
        token = _after_commit.set(committed)
        try:
            async with self._engine.begin() as conn:
                fresh = await self._claim(conn, batch)
                if fresh:
                    await self._apply(conn, fresh)
        except Exception as error:
            for span in spans:
                span.record_exception(error)
                span.set_status(Status(StatusCode.ERROR))
                span.end()
            raise
        finally:
            _after_commit.reset(token)
        for span in spans:
            span.end()
        for callback in committed:
            try:
                callback()
            except Exception:
                log.exception(
                    "after_commit gagal (after_commit failed)", extra={"consumer": self.name}
                )

    async def _claim(self, conn: AsyncConnection, batch: Sequence[Delivered]) -> list[Delivered]:
        """Record the batch as processed; the events not already recorded, in batch order.

        One INSERT ... ON CONFLICT DO NOTHING RETURNING instead of a SELECT ... IN and an
        INSERT: each id is checked through the primary key whatever plan PostgreSQL picks
        (a generic plan for the SELECT scanned every row of the consumer), in one round trip.
        If applying fails the transaction rolls the claim back with the effect.
        """
        now = datetime.now(UTC)
        claimed = set(
            (
                await conn.execute(
                    insert_ignoring_repeats(conn, self._processed, returning="event_id"),
                    [
                        {
                            "consumer": self.name,
                            "event_id": d.envelope.id,
                            "stream_seq": d.stream_seq,
                            "processed_at": now,
                        }
                        for d in batch
                    ],
                )
            ).scalars()
        )
        fresh = []
        for delivered in batch:
            if delivered.envelope.id in claimed:
                claimed.discard(delivered.envelope.id)  # a duplicate within the batch once
                fresh.append(delivered)
        return fresh

    def _span(self, delivered: Delivered, batch_size: int) -> trace.Span:
        attributes = delivered.envelope.attributes
        return self._tracer.start_span(
            f"{self.name} process {attributes.type}",
            context=telemetry.context_from(attributes.traceparent),
            kind=SpanKind.CONSUMER,
            attributes={
                "messaging.system": "nats",
                "messaging.consumer.group.name": self.name,
                "messaging.destination.name": delivered.subject,
                "messaging.message.id": attributes.id,
                "messaging.batch.message_count": batch_size,
            },
        )
