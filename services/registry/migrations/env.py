"""Alembic environment of the registry service (run through `sinergi migrate`)."""

from services.registry.models import metadata
from sinergi.migrate import run_migrations

run_migrations(metadata)
