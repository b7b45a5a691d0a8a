"""An index PostgreSQL needs for reading one period's scores: the web server checks the period's
overall scores (count and sums) on every page, to see a re-score by another process, and reads
the period's rows in bulk; without it each is a scan of every score row (~200 ms at 2,000 RMs ×
24 months). DuckDB keeps no such index (its server is the one writer and never asks).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

NAME = "ix_scores_period_level"


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.create_index(NAME, "scores", ["period", "level"])


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.drop_index(NAME, table_name="scores")
