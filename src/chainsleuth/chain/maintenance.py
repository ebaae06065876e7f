"""Keeping the store's lookups fast, and rolling it back for re-orgs.

* ``optimize``: appends insert their index rows sorted per batch, so a bulk load in big
  batches leaves a few sorted runs (a lookup reads a row group of each); many small
  appends leave an unsorted tail, which ``sort_tail`` re-inserts as one run. ``optimize``
  sorts the tail, merges small consecutive Parquet segments, and rewrites as one run
  the index tables holding rows of a chain that asks for it (``full``) or has more than
  ``OPTIMIZE_RUNS`` runs (``TABLE_KINDS``: the other kind's tables are left alone).
* ``truncate_after``: removes every block above a height in one transaction: segments
  dropped or rewritten, index rows deleted, the outputs the removed blocks spent put back
  into the UTXO set. Address ids survive; transaction ids above are given out again.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from chainsleuth.chain import storage
from chainsleuth.chain.chains import CHAINS, get_chain
from chainsleuth.chain.encode import ChainState, registered
from chainsleuth.chain.enums import ChainKind
from chainsleuth.chain.keys import hash_keys
from chainsleuth.chain.segments import stored_schemas

if TYPE_CHECKING:
    from chainsleuth.chain.store import ChainStore

#: sorted runs past which ``optimize`` rewrites the index tables as one run
OPTIMIZE_RUNS = 16
#: ``optimize`` merges consecutive small segments (each under ``SMALL_SEGMENT_ROWS`` rows,
#: of a batch of under ``SMALL_BATCH_TXS`` transactions, as block-by-block ingestion
#: leaves them) into segments of up to ``SEGMENT_ROWS`` rows. A bulk load's segments are
#: left as they are: rewriting them would cost more than it saves a lookup.
SEGMENT_ROWS = 4_000_000
#: the kind of chain whose rows each sorted index table holds (None: every kind)
TABLE_KINDS: dict[str, ChainKind | None] = {
    "utxo_address_txs": ChainKind.UTXO,
    "spends": ChainKind.UTXO,
    "utxos": ChainKind.UTXO,
    "account_address_txs": ChainKind.ACCOUNT,
    "addresses": None,
    "tx_keys": None,
}
SMALL_SEGMENT_ROWS = 500_000
SMALL_BATCH_TXS = 50_000


def _rollback(store: ChainStore) -> None:
    storage.rollback(store.con)


def sort_tail(store: ChainStore, chain: str) -> None:
    """Re-insert, sorted, the index rows of the small appends since the last run."""
    state = store.state(chain)
    tables: list[tuple[str, str, int, str]] = [
        ("tx_keys", "tx_id", state.tail_tx_from, "k1"),
        ("addresses", "address_id", state.tail_address_from, "k1"),
    ]
    if get_chain(chain).kind is ChainKind.UTXO:
        tables += [
            ("utxo_address_txs", "tx_id", state.tail_tx_from, "address_id, tx_id"),
            ("spends", "tx_id", state.tail_tx_from, "prev_tx_id, prev_n"),
        ]
    else:
        tables.append(
            ("account_address_txs", "tx_id", state.tail_tx_from, "address_id, tx_id, asset_id")
        )
    con = store.con
    con.execute("BEGIN TRANSACTION").fetchall()
    try:
        for table, column, start, order in tables:  # names from the fixed list above
            con.execute(
                f"CREATE TEMP TABLE _tail AS SELECT * FROM {table} "
                f"WHERE chain = ? AND {column} >= ?",
                [chain, start],
            ).fetchall()
            con.execute(
                f"DELETE FROM {table} WHERE chain = ? AND {column} >= ?", [chain, start]
            ).fetchall()
            con.execute(f"INSERT INTO {table} SELECT * FROM _tail ORDER BY {order}").fetchall()
            con.execute("DROP TABLE _tail").fetchall()
        con.execute(
            """UPDATE chain_state SET runs = runs + 1, tail_rows = 0,
                   tail_tx_from = tx_count, tail_address_from = address_count
               WHERE chain = ?""",
            [chain],
        ).fetchall()
        con.execute("COMMIT").fetchall()
    except BaseException:
        storage.rollback(con)
        raise


def optimize(store: ChainStore, chain: str | None = None, *, full: bool = False) -> None:
    """Keep lookups fast after loads: sort what small appends left unsorted, merge small
    consecutive segments, and (``full``, or past ``OPTIMIZE_RUNS`` sorted runs) rewrite
    the index tables as one sorted run: those that hold rows of the chains due (a bulk
    load of an account chain leaves the UTXO tables as they are).

    Run it after a bulk load (``world load`` does). A bulk load in big batches leaves a
    few sorted runs, which lookups read a row group each of: no full rewrite is needed
    then. Appends rewrite by themselves past ``MAX_RUNS`` runs.
    """
    chains = [get_chain(chain).id] if chain else list(CHAINS)
    with store._lock:
        store._check_open()
        con = store.con
        for name in chains:
            if store.state(name).tail_rows:
                sort_tail(store, name)
        runs = {name: store.state(name).runs for name in chains}
        due = [name for name, n in runs.items() if (full and n > 1) or n > OPTIMIZE_RUNS]
        # only the tables that hold rows of those chains are rewritten
        kinds = {get_chain(name).kind for name in due}
        tables = [
            (table, order)
            for table, order in storage.SORTED_TABLES.items()
            if TABLE_KINDS.get(table) is None or TABLE_KINDS[table] in kinds
        ]
        to_delete: list[Path] = []
        con.execute("BEGIN TRANSACTION").fetchall()
        try:
            for table, order in tables if due else ():
                # table names and orders come from storage.SORTED_TABLES; the copy keeps
                # the table's definition (constraints, column compression)
                (ddl,) = storage.one(
                    con, "SELECT sql FROM duckdb_tables() WHERE table_name = ?", [table]
                )
                copy = ddl.replace(f"CREATE TABLE {table}(", f"CREATE TABLE {table}__sorted(", 1)
                if copy == ddl:  # pragma: no cover - DuckDB writes the name as created
                    copy = f"CREATE TABLE {table}__sorted AS SELECT * FROM {table} WHERE false"
                con.execute(copy).fetchall()
                con.execute(
                    f"INSERT INTO {table}__sorted SELECT * FROM {table} ORDER BY {order}"
                ).fetchall()
                con.execute(f"DROP TABLE {table}").fetchall()
                con.execute(f"ALTER TABLE {table}__sorted RENAME TO {table}").fetchall()
            if due:
                con.execute(
                    "UPDATE chain_state SET runs = 1 WHERE chain IN (SELECT unnest(?::VARCHAR[]))",
                    [due],
                ).fetchall()
                con.execute(storage.SCHEMA[-1]).fetchall()  # the address_txs union view
            for name in chains:
                to_delete += _merge_segments(store, name)
                store._create_views(name)
            con.execute("COMMIT").fetchall()
        except BaseException:
            storage.rollback(con)
            raise
        for path in to_delete:
            path.unlink(missing_ok=True)
        con.execute("CHECKPOINT").fetchall()


def _merge_segments(store: ChainStore, chain: str) -> list[Path]:
    """Merge runs of consecutive small segments of each table (in the open transaction)."""
    replaced: list[Path] = []
    segments = storage.rows(
        store.con,
        """SELECT segment_id, tbl, first_height, last_height, first_tx_id, last_tx_id,
                  path, rows
           FROM segments WHERE chain = ? ORDER BY tbl, first_height""",
        [chain],
    )

    def small(seg: Any) -> bool:
        return bool(seg[7] < SMALL_SEGMENT_ROWS and seg[5] - seg[4] + 1 < SMALL_BATCH_TXS)

    groups: list[list[Any]] = []
    for seg in segments:
        last = groups[-1] if groups else None
        if (
            last is not None
            and last[-1][1] == seg[1]
            and last[-1][3] + 1 == seg[2]
            and small(seg)
            and small(last[-1])
            and sum(s[7] for s in last) + seg[7] <= SEGMENT_ROWS
        ):
            last.append(seg)
        else:
            groups.append([seg])
    kind = str(get_chain(chain).kind)
    next_id = int(storage.one(store.con, "SELECT coalesce(max(segment_id), 0) FROM segments")[0])
    for group in groups:
        if len(group) < 2:
            continue
        table = group[0][1]
        paths = [store.root / s[6] for s in group]
        merged = pa.concat_tables([pq.read_table(p) for p in paths]).cast(
            stored_schemas(kind)[table]
        )
        next_id += 1
        first_h, last_h = group[0][2], group[-1][3]
        rel = storage.segment_path(chain, table, first_h, last_h, next_id)
        path = store.root / rel
        try:
            store._write_parquet(merged, path)
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        store.con.execute(
            "DELETE FROM segments WHERE segment_id IN (SELECT unnest(?::BIGINT[]))",
            [[s[0] for s in group]],
        ).fetchall()
        store._insert_segments(
            [
                [
                    next_id,
                    chain,
                    table,
                    first_h,
                    last_h,
                    min(s[4] for s in group),
                    max(s[5] for s in group),
                    rel,
                    merged.num_rows,
                    path.stat().st_size,
                    datetime.now(UTC),
                ]
            ]
        )
        replaced += paths
    return replaced


def truncate_after(store: ChainStore, chain: str, height: int) -> int:
    """Remove every block above ``height`` (and all it holds), atomically.

    Returns the number of blocks removed. ``height`` below the chain's first block
    empties the chain (its address ids stay reserved).
    """
    info = get_chain(chain)
    chain = info.id
    with store._lock:
        store._check_open()
        state = store.state(chain)
        if state.tip_height is None or height >= state.tip_height:
            return 0
        con = store.con
        first_gone = storage.one(
            con,
            "SELECT min(first_tx_id), count(*) FROM blocks WHERE chain = ? AND height > ?",
            [chain, height],
        )
        new_tx_count, removed = int(first_gone[0]), int(first_gone[1])
        to_delete: list[Path] = []
        written: list[Path] = []
        con.execute("BEGIN TRANSACTION").fetchall()
        try:
            if info.kind is ChainKind.UTXO:
                _unspend(store, chain, height, new_tx_count)
                index_tables = ["utxo_address_txs", "spends", "tx_keys"]
                con.execute(
                    "DELETE FROM utxos WHERE chain = ? AND tx_id >= ?", [chain, new_tx_count]
                ).fetchall()
            else:
                index_tables = ["account_address_txs", "tx_keys"]
            for table in index_tables:  # fixed names
                con.execute(
                    f"DELETE FROM {table} WHERE chain = ? AND tx_id >= ?",
                    [chain, new_tx_count],
                ).fetchall()
            con.execute(
                "DELETE FROM blocks WHERE chain = ? AND height > ?", [chain, height]
            ).fetchall()
            to_delete = _cut_segments(store, chain, height, new_tx_count, written)
            tip = storage.one(
                con,
                "SELECT height, hash, epoch(time)::BIGINT FROM blocks WHERE chain = ? "
                "ORDER BY height DESC LIMIT 1",
                [chain],
            )
            store._save_state(
                ChainState(
                    chain=chain,
                    first_height=state.first_height if tip else None,
                    tip_height=tip[0] if tip else None,
                    tip_hash=tip[1] if tip else None,
                    tx_count=new_tx_count,
                    address_count=state.address_count,
                    address_bytes=state.address_bytes,
                    runs=state.runs,
                    tail_tx_from=min(state.tail_tx_from, new_tx_count),
                    tail_address_from=state.tail_address_from,
                    tail_rows=state.tail_rows,
                ),
                tip_time=datetime.fromtimestamp(tip[2], UTC) if tip else None,
            )
            store._record_event(
                chain, "truncate", height + 1, state.tip_height, state.tx_count - new_tx_count
            )
            store._create_views(chain)
            con.execute("COMMIT").fetchall()
        except BaseException:
            storage.rollback(con)
            for path in written:
                path.unlink(missing_ok=True)
            raise
        for path in to_delete:
            path.unlink(missing_ok=True)
        return removed


def _unspend(store: ChainStore, chain: str, height: int, new_tx_count: int) -> None:
    """Put back into the UTXO set the outputs that the removed blocks spent."""
    files = [
        str(store.root / p)
        for (p,) in storage.rows(
            store.con,
            "SELECT path FROM segments WHERE chain = ? AND tbl = 'inputs' AND last_height > ?",
            [chain, height],
        )
    ]
    if not files:
        return
    spent = storage.arrow(
        store.con,
        """SELECT prev_tx_id, prev_n, address_id, value FROM read_parquet(?::VARCHAR[])
           WHERE height > ? AND prev_tx_id < ?""",
        [files, height, new_tx_count],
    )
    if spent.num_rows == 0:
        return
    raw = store.flat(chain).tx_hashes(spent["prev_tx_id"].to_numpy())
    k1, k2 = hash_keys(raw)
    table = spent.append_column("k1", pa.array(k1)).append_column("k2", pa.array(k2))
    with registered(store.con, table) as name:
        store.con.execute(
            f"""INSERT INTO utxos
            SELECT ?, k1, k2, prev_n, prev_tx_id, address_id, value FROM {name}""",
            [chain],
        ).fetchall()


def _cut_segments(
    store: ChainStore, chain: str, height: int, new_tx_count: int, written: list[Path]
) -> list[Path]:
    """Drop segments above ``height``; rewrite the one that straddles it."""
    kind = str(get_chain(chain).kind)
    gone: list[Path] = []
    segments = storage.rows(
        store.con,
        """SELECT segment_id, tbl, first_height, first_tx_id, path FROM segments
           WHERE chain = ? AND last_height > ? AND tbl <> 'addresses'""",
        [chain, height],
    )
    next_id = int(storage.one(store.con, "SELECT coalesce(max(segment_id), 0) FROM segments")[0])
    for segment_id, table, first_h, first_tx, rel in segments:
        store.con.execute("DELETE FROM segments WHERE segment_id = ?", [segment_id]).fetchall()
        gone.append(store.root / rel)
        if first_h > height:
            continue
        kept = pq.read_table(store.root / rel).filter(pc.field("height") <= height)
        next_id += 1
        new_rel = storage.segment_path(chain, table, first_h, height, next_id)
        path = store.root / new_rel
        written.append(path)
        store._write_parquet(kept.cast(stored_schemas(kind)[table]), path)
        store._insert_segments(
            [
                [
                    next_id,
                    chain,
                    table,
                    first_h,
                    height,
                    first_tx,
                    new_tx_count - 1,
                    new_rel,
                    kept.num_rows,
                    path.stat().st_size,
                    datetime.now(UTC),
                ]
            ]
        )
    return gone
