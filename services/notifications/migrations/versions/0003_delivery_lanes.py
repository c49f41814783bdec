"""deliveries read per endpoint lane

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29 09:00:00

"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # The sender reads each endpoint's due head on its own: a slow endpoint's backlog is no
    # longer scanned by every pass.
    op.create_index(
        "ix_deliveries_lane",
        "deliveries",
        ["subscription_id", "state", "next_attempt_at"],
        unique=False,
    )
    op.drop_index("ix_deliveries_due", table_name="deliveries")


def downgrade() -> None:
    op.create_index(
        "ix_deliveries_due", "deliveries", ["state", "next_attempt_at"], unique=False
    )
    op.drop_index("ix_deliveries_lane", table_name="deliveries")
