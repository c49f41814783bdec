"""The registry's tables (its own database)."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    Float,
    ForeignKey,
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

households = Table(
    "households",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("no_kk", String(16), nullable=False, unique=True),
    Column("kelurahan_code", String(16), nullable=False),
    Column("rw", Integer, nullable=False),
    Column("rt", Integer, nullable=False),
    Column("address", Text, nullable=False),
    Column("head_name", String(200), nullable=False),
    Column("verification", String(16), nullable=False),
    Column("verification_note", Text, nullable=True),
    Column("poverty_status", String(20), nullable=True),
    Column("poverty_ruleset", String(80), nullable=True),
    Column("stunted_children", Integer, nullable=False, server_default="0"),
    Column("registered_at", UtcDateTime(), nullable=False),
    Column("version", Integer, nullable=False),
)
Index("ix_households_area", households.c.kelurahan_code, households.c.rw, households.c.rt)

kk_history = Table(
    "kk_history",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("household_id", String(36), ForeignKey("households.id"), nullable=False, index=True),
    Column("no_kk", String(16), nullable=False),
    Column("valid_from", UtcDateTime(), nullable=False),
    Column("valid_to", UtcDateTime(), nullable=True),
    Column("reason", String(40), nullable=False),
)

members = Table(
    "members",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("household_id", String(36), ForeignKey("households.id"), nullable=False, index=True),
    Column("nik", String(16), nullable=True, index=True),
    Column("name", String(200), nullable=False),
    Column("sex", String(1), nullable=False),
    Column("birth_date", Date, nullable=False),
    Column("relation", String(20), nullable=False),
    Column("occupation", String(100), nullable=True),
    Column("working", Boolean, nullable=False),
    Column("disability", Boolean, nullable=False),
    Column("pregnant", Boolean, nullable=False),
    Column("nik_warnings", JSON, nullable=False),
    Column("added_at", UtcDateTime(), nullable=False),
)

nik_conflicts = Table(
    "nik_conflicts",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("nik", String(16), nullable=False, index=True),
    Column("household_id", String(36), ForeignKey("households.id"), nullable=False, index=True),
    Column("member_id", String(36), nullable=False),
    Column("other_household_id", String(36), nullable=False, index=True),
    Column("state", String(10), nullable=False),
    Column("decision", String(30), nullable=True),
    Column("note", Text, nullable=True),
    Column("detected_at", UtcDateTime(), nullable=False),
    Column("resolved_at", UtcDateTime(), nullable=True),
)

assessments = Table(
    "assessments",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("household_id", String(36), ForeignKey("households.id"), nullable=False, index=True),
    Column("ruleset", String(80), nullable=False),
    Column("answers", JSON, nullable=False),
    Column("criteria_met", JSON, nullable=False),
    Column("screening", String(80), nullable=True),
    Column("status", String(20), nullable=False),
    Column("dtsen_desil", Integer, nullable=True),
    Column("dtsen_source", String(200), nullable=True),
    Column("assessed_at", UtcDateTime(), nullable=False),
)

measurements = Table(
    "measurements",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("member_id", String(36), ForeignKey("members.id"), nullable=False, index=True),
    Column("household_id", String(36), ForeignKey("households.id"), nullable=False, index=True),
    Column("measured_on", Date, nullable=False),
    Column("age_days", Integer, nullable=False),
    Column("length_height_cm", Float, nullable=False),
    Column("position", String(10), nullable=False),
    Column("weight_kg", Float, nullable=True),
    Column("hfa_z", Float, nullable=True),
    Column("hfa_category", String(20), nullable=True),
    Column("wfa_z", Float, nullable=True),
    Column("wfa_category", String(40), nullable=True),
    Column("outside_standard", Boolean, nullable=False),
    Column("recorded_at", UtcDateTime(), nullable=False),
)

visits = Table(
    "visits",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("household_id", String(36), ForeignKey("households.id"), nullable=False, index=True),
    Column("visited_on", Date, nullable=False),
    Column("visitor", String(200), nullable=False),
    Column("note", Text, nullable=False),
    Column("observations", JSON, nullable=False),
    Column("recorded_at", UtcDateTime(), nullable=False),
)

# Members waiting for the duplicate scanner, written in the transaction that adds them: the
# scan runs in the background (duplicates.py) but no member is ever left unchecked.
duplicate_checks = Table(
    "duplicate_checks",
    metadata,
    Column("member_id", String(36), primary_key=True),
    Column("queued_at", UtcDateTime(), nullable=False),
)

# The kelurahan officers' review queue of probable duplicates among members without NIK.
# `sides` keeps what the matcher saw of both members, so a decision stays readable after a
# merge removed one of them.
duplicate_candidates = Table(
    "duplicate_candidates",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("left_member_id", String(36), nullable=False, index=True),
    Column("right_member_id", String(36), nullable=False, index=True),
    Column("left_household_id", String(36), nullable=False),
    Column("right_household_id", String(36), nullable=False),
    Column("left_kelurahan_code", String(16), nullable=False),
    Column("right_kelurahan_code", String(16), nullable=False),
    Column("score", Float, nullable=False),
    Column("reasons", JSON, nullable=False),
    Column("sides", JSON, nullable=False),
    Column("state", String(16), nullable=False),
    Column("kept_member_id", String(36), nullable=True),
    Column("decided_by", String(200), nullable=True),
    Column("note", Text, nullable=True),
    Column("detected_at", UtcDateTime(), nullable=False),
    Column("decided_at", UtcDateTime(), nullable=True),
    UniqueConstraint("left_member_id", "right_member_id"),
)
Index("ix_duplicate_candidates_queue", duplicate_candidates.c.state, duplicate_candidates.c.score)

import_reports = Table(
    "import_reports",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("filename", String(255), nullable=False),
    Column("imported_at", UtcDateTime(), nullable=False),
    Column("summary", JSON, nullable=False),
    Column("report_csv", Text, nullable=False),
)
