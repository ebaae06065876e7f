"""The chain store for the rest of chainsleuth: where it lives and how to open it.

Other domains use it as ``from chainsleuth.chain import service as chain_service``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from chainsleuth.chain import storage
from chainsleuth.chain.lookups import ChainReader
from chainsleuth.chain.store import ChainStore, open_writer_for
from chainsleuth.core.config import Settings

STORE_DIR = "chains"


def store_root(settings: Settings) -> Path:
    """The store's folder: ``<data_dir>/chains``."""
    return settings.data_dir / STORE_DIR


def open_store(settings: Settings, *, wait_s: float = 30.0) -> ChainStore:
    """The store opened for writing (waits up to ``wait_s`` for readers to let go)."""
    return ChainStore(store_root(settings), wait_s=wait_s)


@contextmanager
def open_reader(settings: Settings) -> Iterator[ChainReader]:
    """A reader for a command: read-only, on its own connection (StoreBusy during a load)."""
    root = store_root(settings)
    writer = open_writer_for(root)
    if writer is not None:
        with writer.reader() as reader:
            yield reader
        return
    con = storage.connect(root, read_only=True) if (root / storage.DB_FILE).exists() else None
    with ChainReader(con, root) as reader:
        yield reader
