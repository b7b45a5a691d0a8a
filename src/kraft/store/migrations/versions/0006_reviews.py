"""The review cycle: one review per RM and period, and the scorecards frozen at sign-off.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-09
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

SCORE = sa.Numeric(12, 4)


def upgrade() -> None:
    op.create_table(
        "reviews",
        sa.Column("review_id", sa.Integer(), nullable=False),
        sa.Column("rm_id", sa.String(), nullable=False),
        sa.Column("period", sa.String(), nullable=False),
        sa.Column("grain", sa.String(), nullable=False),
        sa.Column("state", sa.String(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("computed_score", SCORE, nullable=True),
        sa.Column("computed_rating", sa.Integer(), nullable=True),
        sa.Column("adjusted_rating", sa.Integer(), nullable=True),
        sa.Column("final_rating", sa.Integer(), nullable=True),
        sa.Column("adjustment_reason", sa.Text(), nullable=True),
        sa.Column("adjusted_by", sa.String(), nullable=True),
        sa.Column("adjusted_at", sa.DateTime(), nullable=True),
        sa.Column("manager_comments", sa.Text(), nullable=True),
        sa.Column("reviewed_by", sa.String(), nullable=True),
        sa.Column("reviewed_at", sa.DateTime(), nullable=True),
        sa.Column("self_assessment", sa.Text(), nullable=True),
        sa.Column("self_assessed_by", sa.String(), nullable=True),
        sa.Column("self_assessed_at", sa.DateTime(), nullable=True),
        sa.Column("acknowledged_by", sa.String(), nullable=True),
        sa.Column("acknowledged_at", sa.DateTime(), nullable=True),
        sa.Column("signed_off_by", sa.String(), nullable=True),
        sa.Column("signed_off_at", sa.DateTime(), nullable=True),
        sa.Column("snapshot_id", sa.Integer(), nullable=True),
        sa.Column("reopen_reason", sa.Text(), nullable=True),
        sa.Column("reopened_by", sa.String(), nullable=True),
        sa.Column("reopened_at", sa.DateTime(), nullable=True),
        sa.Column("started_by", sa.String(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
    )
    op.create_table(
        "review_snapshots",
        sa.Column("snapshot_id", sa.Integer(), nullable=False),
        sa.Column("review_id", sa.Integer(), nullable=False),
        sa.Column("rm_id", sa.String(), nullable=False),
        sa.Column("period", sa.String(), nullable=False),
        sa.Column("taken_at", sa.DateTime(), nullable=False),
        sa.Column("taken_by", sa.String(), nullable=False),
        sa.Column("framework_id", sa.String(), nullable=False),
        sa.Column("framework_version", sa.String(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("values_run_id", sa.Integer(), nullable=True),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("content_hash", sa.String(), nullable=False),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.create_primary_key("pk_reviews", "reviews", ["review_id"])
        op.create_unique_constraint("uq_reviews_rm_period", "reviews", ["rm_id", "period"])
        op.create_primary_key("pk_review_snapshots", "review_snapshots", ["snapshot_id"])
        op.create_foreign_key(
            "fk_review_snapshots_review_id",
            "review_snapshots",
            "reviews",
            ["review_id"],
            ["review_id"],
        )


def downgrade() -> None:
    op.drop_table("review_snapshots")
    op.drop_table("reviews")
