"""Engines and sessions. Nothing here runs at import: ``Database`` is built at start-up.

SQLite (the embedded default) runs in WAL mode (``synchronous=NORMAL``) and every transaction
begins with ``BEGIN IMMEDIATE`` so that writers queue instead of failing; PostgreSQL is used as
is.
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DisconnectionError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from chainsleuth.core.config import Settings
from chainsleuth.core.errors import ConfigurationError, DatabaseNotReady

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


def make_engine(url: str) -> Engine:
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ConfigurationError(f"invalid database URL: {url!r}") from exc
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})
        _configure_sqlite(engine)
        return engine
    if backend == "postgresql":
        engine = create_engine(url, pool_size=10, max_overflow=20)
        _configure_postgres(engine)
        return engine
    raise ConfigurationError(f"unsupported database {backend!r}: use sqlite or postgresql")


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # let us emit BEGIN ourselves
        cur = dbapi_connection.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        # WAL's usual pairing: a commit survives a crash of the process; only a power loss
        # may take the last commits back (never corrupts); no fsync per commit
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


#: a pooled PostgreSQL connection idle longer than this (seconds) is pinged before use
PING_IDLE_S = 5.0


def _configure_postgres(engine: Engine) -> None:
    """``pool_pre_ping``, for connections that sat idle: a connection handed back less
    than ``PING_IDLE_S`` ago is used as it is (a ping is a round trip, and a busy service
    such as screening checks a connection out for every request). A connection that
    failed anyway (the server restarted meanwhile) fails its statement, and the pool then
    drops every connection it holds."""

    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        since = record.info.pop("idle_since", None)
        if since is None or time.monotonic() - since < PING_IDLE_S:
            return  # a new connection, or one in use a moment ago
        try:
            alive = engine.dialect.do_ping(dbapi_connection)
        except Exception as exc:  # any failure of the driver: the connection is gone
            raise DisconnectionError(f"a pooled connection is gone: {exc}") from exc
        if not alive:
            raise DisconnectionError("a pooled connection is gone")


def database_key(session: Session) -> str:
    """What names the session's database in a process-wide cache: its engine's URL as text,
    rendered once per engine (rendering it for every call cost more than the cached work;
    a URL object hashes by rendering itself)."""
    engine = session.get_bind().engine
    found = _DATABASE_KEYS.get(engine)
    if found is None:
        found = _DATABASE_KEYS[engine] = str(engine.url)
    return found


_DATABASE_KEYS: weakref.WeakKeyDictionary[Engine, str] = weakref.WeakKeyDictionary()


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


class Database:
    """The operational database: an engine and a session factory."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> Database:
        return cls(settings.sqlalchemy_url)

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self.sessions() as session:
            yield session

    def upgrade(self, revision: str = "head") -> None:
        cfg = alembic_config(self.url)
        with self.engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)

    def current_revision(self) -> str | None:
        try:
            with self.engine.connect() as conn:
                return MigrationContext.configure(conn).get_current_revision()
        except OperationalError as exc:
            raise DatabaseNotReady(f"cannot reach the database: {exc.orig}") from exc

    def head_revision(self) -> str | None:
        return ScriptDirectory.from_config(alembic_config(self.url)).get_current_head()

    def check_migrated(self) -> None:
        current, head = self.current_revision(), self.head_revision()
        if current is None:
            raise DatabaseNotReady(
                "the database has no chainsleuth tables: run `chainsleuth db upgrade` first"
            )
        if current != head:
            raise DatabaseNotReady(
                f"the database is at revision {current}, this version needs {head}: "
                "run `chainsleuth db upgrade`"
            )

    def dispose(self) -> None:
        self.engine.dispose()
