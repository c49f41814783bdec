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
    common = {
        "storage": StorageType.FILE,
        "num_replicas": settings.stream_replicas,
        "duplicate_window": settings.duplicate_window_seconds,
        "retention": RetentionPolicy.LIMITS,
        "discard": DiscardPolicy.OLD,
    }
    return [
        StreamConfig(
            name=subjects.EVENTS_STREAM,
            description="Semua event rumah tangga dari semua layanan (every household event)",
            subjects=list(subjects.EVENTS_STREAM_SUBJECTS),
            **common,
        ),
        StreamConfig(
            name=subjects.DLQ_STREAM,
            description="Event yang gagal diproses (dead letters), dapat diputar ulang",
            subjects=list(subjects.DLQ_STREAM_SUBJECTS),
            **common,
        ),
        StreamConfig(
            name=subjects.ADVISORY_STREAM,
            description="Advisory MAX_DELIVERIES yang belum dipindah ke DLQ",
            subjects=list(subjects.ADVISORY_STREAM_SUBJECTS),
            max_age=7 * 24 * 3600.0,
            **common,
        ),
    ]


async def ensure_streams(js: JetStreamContext, settings: Settings) -> None:
    """Create the streams, or bring an existing stream's settings up to date."""
    for config in stream_configs(settings):
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
