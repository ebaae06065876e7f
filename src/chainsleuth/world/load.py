"""``load_world``: check a world folder whole, then append its chains to the chain store.

Nothing is appended before the whole folder has been checked: the manifest (format and
version), every file's presence and size, every chain file's Parquet schema against
``SOURCE``, and the SHA-256 of every file but the chain files. A chain file's SHA-256 is
checked on the very bytes the loader reads and decodes (each file is read once, and
hashing runs on the reading thread, beside the appends). Each block range is one atomic
``ChainStore.append``; should one fail (a chain file that fails its checksum included),
the chains are cut back to where they were before this load (``truncate_after``), so a
load either completes or leaves the store's chains as it found them. Loading a world twice
is a no-op (the store skips batches it already holds with the same block hashes).

Consecutive block ranges of a chain are appended together, in batches of at least
``BATCH_TXS`` transactions: each append leaves one sorted run in the lookup indexes, and
fewer, bigger runs keep a big world under ``OPTIMIZE_RUNS`` runs per chain, so that the
closing ``optimize`` need not rewrite the index tables whole. While the store appends one
batch, a reading thread reads the next and does the store's batch-only work on it
(``chainsleuth.chain.prepare``): two batches in memory at most. The very first batch is
one range where that holds a quarter of ``BATCH_TXS`` (its reading overlaps nothing), so
that the appending starts early; meanwhile the compiled kernels are loaded.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from chainsleuth.chain.batch import BlockRange
from chainsleuth.chain.schemas import SOURCE
from chainsleuth.core.errors import IntegrityViolation, InvalidInput
from chainsleuth.world import manifest as mf

Progress = Callable[[str, int, int], None]
CHAIN_ORDER = ("btc", "eth")
#: consecutive ranges of a chain are appended together until a batch has this many txs
BATCH_TXS = 600_000


def chain_files(manifest: dict[str, Any]) -> set[str]:
    """The paths of the manifest's chain files (its block ranges' tables)."""
    return {
        rel
        for info in manifest.get("chains", {}).values()
        for r in info.get("ranges", [])
        for rel in r.get("files", {}).values()
    }


def check_world(
    folder: Path, on_progress: Progress | None = None, *, chain_checksums: bool = True
) -> dict[str, Any]:
    """The manifest of a complete, intact world folder; raises otherwise (nothing changes).

    ``chain_checksums=False`` leaves the chain files' SHA-256 to their reader
    (``read_range(..., manifest=...)``); their presence, size and schema are checked here."""
    manifest = mf.read_manifest(folder)
    files: dict[str, Any] = manifest["files"]
    size_only = set() if chain_checksums else chain_files(manifest)
    total = sum(int(f.get("bytes", 0)) for rel, f in files.items() if rel not in size_only)
    done = 0

    def tick(rel: str, n: int) -> None:
        nonlocal done
        if rel in size_only:
            return
        done += n
        if on_progress is not None:
            on_progress("checking files", done, total)

    mf.verify_files(folder, manifest, on_file=tick, size_only=size_only)
    for chain, info in manifest["chains"].items():
        kind = info.get("kind")
        if kind not in SOURCE:
            raise InvalidInput(f"world {folder}: chain {chain!r} has an unknown kind {kind!r}")
        expected_first = info.get("first_height", 0)
        for r in info["ranges"]:
            if r["first"] != expected_first:
                raise IntegrityViolation(
                    f"world {folder}: {chain} ranges are not contiguous at height {r['first']}"
                )
            expected_first = r["last"] + 1
            for table, rel in r["files"].items():
                if rel not in files:
                    raise IntegrityViolation(
                        f"world {folder}: {rel} has no checksum in the manifest"
                    )
                try:
                    schema = pq.read_schema(folder / rel)
                except (OSError, pa.ArrowInvalid) as exc:
                    raise IntegrityViolation(
                        f"world {folder}: {rel} is not a readable Parquet file ({exc})"
                    ) from exc
                want = SOURCE[kind].get(table)
                if want is None or not same_schema(schema, want):
                    raise IntegrityViolation(
                        f"world {folder}: {rel} does not have the {kind} {table} schema"
                    )
    return manifest


def same_schema(got: pa.Schema, want: pa.Schema) -> bool:
    """Equal but for timestamp units (Parquet has no seconds: they come back as ms)."""
    if got.names != want.names:
        return False
    for a, b in zip(got, want, strict=True):
        if pa.types.is_timestamp(a.type) and pa.types.is_timestamp(b.type):
            if a.type.tz != b.type.tz:
                return False
        elif a.type != b.type:
            return False
    return True


def read_range(
    folder: Path,
    chain: str,
    r: dict[str, Any],
    *,
    manifest: dict[str, Any] | None = None,
    combine: bool = True,
) -> BlockRange:
    """One block range of a world as a validated batch. With ``manifest``, each file's
    size and SHA-256 are checked on the bytes mapped, which are then decoded (read once,
    from the page cache: no copy). ``combine=False`` leaves a column's row groups as
    chunks (for a caller that concatenates ranges and combines them once)."""
    tables = {}
    for table, rel in r["files"].items():
        try:
            if manifest is None:
                source: Any = folder / rel
            else:
                with pa.memory_map(str(folder / rel)) as mapped:
                    data = mapped.read_buffer()
                mf.verify_bytes(folder, manifest, rel, data)
                source = pa.BufferReader(data)
            read = pq.read_table(source)
            # one chunk per column: the store would otherwise concatenate them itself
            tables[table] = read.combine_chunks() if combine else read
        except (OSError, pa.ArrowInvalid) as exc:
            raise IntegrityViolation(f"world {folder}: {rel} cannot be read ({exc})") from exc
    batch = BlockRange.conform(chain, int(r["first"]), int(r["last"]), tables)
    batch.validate()
    return batch


def read_ranges(
    folder: Path,
    chain: str,
    ranges: list[dict[str, Any]],
    *,
    manifest: dict[str, Any] | None = None,
) -> BlockRange:
    """Consecutive block ranges of a world as one validated batch (``read_range`` each)."""
    if len(ranges) == 1:
        return read_range(folder, chain, ranges[0], manifest=manifest)
    parts = [read_range(folder, chain, r, manifest=manifest, combine=False) for r in ranges]
    tables = {
        name: pa.concat_tables([p.tables[name] for p in parts]).combine_chunks()
        for name in parts[0].tables
    }
    del parts
    batch = BlockRange(chain, int(ranges[0]["first"]), int(ranges[-1]["last"]), tables)
    batch.validate()
    return batch


def batches(ranges: list[dict[str, Any]], min_txs: int = BATCH_TXS) -> list[list[dict[str, Any]]]:
    """A chain's ranges in order, grouped into batches of at least ``min_txs`` transactions
    (a remainder under half that joins the batch before it)."""
    groups: list[list[dict[str, Any]]] = []
    txs = 0
    for r in ranges:
        if not groups or txs >= min_txs:
            groups.append([])
            txs = 0
        groups[-1].append(r)
        txs += int(r.get("rows", {}).get("txs", 0))
    if len(groups) > 1 and txs < min_txs // 2:  # a small remainder joins the batch before
        last = groups.pop()
        groups[-1].extend(last)
    return groups


def _txs(ranges: list[dict[str, Any]]) -> int:
    return sum(int(r.get("rows", {}).get("txs", 0)) for r in ranges)


def _read_prepared(
    folder: Path, manifest: dict[str, Any], chain: str, ranges: list[dict[str, Any]]
) -> BlockRange:
    """``read_ranges`` (checksums included), and the store's batch-only work done on this
    (the reading) thread."""
    from chainsleuth.chain.prepare import prepare  # noqa: PLC0415 - heavy, and only here

    return prepare(read_ranges(folder, chain, ranges, manifest=manifest))


def load_world(
    folder: Path,
    *,
    store_root: Path | None = None,
    on_progress: Progress | None = None,
    on_append: Callable[[str, int, int], None] | None = None,
    batch_txs: int = BATCH_TXS,
) -> dict[str, int]:
    """Load every chain of the world at ``folder``; returns transactions appended per chain.

    ``batch_txs``: consecutive ranges are appended together up to this many transactions
    (see ``batches``; 1 appends range by range)."""
    from chainsleuth.chain.kernels import warm_up  # noqa: PLC0415 - heavy, and only here
    from chainsleuth.chain.store import ChainStore  # noqa: PLC0415 - heavy, and only here

    folder = Path(folder)
    manifest = check_world(folder, on_progress, chain_checksums=False)
    if store_root is None:
        from chainsleuth.chain import service as chain_service  # noqa: PLC0415
        from chainsleuth.core.config import load_settings  # noqa: PLC0415

        store_root = chain_service.store_root(load_settings())
    chains = [c for c in CHAIN_ORDER if c in manifest["chains"]]
    total = sum(int(manifest["chains"][c]["counts"].get("txs", 0)) for c in chains)
    loaded = dict.fromkeys(chains, 0)
    done = 0
    todo = [
        (chain, g)
        for chain in chains
        for g in batches(manifest["chains"][chain]["ranges"], batch_txs)
    ]
    if todo and len(todo[0][1]) > 1 and _txs(todo[0][1][:1]) >= batch_txs // 4:
        # nothing overlaps the reading of the first batch: make it one range (when that is
        # big enough to be a sorted run of its own), so that the appending starts early
        chain, first = todo[0]
        todo[:1] = [(chain, first[:1]), (chain, first[1:])]
    # the next range is read (Parquet decoding runs outside the GIL) while one appends
    reader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="world-read")
    with ChainStore(store_root) as store:
        before = {c: store.tip(c) for c in chains}
        try:
            pending = reader.submit(_read_prepared, folder, manifest, *todo[0]) if todo else None
            warm_up()  # while the first batch is read
            for i, (chain, group) in enumerate(todo):
                assert pending is not None
                batch = pending.result()
                pending = (
                    reader.submit(_read_prepared, folder, manifest, *todo[i + 1])
                    if i + 1 < len(todo)
                    else None
                )
                result = store.append(batch)
                if on_append is not None and not result.skipped:
                    on_append(chain, batch.first_height, batch.last_height)
                del batch
                rows = _txs(group)
                loaded[chain] += 0 if result.skipped else result.txs
                done += rows
                if on_progress is not None:
                    on_progress("loading transactions", done, total)
                last_of_chain = i + 1 == len(todo) or todo[i + 1][0] != chain
                if last_of_chain and loaded[chain]:
                    if on_progress is not None:
                        on_progress(f"optimising {chain}", 0, 1)
                    store.optimize(chain)
                    if on_progress is not None:
                        on_progress(f"optimising {chain}", 1, 1)
        except BaseException:
            reader.shutdown(wait=True, cancel_futures=True)
            for chain, tip in before.items():
                store.truncate_after(chain, -1 if tip is None else tip)
            raise
        finally:
            reader.shutdown(wait=True, cancel_futures=True)
    return loaded
