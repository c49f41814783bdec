"""Composition root of the referrals service."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from opentelemetry.trace import TracerProvider
from sinergi_contracts import EVENT_TYPES

from services.referrals import api, referral_api, report_api, sla, subscribers
from services.referrals import directory as directories
from services.referrals.models import metadata, tables
from sinergi.config import Settings
from sinergi.service import Runtime, ServiceDefinition, create_service_app


def routes(runtime: Runtime) -> APIRouter:
    router = api.routes(runtime)
    router.include_router(referral_api.routes(runtime))
    router.include_router(report_api.routes(runtime))
    return router


async def check_deadlines(runtime: Runtime) -> None:
    await sla.watch(
        runtime.uow,
        directories.load(runtime.settings.directory_file),
        every=runtime.settings.sla_check_seconds,
    )


DEFINITION = ServiceDefinition(
    name="referrals",
    title="Referrals (rujukan antarinstansi)",
    description=(
        "Rujukan ke DSPM, Baznas, Dinkes/Puskesmas dan Balai Kerja, serta linimasa kasus "
        "bersama. (Referrals to agencies and the shared case timeline.)"
    ),
    metadata=metadata,
    tables=tables,
    routes=routes,
    subscriptions=subscribers.SUBSCRIPTIONS,
    publishes=tuple(e for e in EVENT_TYPES.values() if e.service == "referrals"),
    workers=(check_deadlines,),
)


def create_app(settings: Settings, *, tracer_provider: TracerProvider | None = None) -> FastAPI:
    return create_service_app(DEFINITION, settings, tracer_provider=tracer_provider)
