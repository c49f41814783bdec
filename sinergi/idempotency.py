"""Sent once: a command sent with an `Idempotency-Key` header is applied once per key and
caller, however often it arrives (a phone that lost its connection sends again).

* The key is claimed inside the command's own transaction (`UnitOfWork.begin`): a row in the
  service's `idempotency_keys` table, unique per caller and key. Two copies racing each other
  cannot both commit; the loser's whole transaction rolls back.
* Once the command committed, its answer (status and body) is stored with the key
  (`Recorder`, an ASGI middleware), and a repeat gets that answer again with
  `Idempotent-Replayed: true`, without running the command.
* A repeat arriving while the first is still running, or after a crash between the commit and
  the storing of its answer, gets 409: the command is applied, its answer is not at hand.

Keys belong to their caller: another user's key is another key, and never shows its answer.
"""

from __future__ import annotations

import json
import re
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Final

from fastapi import Depends, Header, Request
from sqlalchemy import Table, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sinergi.auth import Caller
from sinergi.errors import FieldRejected, problem, unprocessable

HEADER: Final = "Idempotency-Key"
KEY: Final = re.compile(r"[A-Za-z0-9_-]{8,100}")
STATE: Final = "idempotency_claim"
_HEADER_BYTES: Final = HEADER.lower().encode()  # ASGI header names are lower-case bytes


@dataclass
class Claim:
    key: str
    subject: str
    route: str
    applied: bool = False  # its transaction committed


CLAIM: ContextVar[Claim | None] = ContextVar("sinergi_idempotency", default=None)


class Replay(Exception):
    """The command was applied before: answer as it was answered then."""

    def __init__(self, status: int, body: bytes):
        super().__init__(status)
        self.status, self.body = status, body


async def claimed(
    request: Request,
    principal: Caller,
    key: Annotated[
        str | None,
        Header(
            alias=HEADER,
            description="Kunci sekali-kirim: perintah yang sama dengan kunci yang sama "
            "diterapkan sekali (sent once: the same key applies the command once)",
        ),
    ] = None,
) -> None:
    """A route dependency: with a key, replay a known one's answer or claim it for this one."""
    if key is None or request.method != "POST":
        return
    if not KEY.fullmatch(key):
        raise unprocessable(
            FieldRejected(
                field=HEADER,
                rule="pattern",
                pesan="8–100 huruf, angka, - atau _",
                message="8-100 letters, digits, - or _",
            )
        )
    table: Table = request.app.state.runtime.definition.tables.idempotency_keys
    engine: AsyncEngine = request.app.state.runtime.engine
    route = f"{request.method} {request.url.path}"
    async with engine.connect() as conn:
        row = (
            await conn.execute(
                select(table.c.route, table.c.status, table.c.body).where(
                    table.c.subject == principal.subject, table.c.key == key
                )
            )
        ).first()
    if row is not None:
        if row.route != route:
            raise unprocessable(
                FieldRejected(
                    field=HEADER,
                    rule="reused",
                    pesan="kunci ini sudah dipakai untuk perintah lain",
                    message="this key was used for another command",
                )
            )
        if row.status is None:
            raise problem(
                409,
                "perintah dengan kunci ini sudah diterima; jawabannya belum tersedia "
                "(a command with this key was received; its answer is not available)",
            )
        raise Replay(int(row.status), bytes(row.body or b""))
    claim = Claim(key=key, subject=principal.subject, route=route)
    CLAIM.set(claim)
    setattr(request.state, STATE, claim)


Claimed = Depends(claimed)


async def claim_key(conn: AsyncConnection, table: Table, claim: Claim) -> None:
    """In the command's transaction: the key is this command's, or the transaction fails."""
    try:
        await conn.execute(
            table.insert().values(
                subject=claim.subject, key=claim.key, route=claim.route,
                created_at=datetime.now(UTC),
            )
        )  # fmt: skip
    except IntegrityError:  # the whole transaction rolls back: nothing of this copy stays
        raise problem(
            409,
            "perintah dengan kunci ini sedang diproses (a command with this key is running)",
        ) from None


class Recorder:
    """Stores a claimed command's answer with its key once it was sent (2xx only: a refused
    command applied nothing, and may be corrected and sent again with the same key)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] != "POST"
            or not any(name == _HEADER_BYTES for name, _ in scope["headers"])
        ):  # most commands carry no key: their answers pass through untouched
            await self.app(scope, receive, send)
            return
        scope.setdefault("state", {})  # shared with the routes below, which put the claim in it
        status, body = 0, bytearray()

        async def keep(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                body.extend(message.get("body", b""))
            await send(message)

        await self.app(scope, receive, keep)
        claim: Claim | None = scope.get("state", {}).get(STATE)
        if claim is None or not claim.applied or not 200 <= status < 300:
            return
        runtime: Any = scope["app"].state.runtime
        table: Table = runtime.definition.tables.idempotency_keys
        async with runtime.engine.begin() as conn:
            await conn.execute(
                update(table)
                .where(table.c.subject == claim.subject, table.c.key == claim.key)
                .values(status=status, body=bytes(body))
            )


def replay_answer(error: Replay) -> tuple[int, dict[str, str], Any]:
    """The stored answer as (status, headers, JSON body)."""
    return error.status, {"Idempotent-Replayed": "true"}, json.loads(error.body or b"null")
