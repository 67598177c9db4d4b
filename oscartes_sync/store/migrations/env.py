"""Alembic environment, run in code: no alembic.ini. `Store.__init__` passes its open connection in
`config.attributes["connection"]`. To write a new migration, bring a scratch database to head and let
Alembic compare it with models.py:

    from alembic import command
    from oscartes_sync.store import Store
    from oscartes_sync.store.api import alembic_config
    Store("sqlite:///dev.db").close()
    command.revision(alembic_config(url="sqlite:///dev.db"), message="...", autogenerate=True, rev_id="0002")

then review the file, and keep SQLite in mind (render_as_batch below).
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from oscartes_sync.store.models import metadata

VERSION_TABLE = "oscartes_schema_version"


def _configure_and_run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        version_table=VERSION_TABLE,
        # SQLite cannot ALTER most things: later migrations rebuild tables in batch mode
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is not None:
    _configure_and_run(connection)
else:
    url = context.config.get_main_option("sqlalchemy.url")
    if not url:
        raise SystemExit("no database: use alembic_config(url=...) from oscartes_sync.store.api")
    engine = create_engine(url)
    with engine.begin() as conn:
        _configure_and_run(conn)
    engine.dispose()
