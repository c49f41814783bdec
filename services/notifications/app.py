"""Composition root of the notifications service."""

from __future__ import annotations

from fastapi import FastAPI
from opentelemetry.trace import TracerProvider

from services.notifications import agencies, api, digest, subscribers
from services.notifications.domain import AGENCY_EVENTS
from services.notifications.models import metadata, tables
from sinergi.config import Settings
from sinergi.service import ServiceDefinition, create_service_app

DEFINITION = ServiceDefinition(
    name="notifications",
    title="Notifications (notifikasi)",
    description=(
        "Mengubah event menjadi notifikasi bagi orang dan sistem yang harus bertindak. "
        "(Turns events into deliveries to the people and systems that must act.)"
    ),
    metadata=metadata,
    tables=tables,
    routes=api.routes,
    subscriptions=subscribers.SUBSCRIPTIONS,
    workers=(agencies.provision_agency_consumers, digest.watch),
    forwards_to_agencies=AGENCY_EVENTS,
)


def create_app(settings: Settings, *, tracer_provider: TracerProvider | None = None) -> FastAPI:
    return create_service_app(DEFINITION, settings, tracer_provider=tracer_provider)
