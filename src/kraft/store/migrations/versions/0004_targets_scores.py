"""Targets with their history, and scores with the inputs they used.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

TARGET = sa.Numeric(24, 6)
SCORE = sa.Numeric(12, 4)


def upgrade() -> None:
    op.create_table(
        "targets",
        sa.Column("target_id", sa.Integer(), nullable=False),
        sa.Column("scope_type", sa.String(), nullable=False),
        sa.Column("scope_id", sa.String(), nullable=False),
        sa.Column("kpi_id", sa.String(), nullable=False),
        sa.Column("from_period", sa.String(), nullable=True),
        sa.Column("to_period", sa.String(), nullable=True),
        sa.Column("from_date", sa.Date(), nullable=True),
        sa.Column("to_date", sa.Date(), nullable=True),
        sa.Column("target", TARGET, nullable=False),
        sa.Column("threshold", TARGET, nullable=True),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        sa.Column("recorded_by", sa.String(), nullable=False),
        sa.Column("source", sa.String(), nullable=False),
    )
    op.create_table(
        "scores",
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("rm_id", sa.String(), nullable=False),
        sa.Column("period", sa.String(), nullable=False),
        sa.Column("grain", sa.String(), nullable=False),
        sa.Column("level", sa.String(), nullable=False),
        sa.Column("item_id", sa.String(), nullable=False),
        sa.Column("kra_id", sa.String(), nullable=True),
        sa.Column("actual", sa.Double(), nullable=True),
        sa.Column("volume", sa.Double(), nullable=True),
        sa.Column("target", TARGET, nullable=True),
        sa.Column("threshold", TARGET, nullable=True),
        sa.Column("target_source", sa.String(), nullable=True),
        sa.Column("target_id", sa.Integer(), nullable=True),
        sa.Column("weight", TARGET, nullable=True),
        sa.Column("score", SCORE, nullable=True),
        sa.Column("status", sa.String(), nullable=True),
        sa.Column("provisional", sa.Boolean(), nullable=False),
        sa.Column("coverage", SCORE, nullable=True),
        sa.Column("rating", sa.Integer(), nullable=True),
        sa.Column("rating_label", sa.String(), nullable=True),
        sa.Column("capped_at", SCORE, nullable=True),
        sa.Column("values_run_id", sa.Integer(), nullable=True),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.create_primary_key("pk_targets", "targets", ["target_id"])
        op.create_primary_key("pk_scores", "scores", ["rm_id", "period", "level", "item_id"])


def downgrade() -> None:
    op.drop_table("scores")
    op.drop_table("targets")
