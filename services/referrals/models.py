"""The referrals service's tables (its own database)."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    false,
)

from sinergi.tables import UtcDateTime, runtime_tables

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
    Column("occurred_at", UtcDateTime(), nullable=False),
    Column("trace_id", String(32), nullable=True),
    Column("data", Text, nullable=False),
)
Index("ix_timeline_household_seq", timeline_entries.c.household_id, timeline_entries.c.stream_seq)
# The newest position, for the city-wide "something changed" stream (max() on an index).
Index("ix_timeline_seq", timeline_entries.c.stream_seq)
# Entries of one kind, e.g. the stunted children found (stunting.stunting).
Index("ix_timeline_type", timeline_entries.c.type, timeline_entries.c.stream_seq)

# A referral and its current state. `open_slot` is "<household>:<programme>" while the
# referral is open and NULL once closed: its unique index allows one open referral per
# household and programme, across replicas and redeliveries alike.
referrals = Table(
    "referrals",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("household_id", String(36), nullable=False, index=True),
    Column("member_id", String(36), nullable=True),
    Column("kelurahan_code", String(16), nullable=False),
    Column("programme", String(80), nullable=False),
    Column("agency", String(80), nullable=False),
    Column("funding", String(40), nullable=False),
    Column("referrer", String(200), nullable=False),
    Column("status", String(20), nullable=False),
    Column("note", Text, nullable=True),
    Column("reason", Text, nullable=True),
    Column("outcome", JSON, nullable=True),
    Column("parent_id", String(36), nullable=True, index=True),
    Column("rule", String(80), nullable=True),
    Column("facts", JSON, nullable=True),
    Column("open_slot", String(140), nullable=True, unique=True),
    Column("requested_at", UtcDateTime(), nullable=False),
    Column("status_since", UtcDateTime(), nullable=False),
    Column("due_at", UtcDateTime(), nullable=True),
    Column("escalation_level", Integer, nullable=False, server_default="0"),
    Column("version", Integer, nullable=False),
)
Index("ix_referrals_queue", referrals.c.agency, referrals.c.status, referrals.c.requested_at)
Index("ix_referrals_due", referrals.c.due_at)

# Every step of every referral: the audit trail and the source of the handoff latencies.
referral_steps = Table(
    "referral_steps",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("referral_id", String(36), nullable=False, index=True),
    Column("agency", String(80), nullable=False),
    Column("previous_status", String(20), nullable=True),
    Column("status", String(20), nullable=False),
    Column("actor", String(200), nullable=False),
    Column("reason", Text, nullable=True),
    Column("at", UtcDateTime(), nullable=False),
)

# What the referrals service knows of each household, from the registry's events: enough
# for the automatic rules and the 100-day figures, without asking the registry.
household_facts = Table(
    "household_facts",
    metadata,
    Column("household_id", String(36), primary_key=True),
    Column("kelurahan_code", String(16), nullable=False),
    Column("rw", Integer, nullable=False),
    Column("rt", Integer, nullable=False),
    Column("verified", Boolean, nullable=False, server_default=false()),
    Column("poverty_status", String(20), nullable=True),
)

member_facts = Table(
    "member_facts",
    metadata,
    Column("member_id", String(36), primary_key=True),
    Column("household_id", String(36), nullable=False, index=True),
    Column("birth_date", Date, nullable=False),
    Column("working", Boolean, nullable=False),
)

# Each poverty status a household had and since when (event time): the 100-day burndown.
poverty_history = Table(
    "poverty_history",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("household_id", String(36), nullable=False, index=True),
    Column("status", String(20), nullable=False),
    Column("since", UtcDateTime(), nullable=False),
)
