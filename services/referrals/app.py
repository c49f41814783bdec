"""Composition root of the referrals service."""

from __future__ import annotations

from fastapi import FastAPI
from opentelemetry.trace import TracerProvider

from services.referrals import api, subscribers
from services.referrals.models import metadata, tables
from sinergi.config import Settings
from sinergi.service import ServiceDefinition, create_service_app

DEFINITION = ServiceDefinition(
    name="referrals",
    title="Referrals (rujukan antarinstansi)",
    description=(
        "Rujukan ke DSPM, Baznas, Dinkes/Puskesmas dan Balai Kerja, serta linimasa kasus "
        "bersama. (Referrals to agencies and the shared case timeline.)"
    ),
    metadata=metadata,
    tables=tables,
    routes=api.routes,
    subscriptions=subscribers.SUBSCRIPTIONS,
)


def create_app(settings: Settings, *, tracer_provider: TracerProvider | None = None) -> FastAPI:
    return create_service_app(DEFINITION, settings, tracer_provider=tracer_provider)
