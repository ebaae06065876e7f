"""Where entities are kept: ``<store root>/<chain>/entities/`` beside the chain data.

::

    state.json                       what is current (written last, atomically)
    entities.<run>.npy               address id -> entity id (int32; int64 past 2**31)
    evidence.<generation>.<run>.pq   the merges one run made (Parquet; see EVIDENCE)
    coinjoins.<generation>.<run>.pq  the CoinJoin-like transactions it skipped (Parquet)
    warnings.jsonl                   large-entity merges, one JSON object a line
    build.lock                       held (flock) while a build runs

The Parquet files end in ``.pq``, not ``.parquet``: the chain store's writer deletes every
``<chain>/*/*.parquet`` its manifest does not name when it opens.

A build writes its new files under new names (temporary file, fsync, rename), then
``state.json`` the same way, then deletes the files the new state no longer names; a crash
at any point leaves the previous state whole (unnamed files are removed by the next
build). A full build starts a new *generation*: its evidence replaces all older evidence.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from chainsleuth.core.errors import Conflict, IntegrityViolation

DIR = "entities"
STATE_FILE = "state.json"
FORMAT_VERSION = 1

#: one row per merge: ``a`` and ``b`` were joined by ``tx_id`` (and ``tx_b`` for a
#: two-transaction link such as two senders to one deposit address ``via``)
EVIDENCE = pa.schema(
    [
        pa.field("a", pa.int64(), nullable=False),
        pa.field("b", pa.int64(), nullable=False),
        pa.field("tx_id", pa.int64(), nullable=False),
        pa.field("tx_b", pa.int64(), nullable=False),  # -1: none
        pa.field("via", pa.int64(), nullable=False),  # -1: none
        pa.field("heuristic", pa.int8(), nullable=False),
    ]
)


@dataclass
class EntityState:
    chain: str
    generation: int = 0
    run: int = 0
    last_height: int | None = None
    event_seq: int = 0
    address_count: int = 0
    heuristics: list[str] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)
    entity_file: str | None = None
    evidence_files: list[str] = field(default_factory=list)
    coinjoin_files: list[str] = field(default_factory=list)
    merges: int = 0
    entities: int = 0  # with two or more addresses
    largest: int = 0
    coinjoins: int = 0
    updated_at: str = ""
    format_version: int = FORMAT_VERSION


def entity_dir(root: Path, chain: str) -> Path:
    return Path(root) / chain / DIR


def load_state(root: Path, chain: str) -> EntityState | None:
    path = entity_dir(root, chain) / STATE_FILE
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise IntegrityViolation(f"{path} cannot be read ({exc}): rebuild with --full") from exc
    if data.get("format_version") != FORMAT_VERSION:
        raise IntegrityViolation(
            f"{path} has entity format {data.get('format_version')}; this version reads "
            f"{FORMAT_VERSION}: rebuild with `chainsleuth entities build --full`"
        )
    known = EntityState.__dataclass_fields__
    return EntityState(**{k: v for k, v in data.items() if k in known})


def load_entities(root: Path, chain: str, state: EntityState, *, mmap: bool = True) -> np.ndarray:
    """The address id -> entity id array of ``state`` (memory-mapped, read-only)."""
    if state.entity_file is None:
        return np.empty(0, dtype=np.int32)
    path = entity_dir(root, chain) / state.entity_file
    try:
        found: np.ndarray = np.load(path, mmap_mode="r" if mmap else None)
    except FileNotFoundError:
        # a build finished between reading the state and the array: read the new state
        newer = load_state(root, chain)
        if newer is None or newer.entity_file == state.entity_file:
            raise IntegrityViolation(f"{path} is missing: rebuild with --full") from None
        return load_entities(root, chain, newer, mmap=mmap)
    except (OSError, ValueError) as exc:
        raise IntegrityViolation(f"{path} cannot be read ({exc}): rebuild with --full") from exc
    return found


def evidence_paths(root: Path, chain: str, state: EntityState) -> list[Path]:
    return [entity_dir(root, chain) / f for f in state.evidence_files]


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _commit(tmp: Path, final: Path) -> None:
    fd = os.open(tmp, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, final)


def write_entities(directory: Path, name: str, entities: np.ndarray) -> None:
    tmp = directory / (name + ".tmp")
    with open(tmp, "wb") as fh:
        np.save(fh, entities, allow_pickle=False)
    _commit(tmp, directory / name)


COINJOINS = pa.schema(
    [
        pa.field("tx_id", pa.int64(), nullable=False),
        pa.field("kind", pa.int8(), nullable=False),
    ]
)


def write_table(directory: Path, name: str, table: pa.Table) -> None:
    tmp = directory / (name + ".tmp")
    pq.write_table(table, tmp, compression="zstd")
    _commit(tmp, directory / name)


def write_state(directory: Path, state: EntityState) -> None:
    tmp = directory / (STATE_FILE + ".tmp")
    tmp.write_text(json.dumps(asdict(state), indent=2, sort_keys=True))
    _commit(tmp, directory / STATE_FILE)
    _fsync_dir(directory)


def append_warnings(directory: Path, warnings: list[dict[str, Any]]) -> None:
    if not warnings:
        return
    with open(directory / "warnings.jsonl", "a") as fh:
        for w in warnings:
            fh.write(json.dumps(w, sort_keys=True) + "\n")


def read_warnings(root: Path, chain: str, limit: int = 100) -> list[dict[str, Any]]:
    path = entity_dir(root, chain) / "warnings.jsonl"
    try:
        lines = path.read_text().splitlines()
    except FileNotFoundError:
        return []
    return [json.loads(line) for line in lines[-limit:] if line.strip()]


def clean(directory: Path, state: EntityState) -> None:
    """Delete entity and evidence files that ``state`` does not name (older runs, crashes)."""
    keep = set(state.evidence_files) | set(state.coinjoin_files) | {state.entity_file}
    for path in directory.iterdir():
        name = path.name
        if name.startswith(("entities.", "evidence.", "coinjoins.")) and name not in keep:
            path.unlink(missing_ok=True)
        elif name.endswith(".tmp"):
            path.unlink(missing_ok=True)


@contextmanager
def build_lock(root: Path, chain: str) -> Iterator[Path]:
    """The chain's entities folder, held by this process for one build."""
    directory = entity_dir(root, chain)
    directory.mkdir(parents=True, exist_ok=True)
    fh = open(directory / "build.lock", "w")  # noqa: SIM115 - held for the block
    try:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise Conflict(
                f"another entities build for {chain} is running; try again when it has finished"
            ) from None
        yield directory
    finally:
        fh.close()
