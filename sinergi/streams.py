"""The JetStream streams and consumer settings, declared in one place."""

from __future__ import annotations

import logging
from typing import Any

import nats
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
from nats.js.errors import APIError, NotFoundError
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
    """Create the streams, or bring an existing stream's settings up to date.

    A service may create a missing stream but not change one (its NATS user has no
    `$JS.API.STREAM.UPDATE`: a smaller max_age or max_msgs would purge the stream). When the
    settings differ it says so and goes on; `sinergi streams`, as the operator, updates them
    (`sinergi up` does at every start)."""
    for config in stream_configs(settings):
        assert config.name is not None
        try:
            info = await js.stream_info(config.name)
        except NotFoundError:
            await js.add_stream(config)
            log.info("stream dibuat (stream created)", extra={"stream": config.name})
            continue
        if not settings_differ(info.config, config):
            continue
        try:
            await js.update_stream(config)
        except (TimeoutError, APIError) as refused:  # a refused request times out
            log.warning(
                "setelan stream berbeda; jalankan `sinergi streams` sebagai operator "
                "(stream settings differ; run `sinergi streams` as the operator)",
                extra={"stream": config.name, "error": repr(refused)},
            )
        else:
            log.info("stream diperbarui (stream updated)", extra={"stream": config.name})


async def declare_streams(servers: list[str], settings: Settings, **options: Any) -> None:
    """Create or update the streams over a connection of their own (the operator's)."""
    nc = await nats.connect(servers=servers, **options)
    try:
        await ensure_streams(nc.jetstream(), settings)
    finally:
        await nc.close()


def settings_differ(current: StreamConfig, wanted: StreamConfig) -> bool:
    """Whether any setting Sinergi gives a stream differs from what the server has."""
    have = current.as_dict()
    return any(have.get(key) != value for key, value in wanted.as_dict().items())


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
