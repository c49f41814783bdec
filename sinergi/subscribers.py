"""Registering a batch consumer of household events on a service's broker."""

from __future__ import annotations

from typing import cast

from faststream.message import StreamMessage
from faststream.middlewares import AckPolicy
from faststream.nats import JStream, NatsMessage, PullSub
from nats.aio.msg import Msg
from sinergi_contracts import subjects

from sinergi.consumer import Apply, BatchConsumer
from sinergi.service import Runtime
from sinergi.streams import durable_config


async def _raw_bodies(msg: StreamMessage[list[Msg]]) -> list[bytes]:
    # The envelope is read per message by BatchConsumer, so one bad message cannot fail the
    # whole batch in FastStream's decoding.
    return [m.data for m in msg.raw_message]


def add_batch_subscriber(
    runtime: Runtime,
    *,
    durable: str,
    filter_subject: str,
    apply: Apply,
    title: str,
    description: str,
) -> BatchConsumer:
    settings = runtime.settings
    consumer = BatchConsumer(
        name=durable,
        engine=runtime.engine,
        processed=runtime.definition.tables.processed_events,
        apply=apply,
        tracer=runtime.tracer,
        retry_delay=settings.retry_delay,
    )

    @runtime.broker.subscriber(
        filter_subject,
        stream=JStream(subjects.EVENTS_STREAM, declare=False),
        durable=durable,
        config=durable_config(
            durable=durable,
            filter_subject=filter_subject,
            settings=settings,
            description=description,
        ),
        pull_sub=PullSub(
            batch_size=settings.consumer_batch_size,
            timeout=settings.consumer_batch_wait_seconds,
            batch=True,
        ),
        decoder=_raw_bodies,
        ack_policy=AckPolicy.MANUAL,
        title=title,
        description=description,
    )
    async def on_batch(bodies: list[bytes], message: NatsMessage) -> None:
        # With batch=True FastStream hands over a NatsBatchMessage: raw_message is the list.
        await consumer.consume(cast(list[Msg], message.raw_message))

    return consumer
