"""The dead-letter stream: messages a consumer gave up on, visible and replayable."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from faststream.middlewares import AckPolicy
from faststream.nats import JStream, NatsBroker
from nats.js.client import JetStreamContext
from nats.js.errors import NotFoundError
from pydantic import BaseModel, ConfigDict
from sinergi_contracts import subjects
from sinergi_contracts.envelope import MSG_ID_HEADER

log = logging.getLogger(__name__)

ORIGINAL_SUBJECT = "Sinergi-Original-Subject"
ORIGINAL_SEQ = "Sinergi-Original-Seq"
CONSUMER = "Sinergi-Consumer"
DELIVERIES = "Sinergi-Deliveries"


class MaxDeliveriesAdvisory(BaseModel):
    """`io.nats.jetstream.advisory.v1.max_deliver`, as the server sends it."""

    model_config = ConfigDict(extra="ignore")

    stream: str
    consumer: str
    stream_seq: int
    deliveries: int


@dataclass(frozen=True)
class DeadLetter:
    dlq_seq: int
    consumer: str
    original_subject: str
    original_seq: int
    deliveries: int
    event_type: str
    event_id: str
    headers: dict[str, str]
    data: bytes


async def move_to_dead_letters(js: JetStreamContext, advisory: MaxDeliveriesAdvisory) -> None:
    """Copy the exhausted message into the DLQ stream (once, whoever handles the advisory)."""
    try:
        original = await js.get_msg(advisory.stream, advisory.stream_seq)
    except NotFoundError:
        log.error(
            "pesan asli sudah hilang dari stream (original message no longer in stream)",
            extra=advisory.model_dump(),
        )
        return
    headers = {k: v for k, v in (original.headers or {}).items() if k != MSG_ID_HEADER}
    headers |= {
        ORIGINAL_SUBJECT: original.subject or "",
        ORIGINAL_SEQ: str(advisory.stream_seq),
        CONSUMER: advisory.consumer,
        DELIVERIES: str(advisory.deliveries),
        MSG_ID_HEADER: f"dlq-{advisory.consumer}-{advisory.stream}-{advisory.stream_seq}",
    }
    await js.publish(subjects.dlq_subject(advisory.consumer), original.data or b"", headers=headers)
    log.warning("event masuk dead-letter (event dead-lettered)", extra=advisory.model_dump())


def add_dead_letter_subscriber(
    broker: NatsBroker, *, durable: str, jetstream: Callable[[], JetStreamContext]
) -> None:
    """Watch the advisories of `durable` and move its exhausted messages to the DLQ stream."""

    @broker.subscriber(
        subjects.max_deliveries_advisory(subjects.EVENTS_STREAM, durable),
        stream=JStream(subjects.ADVISORY_STREAM, declare=False),
        # A durable push consumer with a deliver group of the same name: replicas share the
        # work, and no fetch loop (FastStream's pull loop trips over nats-py's TimeoutError).
        queue=subjects.dead_letter_durable(durable),
        ack_policy=AckPolicy.NACK_ON_ERROR,
        title=f"{durable}/dead-letters",
        description=(
            f"Memindahkan event yang gagal diproses oleh `{durable}` ke stream "
            f"{subjects.DLQ_STREAM} (moves events `{durable}` gave up on to the DLQ)."
        ),
    )
    async def on_max_deliveries(advisory: MaxDeliveriesAdvisory) -> None:
        await move_to_dead_letters(jetstream(), advisory)


def _dead_letter(seq: int, headers: dict[str, str], data: bytes) -> DeadLetter:
    return DeadLetter(
        dlq_seq=seq,
        consumer=headers.get(CONSUMER, ""),
        original_subject=headers.get(ORIGINAL_SUBJECT, ""),
        original_seq=int(headers.get(ORIGINAL_SEQ, "0")),
        deliveries=int(headers.get(DELIVERIES, "0")),
        event_type=headers.get("ce-type", ""),
        event_id=headers.get("ce-id", ""),
        headers=headers,
        data=data,
    )


async def list_dead_letters(
    js: JetStreamContext, *, consumer: str | None = None
) -> list[DeadLetter]:
    info = await js.stream_info(subjects.DLQ_STREAM)
    letters: list[DeadLetter] = []
    if not info.state.messages:
        return letters
    for seq in range(info.state.first_seq, info.state.last_seq + 1):
        try:
            raw = await js.get_msg(subjects.DLQ_STREAM, seq)
        except NotFoundError:
            continue  # replayed and deleted
        letter = _dead_letter(seq, dict(raw.headers or {}), raw.data or b"")
        if consumer is None or letter.consumer == consumer:
            letters.append(letter)
    return letters


async def replay_dead_letter(js: JetStreamContext, dlq_seq: int) -> DeadLetter:
    """Publish the event again on its original subject and remove it from the DLQ.

    Consumers that already applied it skip it (they are idempotent); the one that gave up
    gets another `max_deliver` attempts.
    """
    raw = await js.get_msg(subjects.DLQ_STREAM, dlq_seq)
    letter = _dead_letter(dlq_seq, dict(raw.headers or {}), raw.data or b"")
    headers = {
        k: v
        for k, v in letter.headers.items()
        if k not in {ORIGINAL_SUBJECT, ORIGINAL_SEQ, CONSUMER, DELIVERIES}
    }
    headers[MSG_ID_HEADER] = f"{letter.event_id or 'unknown'}-replay-{dlq_seq}"
    await js.publish(letter.original_subject, letter.data, headers=headers)
    await js.delete_msg(subjects.DLQ_STREAM, dlq_seq)
    return letter
