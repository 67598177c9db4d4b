"""Suggestions: values changed where the service publishes (Nextcloud cards), for the coordinator to accept.

Revision ID: 0002
Revises: 0001
Create Date: 2025-01-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "suggestions",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("record_id", sa.String(), sa.ForeignKey("records.id", name="fk_suggestions_record"),
                  nullable=False),
        sa.Column("instance", sa.String(), nullable=False),
        sa.Column("field", sa.String(), nullable=False),
        sa.Column("value", sa.JSON(), nullable=True),
        sa.Column("observed_at", TS, nullable=False),
        sa.Column("status", sa.String(), nullable=False),
    )
    op.create_index("ix_suggestions_record", "suggestions", ["record_id"])
    op.create_index("uq_suggestions_open", "suggestions", ["record_id", "instance", "field"], unique=True,
                    sqlite_where=sa.text("status = 'open'"), postgresql_where=sa.text("status = 'open'"))


def downgrade() -> None:
    op.drop_table("suggestions")
