"""One webhook attempt: the stored body POSTed as is, signed per Standard Webhooks.

The event id is the `webhook-id`, the same on every attempt and replay, so a receiver that
keeps the ids it has seen drops a repeat (delivery is at least once). The signature covers
the id, the timestamp of this attempt and the exact body bytes.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

import httpx
from standardwebhooks import Webhook

from sinergi import VERSION

Result = Literal["ok", "error", "timeout"]
USER_AGENT = f"Sinergi-Webhooks/{VERSION}"


@dataclass(frozen=True)
class Outcome:
    """What one attempt came to, as the delivery log keeps it."""

    result: Result
    status_code: int | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.result == "ok"


def signed_headers(secret: str, message_id: str, payload: str, at: datetime) -> dict[str, str]:
    """The three Standard Webhooks headers (and the content type) for `payload` sent at `at`."""
    return {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": message_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(secret).sign(message_id, at, payload),
    }


def outcome_of_status(status_code: int) -> Outcome:
    """2xx is accepted; anything else (a redirect too: we do not follow it) is a failure."""
    if 200 <= status_code < 300:
        return Outcome("ok", status_code)
    return Outcome("error", status_code, f"HTTP {status_code}")


def client() -> httpx.AsyncClient:
    """One client for every lane. No pool limit: the lanes bound what is in flight, and a
    shared cap would let one slow endpoint's connections make the others wait for the pool."""
    return httpx.AsyncClient(
        limits=httpx.Limits(max_connections=None, max_keepalive_connections=200),
        follow_redirects=False,
        trust_env=False,
    )


async def post(
    http: httpx.AsyncClient,
    *,
    url: str,
    secret: str | None,
    message_id: str,
    payload: str,
    timeout: float,  # noqa: ASYNC109 - the attempt's limit, applied with asyncio.timeout
) -> Outcome:
    """POST once; never raises for the receiver's faults, only reports them."""
    if not secret:
        return Outcome("error", None, "langganan tanpa rahasia (subscription has no secret)")
    headers = signed_headers(secret, message_id, payload, datetime.now(UTC))
    try:
        # httpx's timeout is per phase (connect, each read); the whole attempt has one limit.
        async with asyncio.timeout(timeout):
            # Streamed and never read: a receiver's large answer costs us nothing.
            async with http.stream(
                "POST", url, content=payload.encode(), headers=headers, timeout=timeout
            ) as response:
                return outcome_of_status(response.status_code)
    except (TimeoutError, httpx.TimeoutException):
        return Outcome("timeout", None, timed_out(timeout))
    except httpx.HTTPError as error:
        return Outcome("error", None, _describe(error))


def _describe(error: Exception) -> str:
    text = str(error) or type(error).__name__
    return f"{type(error).__name__}: {text}"[:500]


def timed_out(timeout: float) -> str:
    return f"tidak ada jawaban dalam {timeout:g} detik (no answer within {timeout:g} s)"
