"""Alembic environment of the referrals service (run through `sinergi migrate`)."""

from services.referrals.models import metadata
from sinergi.migrate import run_migrations

run_migrations(metadata)
