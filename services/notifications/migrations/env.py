"""Alembic environment of the notifications service (run through `sinergi migrate`)."""

from services.notifications.models import metadata
from sinergi.migrate import run_migrations

run_migrations(metadata)
