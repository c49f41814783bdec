"""The console's web app: sign-in, each role's home, the coordinators' 100-day dashboard, the
agencies' work queue. Server-rendered (Jinja2); its CSS and one small script are served here."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from services.console import (
    agency_pages,
    case_pages,
    dashboard_pages,
    desk_pages,
    field_pages,
    home_pages,
    import_pages,
    inbox_pages,
    list_pages,
    report_pages,
)
from services.console.backend import Backend
from services.console.renewal import Renewal
from services.console.web import HERE, Web
from sinergi import auth
from sinergi.config import Settings


def create_console_app(settings: Settings) -> FastAPI:
    backend = Backend(settings)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        await backend.aclose()

    app = FastAPI(title="Sinergi Konsol", lifespan=lifespan, docs_url=None, redoc_url=None)
    web = Web.of(settings, auth.verifier_for(settings), backend)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    app.include_router(home_pages.routes(web))
    app.include_router(dashboard_pages.routes(web))
    app.include_router(agency_pages.routes(web))
    app.include_router(case_pages.routes(web))
    app.include_router(inbox_pages.routes(web))
    app.include_router(desk_pages.routes(web))
    app.include_router(field_pages.routes(web))
    app.include_router(import_pages.routes(web))
    app.include_router(report_pages.routes(web))
    app.include_router(list_pages.routes(web))
    if web.provider is not None:
        secure = settings.environment == "production"
        app.add_middleware(Renewal, provider=web.provider, verifier=web.verifier, secure=secure)
    return app
