"""Tables every service database has: the outbox, the processed-event record, the read audit
and the idempotency keys of commands sent once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    text,
)
from sqlalchemy.types import TypeDecorator


class UtcDateTime(TypeDecorator[datetime]):
    """A moment, always given back with its zone: SQLite stores the UTC time without one, and
    an answer saying "2026-11-29T05:00:00" would not say which 5 o'clock it meant."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


# SQLite only autoincrements an INTEGER PRIMARY KEY; PostgreSQL gets a BIGINT identity.
Position = BigInteger().with_variant(Integer(), "sqlite")


@dataclass(frozen=True)
class RuntimeTables:
    outbox: Table
    processed_events: Table
    read_audit: Table
    idempotency_keys: Table


def runtime_tables(metadata: MetaData) -> RuntimeTables:
    outbox = Table(
        "outbox",
        metadata,
        Column("position", Position, primary_key=True, autoincrement=True),
        Column("event_id", String(64), nullable=False, unique=True),
        Column("subject", String(255), nullable=False),
        Column("headers", JSON, nullable=False),
        Column("data", LargeBinary, nullable=False),
        Column("created_at", UtcDateTime(), nullable=False),
        Column("published_at", UtcDateTime(), nullable=True),
    )
    Index(
        "ix_outbox_unpublished",
        outbox.c.position,
        postgresql_where=text("published_at IS NULL"),
        sqlite_where=text("published_at IS NULL"),
    )
    processed = Table(
        "processed_events",
        metadata,
        Column("consumer", String(64), primary_key=True),
        Column("event_id", String(64), primary_key=True),
        Column("stream_seq", BigInteger, nullable=True),
        Column("processed_at", UtcDateTime(), nullable=False),
    )
    # Who read which personal data (UU PDP): one row per read of a household, its members or
    # its timeline, written before the answer leaves (sinergi.audit).
    read_audit = Table(
        "read_audit",
        metadata,
        Column("id", Position, primary_key=True, autoincrement=True),
        Column("at", UtcDateTime(), nullable=False),
        Column("subject", String(200), nullable=False),
        Column("role", String(20), nullable=False),
        Column("agency", String(80), nullable=True),
        Column("kelurahan", String(16), nullable=True),
        Column("resource", String(40), nullable=False),
        Column("household_id", String(36), nullable=True),
        Column("path", String(300), nullable=False),
        Column("purpose", String(200), nullable=True),
    )
    Index("ix_read_audit_household", read_audit.c.household_id, read_audit.c.id)
    Index("ix_read_audit_subject", read_audit.c.subject, read_audit.c.id)
    # Commands sent with an Idempotency-Key: applied once per caller and key (sinergi.idempotency).
    idempotency_keys = Table(
        "idempotency_keys",
        metadata,
        Column("subject", String(200), primary_key=True),
        Column("key", String(100), primary_key=True),
        Column("route", String(300), nullable=False),
        Column("status", Integer, nullable=True),
        Column("body", LargeBinary, nullable=True),
        Column("created_at", UtcDateTime(), nullable=False),
    )
    return RuntimeTables(
        outbox=outbox,
        processed_events=processed,
        read_audit=read_audit,
        idempotency_keys=idempotency_keys,
    )
