"""Identity: every entry id a record ever had (a deleted record is found by its former entry id), and when each
candidate of a conflict was entered (settle a conflict with the newest value).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "entry_ids",
        sa.Column("record_id", sa.String(), sa.ForeignKey("records.id", name="fk_entry_ids_record"),
                  nullable=False),
        sa.Column("instance", sa.String(), nullable=False),
        sa.Column("remote_id", sa.String(), nullable=False),
        sa.Column("first_seen", TS, nullable=False),
        sa.PrimaryKeyConstraint("instance", "remote_id", "record_id", name="pk_entry_ids"),
    )
    op.create_index("ix_entry_ids_record", "entry_ids", ["record_id"])
    op.execute("INSERT INTO entry_ids (record_id, instance, remote_id, first_seen) "
               "SELECT record_id, instance, remote_id, updated_at FROM links WHERE remote_id IS NOT NULL")
    with op.batch_alter_table("conflicts") as batch:
        batch.add_column(sa.Column("candidate_times", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("conflicts") as batch:
        batch.drop_column("candidate_times")
    op.drop_table("entry_ids")
