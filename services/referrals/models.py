"""The referrals service's tables (its own database)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, DateTime, Index, MetaData, String, Table, Text

from sinergi.tables import runtime_tables

metadata = MetaData()
tables = runtime_tables(metadata)

timeline_entries = Table(
    "timeline_entries",
    metadata,
    Column("event_id", String(64), primary_key=True),
    Column("household_id", String(36), nullable=False),
    Column("stream_seq", BigInteger, nullable=False),
    Column("type", String(200), nullable=False),
    Column("source", String(200), nullable=False),
    Column("subject", String(255), nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("trace_id", String(32), nullable=True),
    Column("data", Text, nullable=False),
)
Index("ix_timeline_household_seq", timeline_entries.c.household_id, timeline_entries.c.stream_seq)
