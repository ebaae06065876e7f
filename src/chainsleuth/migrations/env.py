"""Alembic environment: runs on the connection chainsleuth hands it, or on the configured URL."""

from alembic import context
from sqlalchemy import Connection

from chainsleuth.core.db import make_engine
from chainsleuth.models import Base

config = context.config
target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.begin() as conn:
        _run(conn)
    engine.dispose()


if context.is_offline_mode():  # pragma: no cover
    raise SystemExit("offline migrations are not supported: run `chainsleuth db upgrade`")
run_migrations_online()
