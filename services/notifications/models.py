"""The notifications service's tables (its own database)."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from sinergi.tables import runtime_tables

metadata = MetaData()
tables = runtime_tables(metadata)

inbox_items = Table(
    "inbox_items",
    metadata,
    Column("id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True),
    Column("recipient", String(100), nullable=False),
    Column("event_id", String(64), nullable=False),
    Column("event_type", String(200), nullable=False),
    Column("household_id", String(36), nullable=False),
    Column("title", String(300), nullable=False),
    Column("body", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("read_at", DateTime(timezone=True), nullable=True),
    UniqueConstraint("recipient", "event_id", name="uq_inbox_recipient_event"),
)
Index("ix_inbox_recipient_id", inbox_items.c.recipient, inbox_items.c.id)
