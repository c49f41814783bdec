"""The three services running in the test's event loop against the test's nats-server."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx
from fastapi import FastAPI
from nats.js.errors import NotFoundError
from opentelemetry.trace import TracerProvider

from sinergi.catalogue import SERVICE_NAMES, definition
from sinergi.config import Settings
from sinergi.migrate import upgrade
from sinergi.service import Runtime, create_service_app, running
from tests import tokens

T = TypeVar("T")


@dataclass
class System:
    apps: dict[str, FastAPI] = field(default_factory=dict)
    clients: dict[str, httpx.AsyncClient] = field(default_factory=dict)

    def runtime(self, service: str) -> Runtime:
        found: Runtime = self.apps[service].state.runtime
        return found

    @property
    def registry(self) -> httpx.AsyncClient:
        return self.clients["registry"]

    @property
    def referrals(self) -> httpx.AsyncClient:
        return self.clients["referrals"]

    @property
    def notifications(self) -> httpx.AsyncClient:
        return self.clients["notifications"]


@contextlib.asynccontextmanager
async def start_system(
    settings_for: Callable[..., Settings],
    *,
    services: tuple[str, ...] = SERVICE_NAMES,
    tracer_provider: TracerProvider | None = None,
    **overrides: Any,
) -> AsyncIterator[System]:
    system = System()
    async with contextlib.AsyncExitStack() as stack:
        for name in services:
            settings = settings_for(name, **overrides)
            await upgrade(name, settings)
            app = create_service_app(definition(name), settings, tracer_provider=tracer_provider)
            system.apps[name] = app
            await stack.enter_async_context(running(app.state.runtime))
            client = httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app),
                base_url=f"http://{name}",
                headers=tokens.SYSTEM,  # a test that plays a user passes that user's token
            )
            system.clients[name] = await stack.enter_async_context(client)
        yield system


async def eventually(
    probe: Callable[[], Awaitable[T]],
    accept: Callable[[T], bool],
    *,
    within: float = 20.0,
) -> T:
    """Poll `probe` until `accept` holds; the last value is shown when it never does."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        value = await probe()
        if accept(value):
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {within}s; last value: {value!r}")
        await asyncio.sleep(0.05)


async def last_message(js: Any, stream: str, subject: str) -> Any:
    """The last message of `stream` on `subject`, or None."""
    try:
        return await js.get_last_msg(stream, subject)
    except NotFoundError:
        return None
