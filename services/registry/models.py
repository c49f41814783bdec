"""The registry's tables (its own database)."""

from __future__ import annotations

from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, Text

from sinergi.tables import runtime_tables

metadata = MetaData()
tables = runtime_tables(metadata)

households = Table(
    "households",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("no_kk", String(16), nullable=False, unique=True),
    Column("kelurahan_code", String(16), nullable=False, index=True),
    Column("rw", Integer, nullable=False),
    Column("rt", Integer, nullable=False),
    Column("address", Text, nullable=False),
    Column("head_name", String(200), nullable=False),
    Column("registered_at", DateTime(timezone=True), nullable=False),
    Column("version", Integer, nullable=False),
)
