"""Composition root of the registry service."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from opentelemetry.trace import TracerProvider
from sinergi_contracts import EVENT_TYPES

from services.registry import api, duplicates, duplicates_api
from services.registry.import_api import import_routes
from services.registry.models import metadata, tables
from sinergi.config import Settings
from sinergi.service import Runtime, ServiceDefinition, create_service_app


def routes(runtime: Runtime) -> APIRouter:
    router = api.routes(runtime)
    router.include_router(import_routes(runtime))
    router.include_router(duplicates_api.routes(runtime))
    return router


async def scan_duplicates(runtime: Runtime) -> None:
    settings = runtime.settings
    await duplicates.watch(
        runtime.uow,
        runtime.engine,
        every=settings.duplicate_scan_seconds,
        longest=settings.duplicate_scan_longest_seconds,
    )


DEFINITION = ServiceDefinition(
    name="registry",
    title="Registry (pendataan rumah tangga)",
    description=(
        "Rumah tangga, anggota dan penilaian kemiskinan dari RT dan kader; setiap perubahan "
        "adalah event. (Households, members and assessments from the field; every change is "
        "an event.)"
    ),
    metadata=metadata,
    tables=tables,
    routes=routes,
    publishes=tuple(e for e in EVENT_TYPES.values() if e.service == "registry"),
    workers=(scan_duplicates,),
)


def create_app(settings: Settings, *, tracer_provider: TracerProvider | None = None) -> FastAPI:
    return create_service_app(DEFINITION, settings, tracer_provider=tracer_provider)
