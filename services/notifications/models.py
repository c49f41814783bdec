"""The notifications service's tables (its own database)."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from sinergi.tables import UtcDateTime, runtime_tables

metadata = MetaData()
tables = runtime_tables(metadata)

_Id = BigInteger().with_variant(Integer(), "sqlite")

# In-app inbox: one row per recipient (an audience such as agency:dspm or kelurahan:…, or a
# user who subscribed) and event. The id orders a recipient's items and is the SSE position.
inbox_items = Table(
    "inbox_items",
    metadata,
    Column("id", _Id, primary_key=True),
    Column("recipient", String(100), nullable=False),
    Column("event_id", String(64), nullable=False),
    Column("event_type", String(200), nullable=False),
    Column("household_id", String(36), nullable=False),
    Column("title", String(300), nullable=False),
    Column("body", Text, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("read_at", UtcDateTime(), nullable=True),
    UniqueConstraint("recipient", "event_id", name="uq_inbox_recipient_event"),
)
Index("ix_inbox_recipient_id", inbox_items.c.recipient, inbox_items.c.id)

# Where each household is, from its registration: most registry events name only the
# household, and who hears of them depends on its kelurahan and RT.
places = Table(
    "places",
    metadata,
    Column("household_id", String(36), primary_key=True),
    Column("kelurahan_code", String(13), nullable=False),
    Column("rw", Integer, nullable=False),
    Column("rt", Integer, nullable=False),
)

# Who is party to each referral, from its request: a status change names only the receiving
# agency, and the referrer must hear the outcome (closed loop). Its state follows the events.
referral_parties = Table(
    "referral_parties",
    metadata,
    Column("referral_id", String(36), primary_key=True),
    Column("household_id", String(36), nullable=False),
    Column("agency", String(40), nullable=False),
    Column("referrer", String(100), nullable=False),
    Column("kelurahan_code", String(13), nullable=False),
    Column("programme", String(80), nullable=False),
    # Where it stands, for the daily digest's "what is overdue".
    Column("status", String(20), nullable=False),
    Column("overdue_level", Integer, nullable=True),
    Column("due_at", UtcDateTime(), nullable=True),
)
Index("ix_referral_parties_overdue", referral_parties.c.overdue_level)

# What someone asked to hear and how: the events routed to `audience` (agency:dspm,
# kelurahan:64.74.01.1001, rt:64.74.01.1001:3:7, city), of `event_types` (empty: all), through
# `channel` to `target` (a URL, an e-mail address; the owner's inbox for "inbox").
subscriptions = Table(
    "subscriptions",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("owner", String(100), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("audience", String(100), nullable=False),
    Column("event_types", JSON, nullable=False),
    Column("target", String(500), nullable=True),
    Column("secret", String(100), nullable=True),
    Column("language", String(2), nullable=False),
    Column("state", String(16), nullable=False),
    Column("disabled_reason", Text, nullable=True),
    Column("failures", Integer, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
)
Index("ix_subscriptions_audience", subscriptions.c.audience)

# One delivery per (subscription, event): the idempotency key the receiver sees is the event
# id. A sender claims a due delivery by moving `lease_until` (one replica sends it).
deliveries = Table(
    "deliveries",
    metadata,
    Column("id", _Id, primary_key=True),
    Column("subscription_id", String(36), nullable=False),
    Column("event_id", String(64), nullable=False),
    Column("event_type", String(200), nullable=False),
    Column("household_id", String(36), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("owner", String(100), nullable=False),
    Column("target", String(500), nullable=False),
    Column("subject", String(300), nullable=True),
    Column("payload", Text, nullable=False),
    Column("state", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("next_attempt_at", UtcDateTime(), nullable=True),
    Column("lease_until", UtcDateTime(), nullable=True),
    Column("delivered_at", UtcDateTime(), nullable=True),
    Column("last_error", Text, nullable=True),
    UniqueConstraint("subscription_id", "event_id", name="uq_delivery_subscription_event"),
)
# The sender reads each endpoint's head of due deliveries (sending.Sender._due).
Index(
    "ix_deliveries_lane",
    deliveries.c.subscription_id,
    deliveries.c.state,
    deliveries.c.next_attempt_at,
)
Index("ix_deliveries_event", deliveries.c.event_id)
Index("ix_deliveries_owner", deliveries.c.owner, deliveries.c.id)

# Every attempt, its result and latency: the delivery log.
delivery_attempts = Table(
    "delivery_attempts",
    metadata,
    Column("id", _Id, primary_key=True),
    Column("delivery_id", BigInteger, nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("started_at", UtcDateTime(), nullable=False),
    Column("latency_ms", Float, nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("status_code", Integer, nullable=True),
    Column("error", Text, nullable=True),
)
Index("ix_delivery_attempts_delivery", delivery_attempts.c.delivery_id, delivery_attempts.c.attempt)
