"""How the web application reads the store while loads may run beside it.

DuckDB lets one process write a database file, or any number of processes read it, never
both. The web server therefore reads through one **read-only** connection, opened on first
use and kept (opening costs tens of milliseconds; a lookup a few), with a cursor per
request. A writer (``chainsleuth world load``, an ingester) announces itself in
``writer.intent`` and waits for the lock; the server notices within ``poll_s`` (a watcher
thread, and on every request), lets the requests in flight finish, and closes its
connection. While the writer works, requests get ``StoreBusy`` (HTTP 503, "a load is
running"); the next request after the writer has gone opens the store again.

A writer in the same process (tests, an ingester inside the server) is shared instead:
DuckDB refuses a second, read-only, connection to a file its own process writes.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from chainsleuth.chain import storage
from chainsleuth.chain.lookups import ChainReader
from chainsleuth.chain.store import open_writer_for


class ChainStoreAccess:
    def __init__(self, root: Path, *, poll_s: float = 0.5) -> None:
        self.root = Path(root)
        self.poll_s = poll_s
        self._intent = storage.IntentFile(self.root)
        self._con: duckdb.DuckDBPyConnection | None = None
        self._active = 0
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None
        self._idle: list[duckdb.DuckDBPyConnection] = []  # cursors to reuse

    @contextmanager
    def reader(self) -> Iterator[ChainReader]:
        """A reader for one request. Raises StoreBusy while a writer holds the store."""
        writer = open_writer_for(self.root)
        if writer is not None:
            with writer.reader() as shared:
                yield shared
            return
        with self._cond:
            pid = self._intent.waiting_writer()
            if pid is not None:
                self._release()
                raise storage.StoreBusy(
                    f"the chain store is being updated by another process ({pid}); "
                    "try again when the load has finished"
                )
            if self._con is None:
                if not (self.root / storage.DB_FILE).exists():
                    cursor = None
                else:
                    self._con = storage.connect(self.root, read_only=True)
                    self._start_watcher()
            if self._con is None:
                cursor = None
            else:
                cursor = self._idle.pop() if self._idle else storage.cursor(self._con)
            self._active += 1
        try:
            yield ChainReader(cursor, self.root)
        finally:
            with self._cond:
                if cursor is not None and self._con is not None:
                    self._idle.append(cursor)
                elif cursor is not None:
                    cursor.close()
                self._active -= 1
                self._cond.notify_all()

    def _release(self) -> None:
        """Close the connection once no request uses it (called holding the condition)."""
        while self._active:
            self._cond.wait()
        for cursor in self._idle:
            cursor.close()
        self._idle.clear()
        if self._con is not None:
            self._con.close()
            self._con = None

    def _start_watcher(self) -> None:
        if self._watcher is not None and self._watcher.is_alive():
            return
        self._stop.clear()
        self._watcher = threading.Thread(
            target=self._watch, name="chain-store-watcher", daemon=True
        )
        self._watcher.start()

    def _watch(self) -> None:
        while not self._stop.wait(self.poll_s):
            if self._intent.waiting_writer() is not None:
                with self._cond:
                    self._release()
                return

    def close(self) -> None:
        self._stop.set()
        with self._cond:
            self._release()
        if self._watcher is not None:
            self._watcher.join(timeout=5)
