"""Abuse resistance: security headers on every answer, request bodies capped, a request rate
per token. (CORS stays closed unless configured, in sinergi.service; page sizes are each
route's `le`.)"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sinergi.errors import problem

HEADERS: list[tuple[bytes, bytes]] = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    # Answers carry personal data: no shared or browser cache keeps them.
    (b"cache-control", b"no-store"),
    (b"strict-transport-security", b"max-age=31536000"),
]
# The API answers JSON and SSE only; the interactive docs load their own scripts.
API_CSP = (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'")
DOCS = ("/docs", "/redoc")


@dataclass
class _Bucket:
    tokens: float
    at: float


@dataclass
class RateLimiter:
    """A token bucket per caller (the token's subject), in this process: `per_second` on
    average, `burst` at once. Beyond it: 429 with Retry-After. Replicas count apart."""

    per_second: float
    burst: int
    buckets: dict[str, _Bucket] = field(default_factory=dict)

    def check(self, caller: str) -> None:
        now = time.monotonic()
        bucket = self.buckets.get(caller)
        if bucket is None:
            if len(self.buckets) > 100_000:  # forget idle callers rather than grow forever
                self.buckets.clear()
            bucket = self.buckets[caller] = _Bucket(float(self.burst), now)
        bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.at) * self.per_second)
        bucket.at = now
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return
        wait = math.ceil((1 - bucket.tokens) / self.per_second)
        raise problem(
            429,
            f"terlalu banyak permintaan; coba lagi dalam {wait} detik "
            f"(too many requests; retry in {wait} s)",
            headers={"Retry-After": str(wait)},
        )


class _TooLarge(Exception):
    pass


TOO_LARGE = b'{"pesan":"isi permintaan terlalu besar","message":"request body too large"}'


class Guard:
    """Every answer gets the headers above (those a route set itself stay); a request body
    over `limit` bytes (or `per_path`'s, e.g. uploads) gets 413 — at once by its
    Content-Length, or as soon as a body sent without one grows past it. One layer for both:
    each ASGI layer costs every request."""

    def __init__(self, app: ASGIApp, limit: int, per_path: dict[str, int] | None = None) -> None:
        self.app, self.limit, self.per_path = app, limit, per_path or {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        extra = HEADERS if path.startswith(DOCS) else [*HEADERS, API_CSP]
        started = False

        async def guarded(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                present = {name.lower() for name, _ in message.get("headers", [])}
                message["headers"] = [
                    *message.get("headers", []),
                    *((n, v) for n, v in extra if n not in present),
                ]
            await send(message)

        limit = self.per_path.get(path, self.limit)
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > limit:
            await _refuse(guarded)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise _TooLarge
            return message

        try:
            await self.app(scope, counted, guarded)
        except _TooLarge:
            if not started:
                await _refuse(guarded)


async def _refuse(send: Send) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(TOO_LARGE)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": TOO_LARGE})
