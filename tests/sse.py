"""Reading a text/event-stream from an ASGI app in the test's event loop, frame by frame.

httpx's ASGI transport hands over a response only when it is complete, which an SSE stream
never is; this drives the app directly and lets the client hang up.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI

from tests import tokens


@dataclass
class SseEvent:
    id: int
    event: str
    data: str


@dataclass
class SseReader:
    """Frames of a text/event-stream as they arrive; comments counted, not returned."""

    chunks: AsyncIterator[str]
    buffer: str = ""
    comments: int = 0
    seen: list[SseEvent] = field(default_factory=list)

    async def take(self, count: int, *, within: float = 10.0) -> list[SseEvent]:
        async with asyncio.timeout(within):
            while len(self.seen) < count:
                while "\n\n" not in self.buffer:
                    self.buffer += await anext(self.chunks)
                block, self.buffer = self.buffer.split("\n\n", 1)
                fields: dict[str, str] = {}
                for line in block.split("\n"):
                    if line.startswith(":"):
                        self.comments += 1
                        continue
                    name, _, value = line.partition(": ")
                    fields[name] = value
                if "id" in fields:
                    self.seen.append(SseEvent(int(fields["id"]), fields["event"], fields["data"]))
        taken, self.seen = self.seen[:count], self.seen[count:]
        return taken


@dataclass
class AsgiStream:
    """One streaming request straight into the ASGI app, with a client that can hang up."""

    task: asyncio.Task[None]
    hang_up: asyncio.Event
    reader: SseReader
    status: int
    headers: dict[str, str]

    async def close(self) -> None:
        self.hang_up.set()
        async with asyncio.timeout(5):
            await self.task


async def open_stream(app: FastAPI, path: str, headers: dict[str, str] | None = None) -> AsgiStream:
    route, _, query = path.partition("?")
    hang_up = asyncio.Event()
    sent: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    requested = False

    async def receive() -> dict[str, Any]:
        nonlocal requested
        if not requested:
            requested = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await hang_up.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        await sent.put(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": route,
        "raw_path": route.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [(b"host", b"referrals")]
        + [(k.lower().encode(), v.encode()) for k, v in (tokens.SYSTEM | (headers or {})).items()],
        "client": ("127.0.0.1", 40000),
        "server": ("referrals", 80),
        "state": {},
    }
    task = asyncio.create_task(app(scope, receive, send), name="sse-request")
    start = await asyncio.wait_for(sent.get(), 10)

    async def chunks() -> AsyncIterator[str]:
        while True:
            message = await sent.get()
            if not message.get("more_body", False) and not message.get("body"):
                return
            yield message["body"].decode()

    return AsgiStream(
        task=task,
        hang_up=hang_up,
        reader=SseReader(chunks()),
        status=start["status"],
        headers={k.decode(): v.decode() for k, v in start["headers"]},
    )
