"""The composition root every service shares: engine, broker, relay, routes and lifespan."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any

import nats
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from faststream.nats import NatsBroker
from faststream.nats.opentelemetry import NatsTelemetryMiddleware
from faststream.nats.security import NatsUserPassword
from nats.aio.client import DEFAULT_INBOX_PREFIX
from nats.aio.client import Client as NatsClient
from nats.js.client import JetStreamContext
from opentelemetry import trace
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from sinergi_contracts import Event, subjects
from sqlalchemy import MetaData, text
from sqlalchemy.ext.asyncio import AsyncEngine

from sinergi import VERSION, auth, guard, idempotency, telemetry
from sinergi.asyncapi import asyncapi_routes
from sinergi.audit import audit_routes
from sinergi.config import Settings
from sinergi.consumer import BatchConsumer, Subscription
from sinergi.db import create_engine
from sinergi.dlq import add_dead_letter_subscriber
from sinergi.errors import STANDARD_PROBLEMS, install_error_handlers
from sinergi.outbox import OutboxRelay, UnitOfWork
from sinergi.streams import durable_config, ensure_streams
from sinergi.tables import RuntimeTables
from sinergi.tasks import cancel_and_wait

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServiceDefinition:
    """What makes one service itself; everything else is shared."""

    name: str
    title: str
    description: str
    metadata: MetaData
    tables: RuntimeTables
    routes: Callable[[Runtime], APIRouter]
    subscriptions: Sequence[Subscription] = ()
    publishes: Sequence[type[Event]] = ()
    # Events the service copies to each agency's subjects (sinergi.agency.<agency>.…).
    forwards_to_agencies: Sequence[type[Event]] = ()
    # Background loops of the service (e.g. the registry's duplicate scanner), run while the
    # service runs and cancelled when it stops.
    workers: Sequence[Callable[[Runtime], Coroutine[Any, Any, None]]] = ()

    @property
    def durables(self) -> list[str]:
        return [s.durable for s in self.subscriptions]


@dataclass
class Runtime:
    """The live parts of one service process, handed to its routes and subscribers."""

    definition: ServiceDefinition
    settings: Settings
    engine: AsyncEngine
    broker: NatsBroker
    tracer_provider: trace.TracerProvider
    uow: UnitOfWork = field(init=False)
    nc: NatsClient | None = None
    js: JetStreamContext | None = None
    relay: OutboxRelay | None = None
    consumers: list[BatchConsumer] = field(default_factory=list)
    workers: list[asyncio.Task[None]] = field(default_factory=list)

    def __post_init__(self) -> None:
        tables = self.definition.tables
        self.uow = UnitOfWork(
            engine=self.engine,
            outbox=tables.outbox,
            on_commit=self._wake_relay,
            keys=tables.idempotency_keys,
        )
        self.consumers = [
            BatchConsumer(
                name=subscription.durable,
                engine=self.engine,
                processed=self.definition.tables.processed_events,
                apply=subscription.bound(self.settings),
                tracer=self.tracer,
                retry_delay=self.settings.retry_delay,
                only_types=(
                    frozenset(t.ce_type() for t in subscription.consumes)
                    if subscription.only_consumed
                    else None
                ),
            )
            for subscription in self.definition.subscriptions
        ]

    @property
    def tracer(self) -> trace.Tracer:
        return self.tracer_provider.get_tracer(f"sinergi.{self.definition.name}")

    def _wake_relay(self) -> None:
        if self.relay:
            self.relay.wake()

    def jetstream(self) -> JetStreamContext:
        if self.js is None:
            raise RuntimeError(f"{self.definition.name} is not connected to NATS")
        return self.js


def create_broker(
    settings: Settings, service: str, tracer_provider: trace.TracerProvider
) -> NatsBroker:
    options = settings.nats_options()
    return NatsBroker(
        settings.nats_servers,
        name=f"sinergi-{service}",
        # A span (with links to each message's producer) and duration metrics per delivery.
        middlewares=[NatsTelemetryMiddleware(tracer_provider=tracer_provider)],
        max_reconnect_attempts=-1,
        reconnect_time_wait=1,
        security=NatsUserPassword(options["user"], options["password"]) if options else None,
        inbox_prefix=options.get("inbox_prefix", DEFAULT_INBOX_PREFIX),
        # FastStream logs every message at INFO; at DEBUG it stays out of the way (~30% faster).
        log_level=logging.DEBUG,
    )


def build_runtime(
    definition: ServiceDefinition,
    settings: Settings,
    *,
    tracer_provider: trace.TracerProvider | None = None,
) -> Runtime:
    provider = tracer_provider or telemetry.tracer_provider_for(
        definition.name, settings.otel_exporter
    )
    runtime = Runtime(
        definition=definition,
        settings=settings,
        engine=create_engine(settings.database_url, schema=settings.database_schema),
        broker=create_broker(settings, definition.name, provider),
        tracer_provider=provider,
    )
    for durable in definition.durables:
        add_dead_letter_subscriber(runtime.broker, durable=durable, jetstream=runtime.jetstream)
    return runtime


@contextlib.asynccontextmanager
async def running(runtime: Runtime) -> AsyncIterator[Runtime]:
    """Connect to NATS, declare the streams, start the relay and the subscribers."""
    settings = runtime.settings
    runtime.nc = await nats.connect(
        servers=settings.nats_servers,
        name=f"sinergi-{runtime.definition.name}-relay",
        max_reconnect_attempts=-1,
        reconnect_time_wait=0.5,
        **settings.nats_options(),
    )
    runtime.js = runtime.nc.jetstream()
    try:
        await ensure_streams(runtime.js, settings)
        runtime.relay = OutboxRelay(
            service=runtime.definition.name,
            engine=runtime.engine,
            outbox=runtime.definition.tables.outbox,
            js=runtime.js,
            tracer=runtime.tracer,
            batch_size=settings.relay_batch_size,
            poll_seconds=settings.relay_poll_seconds,
        )
        runtime.relay.start()
        for subscription, consumer in zip(
            runtime.definition.subscriptions, runtime.consumers, strict=True
        ):
            consumer.start(
                runtime.js,
                stream=subjects.EVENTS_STREAM,
                config=durable_config(
                    durable=subscription.durable,
                    filter_subject=subscription.filter_subject,
                    settings=settings,
                    description=subscription.title,
                ),
                batch_size=settings.consumer_batch_size,
                max_wait=settings.consumer_batch_wait_seconds,
            )
        await runtime.broker.start()
        runtime.workers = [
            asyncio.create_task(work(runtime), name=f"{runtime.definition.name}-{work.__name__}")
            for work in runtime.definition.workers
        ]
        yield runtime
    finally:
        await _shut_down(runtime)


async def _shut_down(runtime: Runtime) -> None:
    """Stop every part even when NATS or the database is already gone."""
    steps: list[tuple[str, Callable[[], Awaitable[None]]]] = [
        *((task.get_name(), functools.partial(cancel_and_wait, task)) for task in runtime.workers),
        ("broker", runtime.broker.stop),
        *((f"consumer {c.name}", c.stop) for c in runtime.consumers),
    ]
    if runtime.relay:
        steps.append(("relay", runtime.relay.stop))
    if runtime.nc:
        steps.append(("nats", runtime.nc.close))
    steps.append(("database", runtime.engine.dispose))
    for name, stop in steps:
        try:
            await stop()
        except Exception as error:
            log.warning(
                "gagal berhenti dengan rapi (could not stop cleanly)",
                extra={"part": name, "error": repr(error)},
            )


def create_service_app(
    definition: ServiceDefinition,
    settings: Settings,
    *,
    tracer_provider: trace.TracerProvider | None = None,
) -> FastAPI:
    runtime = build_runtime(definition, settings, tracer_provider=tracer_provider)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        async with running(runtime):
            yield

    app = FastAPI(
        title=f"Sinergi {definition.title}",
        description=definition.description,
        version=VERSION,
        lifespan=lifespan,
    )
    app.state.runtime = runtime
    app.state.verifier = auth.verifier_for(settings)
    app.state.rate_limiter = guard.RateLimiter(
        settings.rate_limit_per_second, settings.rate_limit_burst
    )
    app.add_middleware(
        guard.Guard,
        limit=settings.max_body_bytes,
        per_path={"/imports": settings.import_max_bytes},  # a whole kelurahan's spreadsheet
    )
    if settings.cors_origins:  # closed unless the city names its console's origins
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "If-Match", "Last-Event-ID"],
            expose_headers=["ETag", "Retry-After"],
        )
    install_error_handlers(app)
    app.add_middleware(idempotency.Recorder)

    @app.exception_handler(idempotency.Replay)
    async def replayed(_: Request, error: idempotency.Replay) -> JSONResponse:
        status, headers, body = idempotency.replay_answer(error)
        return JSONResponse(body, status_code=status, headers=headers)

    app.include_router(health_routes(runtime))
    # Every endpoint but the health checks wants a verified caller; a POST may carry an
    # Idempotency-Key (sent once).
    signed_in = [Depends(auth.authenticated), idempotency.Claimed]
    for router in (
        asyncapi_routes(definition),
        definition.routes(runtime),
        audit_routes(runtime.engine, definition.tables.read_audit),
    ):
        app.include_router(router, dependencies=signed_in, responses=STANDARD_PROBLEMS)
    FastAPIInstrumentor.instrument_app(
        app,
        tracer_provider=runtime.tracer_provider,
        excluded_urls="healthz,readyz",
        # One server span a request; a span for each ASGI message cost more than the handler.
        exclude_spans=["receive", "send"],
    )
    return app


def health_routes(runtime: Runtime) -> APIRouter:
    router = APIRouter(tags=["kesehatan (health)"])

    @router.get("/healthz", summary="Proses hidup (process is alive)")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/readyz", summary="Siap melayani: database dan NATS (ready: database and NATS)")
    async def readyz() -> JSONResponse:
        checks: dict[str, str] = {}
        try:
            async with runtime.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
            checks["database"] = "ok"
        except Exception as error:
            checks["database"] = f"error: {type(error).__name__}"
        connected = runtime.nc is not None and runtime.nc.is_connected
        checks["nats"] = "ok" if connected else "disconnected"
        ready = all(v == "ok" for v in checks.values())
        return JSONResponse(
            status_code=200 if ready else 503,
            content={"status": "ok" if ready else "not ready", "checks": checks},
        )

    return router
