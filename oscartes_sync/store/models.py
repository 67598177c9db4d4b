"""The store's tables (SQLAlchemy Core). The schema itself is created by the Alembic migrations in
`migrations/versions/`; these definitions must stay equal to what the migrations build (a test compares them).

Timestamps are stored in UTC and always come back as timezone-aware UTC datetimes, on SQLite too.
JSON columns use the plain `JSON` type on both databases: PostgreSQL's `json` keeps any string (`jsonb`
refuses `\\u0000`), and the store never queries inside a JSON value.
"""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    text,
)
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator):
    """Aware UTC datetimes in and out; SQLite has no time zone, so naive UTC is what it stores."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use an aware UTC datetime")
        value = value.astimezone(timezone.utc)
        if dialect.name == "sqlite":
            value = value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


metadata = MetaData()

records = Table(
    "records", metadata,
    Column("id", String, primary_key=True),
    Column("kind", String, nullable=False),
    Column("fields", JSON, nullable=False),
    Column("deleted", Boolean, nullable=False),
    Column("revision", Integer, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Index("ix_records_kind", "kind"),
)

revisions = Table(
    "revisions", metadata,
    Column("record_id", String, ForeignKey("records.id", name="fk_revisions_record"), nullable=False),
    Column("number", Integer, nullable=False),
    Column("fields", JSON, nullable=False),
    Column("deleted", Boolean, nullable=False),
    Column("author", String, nullable=False),
    Column("origin", String, nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("note", Text, nullable=False),
    PrimaryKeyConstraint("record_id", "number", name="pk_revisions"),
)

links = Table(
    "links", metadata,
    Column("record_id", String, ForeignKey("records.id", name="fk_links_record"), nullable=False),
    Column("instance", String, nullable=False),
    Column("remote_id", String, nullable=True),
    Column("form_id", String, nullable=False),
    Column("snapshot", JSON, nullable=False),
    Column("snapshot_hash", String, nullable=False),
    Column("written_hash", String, nullable=True),
    Column("pending", JSON(none_as_null=True), nullable=True),
    Column("updated_at", UTCDateTime, nullable=False),
    PrimaryKeyConstraint("record_id", "instance", name="pk_links"),
    # One record per remote entry; a link whose create is not confirmed yet has no remote id.
    Index("uq_links_instance_remote", "instance", "remote_id", unique=True,
          sqlite_where=text("remote_id IS NOT NULL"), postgresql_where=text("remote_id IS NOT NULL")),
)

# Every entry id a record has had in each instance (links forget an entry once it is deleted; people do not).
entry_ids = Table(
    "entry_ids", metadata,
    Column("record_id", String, ForeignKey("records.id", name="fk_entry_ids_record"), nullable=False),
    Column("instance", String, nullable=False),
    Column("remote_id", String, nullable=False),
    Column("first_seen", UTCDateTime, nullable=False),
    PrimaryKeyConstraint("instance", "remote_id", "record_id", name="pk_entry_ids"),
    Index("ix_entry_ids_record", "record_id"),
)

conflicts = Table(
    "conflicts", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("record_id", String, ForeignKey("records.id", name="fk_conflicts_record"), nullable=False),
    Column("field", String, nullable=False),
    Column("base", JSON, nullable=True),
    Column("candidates", JSON, nullable=False),
    Column("status", String, nullable=False),
    Column("opened_at", UTCDateTime, nullable=False),
    Column("resolved_at", UTCDateTime, nullable=True),
    Column("resolution", JSON, nullable=True),
    Column("resolved_by", String, nullable=True),
    Column("candidate_times", JSON, nullable=True),  # instance -> when its value was entered there
    Index("ix_conflicts_record_field", "record_id", "field"),
    Index("uq_conflicts_open", "record_id", "field", unique=True,
          sqlite_where=text("status = 'open'"), postgresql_where=text("status = 'open'")),
)

review_items = Table(
    "review_items", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("instance", String, nullable=False),
    Column("remote_id", String, nullable=False),
    Column("kind", String, nullable=False),
    # "values" is an SQL keyword: the column has another name, the row field keeps the contract's name
    Column("entry_values", JSON, nullable=False),
    Column("candidates", JSON, nullable=False),
    Column("status", String, nullable=False),
    Column("opened_at", UTCDateTime, nullable=False),
    Column("closed_at", UTCDateTime, nullable=True),
    Index("uq_review_items_open", "instance", "remote_id", unique=True,
          sqlite_where=text("status = 'open'"), postgresql_where=text("status = 'open'")),
)

runs = Table(
    "runs", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("started_at", UTCDateTime, nullable=False),
    Column("finished_at", UTCDateTime, nullable=True),
    Column("status", String, nullable=False),
    Column("exit_code", Integer, nullable=True),
    Column("report", JSON, nullable=False),
)

state = Table(
    "state", metadata,
    Column("key", String, primary_key=True),
    Column("value", JSON, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

# A value someone changed where the service publishes (a card edited in Nextcloud, DECISIONS §18): kept for the
# coordinator to accept into the record or reject. One open suggestion per record, instance and field.
suggestions = Table(
    "suggestions", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("record_id", String, ForeignKey("records.id", name="fk_suggestions_record"), nullable=False),
    Column("instance", String, nullable=False),
    Column("field", String, nullable=False),
    Column("value", JSON(none_as_null=True), nullable=True),
    Column("observed_at", UTCDateTime, nullable=False),
    Column("status", String, nullable=False),
    Index("ix_suggestions_record", "record_id"),
    Index("uq_suggestions_open", "record_id", "instance", "field", unique=True,
          sqlite_where=text("status = 'open'"), postgresql_where=text("status = 'open'")),
)
