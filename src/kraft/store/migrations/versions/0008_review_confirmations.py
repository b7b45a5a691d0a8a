"""The confirmations of a review started or signed off on values that could still change: the
sentence the user confirmed (who and when are the step's own started_by/at, signed_off_by/at).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

COLUMNS = ("start_confirmation", "sign_off_confirmation")


def upgrade() -> None:
    for name in COLUMNS:
        op.add_column("reviews", sa.Column(name, sa.Text(), nullable=True))


def downgrade() -> None:
    for name in reversed(COLUMNS):
        op.drop_column("reviews", name)
