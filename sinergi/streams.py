"""The JetStream streams and consumer settings, declared in one place."""

from __future__ import annotations

import logging

from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    DeliverPolicy,
    DiscardPolicy,
    RetentionPolicy,
    StorageType,
    StreamConfig,
)
from nats.js.client import JetStreamContext
from nats.js.errors import NotFoundError
from sinergi_contracts import subjects

from sinergi.config import Settings

log = logging.getLogger(__name__)


def stream_configs(settings: Settings) -> list[StreamConfig]:
    def stream(
        name: str, description: str, subjects: tuple[str, ...], max_age: float | None = None
    ) -> StreamConfig:
        return StreamConfig(
            name=name,
            description=description,
            subjects=list(subjects),
            storage=StorageType.FILE,
            num_replicas=settings.stream_replicas,
            duplicate_window=settings.duplicate_window_seconds,
            retention=RetentionPolicy.LIMITS,
            discard=DiscardPolicy.OLD,
            max_age=max_age,
        )

    return [
        stream(
            subjects.EVENTS_STREAM,
            "Semua event rumah tangga dari semua layanan (every household event)",
            subjects.EVENTS_STREAM_SUBJECTS,
        ),
        stream(
            subjects.AGENCY_STREAM,
            "Event yang diteruskan ke tiap dinas/lembaga (events forwarded to each agency)",
            subjects.AGENCY_STREAM_SUBJECTS,
        ),
        stream(
            subjects.DLQ_STREAM,
            "Event yang gagal diproses, dapat diputar ulang (dead letters, replayable)",
            subjects.DLQ_STREAM_SUBJECTS,
        ),
        stream(
            subjects.ADVISORY_STREAM,
            "Advisory MAX_DELIVERIES yang belum dipindah ke DLQ (advisories not yet moved)",
            subjects.ADVISORY_STREAM_SUBJECTS,
            max_age=7 * 24 * 3600.0,
        ),
    ]


async def ensure_streams(js: JetStreamContext, settings: Settings) -> None:
    """Create the streams, or bring an existing stream's settings up to date."""
    for config in stream_configs(settings):
        assert config.name is not None
        try:
            await js.stream_info(config.name)
        except NotFoundError:
            await js.add_stream(config)
            log.info("stream dibuat (stream created)", extra={"stream": config.name})
        else:
            await js.update_stream(config)


def durable_config(
    *, durable: str, filter_subject: str, settings: Settings, description: str
) -> ConsumerConfig:
    """A durable pull consumer with explicit acks and a bounded number of deliveries."""
    return ConsumerConfig(
        durable_name=durable,
        description=description,
        filter_subject=filter_subject,
        ack_policy=AckPolicy.EXPLICIT,
        deliver_policy=DeliverPolicy.ALL,
        ack_wait=settings.ack_wait_seconds,
        max_deliver=settings.max_deliver,
        max_ack_pending=max(1000, settings.consumer_batch_size * 4),
    )
