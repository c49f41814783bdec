"""Composition root of the notifications service."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from opentelemetry.trace import TracerProvider

from services.notifications import agencies, api, deliveries_api, digest, sending, subscribers
from services.notifications.domain import AGENCY_EVENTS
from services.notifications.models import metadata, tables
from sinergi.config import Settings
from sinergi.service import Runtime, ServiceDefinition, create_service_app


def routes(runtime: Runtime) -> APIRouter:
    """The inbox and subscription routes, and the delivery log's."""
    router = api.routes(runtime)
    router.include_router(deliveries_api.routes(runtime))
    return router


DEFINITION = ServiceDefinition(
    name="notifications",
    title="Notifications (notifikasi)",
    description=(
        "Mengubah event menjadi notifikasi bagi orang dan sistem yang harus bertindak. "
        "(Turns events into deliveries to the people and systems that must act.)"
    ),
    metadata=metadata,
    tables=tables,
    routes=routes,
    subscriptions=subscribers.SUBSCRIPTIONS,
    workers=(agencies.provision_agency_consumers, digest.watch, sending.send_deliveries),
    forwards_to_agencies=AGENCY_EVENTS,
)


def create_app(settings: Settings, *, tracer_provider: TracerProvider | None = None) -> FastAPI:
    return create_service_app(DEFINITION, settings, tracer_provider=tracer_provider)
