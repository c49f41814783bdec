"""Subscriptions: who hears which events of an audience, through which channel.

Every audience already has its inbox (domain.audiences). A subscription adds a channel: a
user's own inbox, a webhook of an agency system (signed per Standard Webhooks with a secret
made here and shown once), or an e-mail address.
"""

from __future__ import annotations

import base64
import re
import secrets
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal
from uuid import uuid4

from sinergi_contracts import EVENT_TYPES
from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from services.notifications.digest import DIGEST_TYPE
from services.notifications.models import subscriptions
from sinergi.errors import FieldRejected, NotFound

Channel = Literal["inbox", "webhook", "email"]
AUDIENCE = re.compile(
    r"^(city|agency:[a-z0-9-]{2,40}|kelurahan:\d{2}\.\d{2}\.\d{2}\.\d{4}"
    r"|rt:\d{2}\.\d{2}\.\d{2}\.\d{4}:\d{1,3}:\d{1,3}|coordinator:[\w.-]{1,80})$"
)
OWNER = re.compile(r"^(agency|kelurahan|coordinator|user|rt):[\w.:-]{1,90}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@dataclass(frozen=True)
class NewSubscription:
    owner: str
    channel: Channel
    audience: str
    event_types: list[str]
    target: str | None
    language: Literal["id", "en"]


def new_secret() -> str:
    """A Standard Webhooks signing secret: "whsec_" and 32 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def check(new: NewSubscription) -> None:
    """The rules a request must meet, each a 422 naming the field."""
    if not OWNER.match(new.owner):
        raise FieldRejected(
            field="owner",
            rule="owner_format",
            pesan="pemilik harus agency:<kode>, kelurahan:<kode>, coordinator:<nama>, "
            "user:<nama> atau rt:<…>",
            message="owner must be agency:<code>, kelurahan:<code>, coordinator:<name>, "
            "user:<name> or rt:<…>",
        )
    if not AUDIENCE.match(new.audience):
        raise FieldRejected(
            field="audience",
            rule="audience_format",
            pesan="audiens harus city, agency:<kode>, kelurahan:<kode>, rt:<kelurahan>:<rw>:<rt> "
            "atau coordinator:<nama>",
            message="audience must be city, agency:<code>, kelurahan:<code>, "
            "rt:<kelurahan>:<rw>:<rt> or coordinator:<name>",
        )
    unknown = sorted(set(new.event_types) - set(EVENT_TYPES) - {DIGEST_TYPE})
    if unknown:
        raise FieldRejected(
            field="event_types",
            rule="unknown_event_type",
            pesan=f"jenis event tidak dikenal: {', '.join(unknown)}",
            message=f"unknown event types: {', '.join(unknown)}",
        )
    if new.channel == "webhook" and not re.match(r"^https?://[^\s/]+", new.target or ""):
        raise FieldRejected(
            field="target",
            rule="webhook_url",
            pesan="webhook membutuhkan URL http(s) di target",
            message="a webhook needs an http(s) URL as target",
        )
    if new.channel == "email" and not _EMAIL.match(new.target or ""):
        raise FieldRejected(
            field="target",
            rule="email_address",
            pesan="e-mail membutuhkan alamat e-mail di target",
            message="e-mail needs an e-mail address as target",
        )
    if new.channel == "inbox" and new.target:
        raise FieldRejected(
            field="target",
            rule="inbox_has_no_target",
            pesan="kotak masuk tidak memakai target (pemiliknya sendiri)",
            message="an inbox has no target (it is the owner's)",
        )


async def create(engine: AsyncEngine, new: NewSubscription) -> dict[str, Any]:
    check(new)
    row: dict[str, Any] = {
        "id": str(uuid4()),
        "owner": new.owner,
        "channel": new.channel,
        "audience": new.audience,
        "event_types": sorted(set(new.event_types)),
        "target": new.target,
        "secret": new_secret() if new.channel == "webhook" else None,
        "language": new.language,
        "state": "active",
        "disabled_reason": None,
        "failures": 0,
        "created_at": datetime.now(UTC),
    }
    async with engine.begin() as conn:
        await conn.execute(insert(subscriptions).values(**row))
    return row


async def listed(
    engine: AsyncEngine, *, owner: str | None, among: Collection[str] | None = None
) -> list[dict[str, Any]]:
    """Live subscriptions, of `owner` if named, and only of owners `among` if given."""
    t = subscriptions.c
    query = select(subscriptions).where(t.state != "deleted").order_by(t.created_at)
    if owner:
        query = query.where(t.owner == owner)
    if among is not None:
        query = query.where(t.owner.in_(sorted(among)))
    async with engine.connect() as conn:
        return [dict(row._mapping) for row in await conn.execute(query)]


async def get(engine: AsyncEngine, subscription_id: str) -> dict[str, Any]:
    t = subscriptions.c
    async with engine.connect() as conn:
        row = (
            await conn.execute(
                select(subscriptions).where(t.id == subscription_id, t.state != "deleted")
            )
        ).first()
    if row is None:
        raise NotFound("Langganan tidak ditemukan (subscription not found)")
    return dict(row._mapping)


async def delete(engine: AsyncEngine, subscription_id: str) -> None:
    """Stop it: nothing more is queued for it (what was queued is still sent)."""
    await get(engine, subscription_id)
    async with engine.begin() as conn:
        await conn.execute(
            update(subscriptions)
            .where(subscriptions.c.id == subscription_id)
            .values(state="deleted")
        )
