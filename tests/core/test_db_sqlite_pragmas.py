"""SQLite's connection settings: WAL with synchronous=NORMAL, foreign keys, a busy timeout."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from chainsleuth.core.db import Database


def test_sqlite_connections_use_wal_without_an_fsync_per_commit(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'x.db'}")
    try:
        with db.engine.connect() as conn:
            assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert conn.execute(text("PRAGMA synchronous")).scalar() == 1  # NORMAL
            assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
            assert conn.execute(text("PRAGMA busy_timeout")).scalar() == 30000
    finally:
        db.dispose()
