"""Clustering addresses into entities: the engine interface and the single-machine engine.

``ClusteringEngine`` is what a job asks for; ``LocalEngine`` (DuckDB + numpy + numba) is the
ground truth, and a Spark engine implements the same ``build`` later, to be checked
against it on the same world.

A build reads the chain store a chunk of blocks at a time (``source.chunks``), unions the
addresses the enabled heuristics link (``unionfind``), keeps every merge as evidence, and
persists the result (``store``). It is **incremental**: a later build reads only the blocks
above the last processed height and merges them into the saved forest. It starts over
(a *full* build) when asked, when the heuristics or parameters differ from the saved run's,
or when the chain was cut back (a re-org) since. On account chains a build that finds new
blocks recomputes the deposit links from the whole history (a deposit address is known
only from all its transfers, and newer blocks may disprove one): one aggregation in DuckDB.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import duckdb
import numpy as np
import pyarrow as pa

from chainsleuth.chain import storage
from chainsleuth.chain.addresses import display_address
from chainsleuth.chain.enums import ChainKind
from chainsleuth.chain.keys import hex_of
from chainsleuth.core.errors import NotFound
from chainsleuth.entities import heuristics as hx
from chainsleuth.entities import source
from chainsleuth.entities import store as es
from chainsleuth.entities.enums import CODE, Code, Heuristic

log = logging.getLogger("chainsleuth.entities")

Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class BuildParams:
    """Knobs of a build; a change of any of them makes the next build a full one."""

    skip_coinjoin: bool = True
    #: warn when a merge joins two entities of at least this many addresses (0: never)
    large_entity: int = 1_000
    deposit: hx.DepositParams = field(default_factory=hx.DepositParams)

    def saved(self) -> dict[str, Any]:
        """What is compared between runs (the warning threshold is not)."""
        return {"skip_coinjoin": self.skip_coinjoin, "deposit": asdict(self.deposit)}


@dataclass
class BuildResult:
    chain: str
    mode: str  # "full", "incremental" or "up-to-date"
    first_height: int | None
    last_height: int | None
    addresses: int
    merges: int  # made by this run
    total_merges: int
    entities: int  # with two or more addresses
    largest: int
    coinjoins: int  # CoinJoin-like transactions skipped by this run
    heuristics: list[str]
    warnings: list[dict[str, Any]]
    seconds: float


class ClusteringEngine(Protocol):
    """Builds (or brings up to date) one chain's entities in a chain store."""

    name: str

    def build(
        self,
        root: Path,
        chain: str,
        *,
        heuristics: Sequence[Heuristic],
        full: bool = False,
        params: BuildParams | None = None,
        progress: Progress | None = None,
    ) -> BuildResult: ...


def _evidence(
    a: np.ndarray,
    b: np.ndarray,
    tx: np.ndarray,
    code: np.ndarray | int,
    tx_b: np.ndarray | None = None,
    via: np.ndarray | None = None,
) -> pa.Table:
    n = a.size
    none = np.full(n, -1, dtype=np.int64)
    codes = np.full(n, int(code), dtype=np.int8) if isinstance(code, int) else code
    return pa.table(
        {
            "a": a.astype(np.int64),
            "b": b.astype(np.int64),
            "tx_id": tx.astype(np.int64),
            "tx_b": none if tx_b is None else tx_b.astype(np.int64),
            "via": none if via is None else via.astype(np.int64),
            "heuristic": codes.astype(np.int8),
        },
        schema=es.EVIDENCE,
    )


class _Run:
    """One build's working state."""

    def __init__(self, uf: Any) -> None:
        self.uf = uf
        self.evidence: list[pa.Table] = []
        self.large: list[tuple[int, int, int, int]] = []  # a, b, tx, code
        self.coinjoins: list[pa.Table] = []
        self.merges = 0

    def keep(self, table: pa.Table, large: np.ndarray) -> None:
        if table.num_rows == 0:
            return
        self.evidence.append(table)
        self.merges += table.num_rows
        if large.any():
            idx = np.flatnonzero(large)
            for i in idx.tolist():
                self.large.append(
                    (
                        int(table["a"][i].as_py()),
                        int(table["b"][i].as_py()),
                        int(table["tx_id"][i].as_py()),
                        int(table["heuristic"][i].as_py()),
                    )
                )


class LocalEngine:
    """The single-machine engine: DuckDB reads, numba union-find. The ground truth."""

    name = "local"

    def build(
        self,
        root: Path,
        chain: str,
        *,
        heuristics: Sequence[Heuristic],
        full: bool = False,
        params: BuildParams | None = None,
        progress: Progress | None = None,
    ) -> BuildResult:
        started = time.perf_counter()
        params = params or BuildParams()
        root = Path(root)
        names = [str(h) for h in heuristics]
        with source.chain_connection(root) as con, es.build_lock(root, chain) as directory:
            state = es.load_state(root, chain)
            view = source.chain_view(con, chain, state.event_seq if state else 0)
            chain = view.info.id
            if view.tip is None:
                raise NotFound(f"no blocks of {chain} in the chain store: load them first")
            redo = (
                full
                or state is None
                or state.heuristics != names
                or state.params != params.saved()
                or view.truncated_from is not None
                or state.last_height is None
                or state.last_height > view.tip
            )
            first_height = 0 if redo or state is None else (state.last_height or 0) + 1
            if not redo and state is not None and first_height > view.tip:
                state.event_seq = view.last_event
                es.write_state(directory, state)
                return self._result(
                    state, "up-to-date", None, None, 0, 0, [], time.perf_counter() - started
                )
            if view.info.kind is ChainKind.ACCOUNT:
                # the deposit pass reads the whole history anyway: recompute, so that a
                # link the newer blocks disprove (an address that stopped forwarding) goes
                redo, first_height = True, 0
            previous = None if redo or state is None else es.load_entities(root, chain, state)
            from chainsleuth.entities.unionfind import UnionFind  # noqa: PLC0415 - numba

            uf = UnionFind(
                view.address_count,
                parent=None if previous is None else np.asarray(previous),
                large=params.large_entity,
            )
            run = _Run(uf)
            if view.info.kind is ChainKind.UTXO:
                self._utxo(
                    con,
                    root,
                    chain,
                    first_height,
                    view.tip,
                    heuristics,
                    params,
                    run,
                    progress,
                    view.address_count,
                )
            else:
                self._account(con, root, chain, heuristics, params, run, progress)
            entities = uf.roots()
            old = state if not redo and state is not None else es.EntityState(chain=chain)
            new = es.EntityState(
                chain=chain,
                generation=(
                    0 if state is None else state.generation + 1 if redo else state.generation
                ),
                run=(state.run + 1) if state is not None else 1,
                last_height=view.tip,
                event_seq=view.last_event,
                address_count=int(entities.size),
                heuristics=names,
                params=params.saved(),
                evidence_files=list(old.evidence_files),
                coinjoin_files=list(old.coinjoin_files),
                merges=old.merges + run.merges,
                coinjoins=old.coinjoins,
                updated_at=datetime.now(UTC).isoformat(timespec="seconds"),
            )
            if entities.size:
                sizes = np.bincount(entities, minlength=entities.size)
                new.entities = int((sizes >= 2).sum())
                new.largest = int(sizes.max())
            new.entity_file = f"entities.{new.run}.npy"
            es.write_entities(directory, new.entity_file, entities)
            if run.evidence:
                name = f"evidence.{new.generation}.{new.run}.pq"
                es.write_table(directory, name, pa.concat_tables(run.evidence))
                new.evidence_files.append(name)
            skipped = sum(t.num_rows for t in run.coinjoins)
            if skipped:
                name = f"coinjoins.{new.generation}.{new.run}.pq"
                es.write_table(directory, name, pa.concat_tables(run.coinjoins))
                new.coinjoin_files.append(name)
                new.coinjoins += skipped
            es.write_state(directory, new)
            es.clean(directory, new)
            warnings = self._warnings(root, chain, run, params)
            es.append_warnings(directory, warnings)
            return self._result(
                new,
                "full" if redo else "incremental",
                first_height,
                view.tip,
                run.merges,
                skipped,
                warnings,
                time.perf_counter() - started,
            )

    @staticmethod
    def _result(
        state: es.EntityState,
        mode: str,
        first: int | None,
        last: int | None,
        merges: int,
        coinjoins: int,
        warnings: list[dict[str, Any]],
        seconds: float,
    ) -> BuildResult:
        return BuildResult(
            chain=state.chain,
            mode=mode,
            first_height=first,
            last_height=last,
            addresses=state.address_count,
            merges=merges,
            total_merges=state.merges,
            entities=state.entities,
            largest=state.largest,
            coinjoins=coinjoins,
            heuristics=list(state.heuristics),
            warnings=warnings,
            seconds=seconds,
        )

    # --- UTXO chains -------------------------------------------------------------------------

    def _utxo(
        self,
        con: duckdb.DuckDBPyConnection,
        root: Path,
        chain: str,
        first: int,
        last: int,
        heuristics: Sequence[Heuristic],
        params: BuildParams,
        run: _Run,
        progress: Progress | None,
        address_count: int,
    ) -> None:
        ins_files = source.segment_files(con, root, chain, "inputs")
        outs_files = source.segment_files(con, root, chain, "outputs")
        if not ins_files:
            return
        multi = Heuristic.MULTI_INPUT in heuristics
        switches = hx.ChangeSwitches(
            fresh=Heuristic.CHANGE_FRESH in heuristics,
            script=Heuristic.CHANGE_SCRIPT in heuristics,
            round=Heuristic.CHANGE_ROUND in heuristics,
            reuse=Heuristic.CHANGE_REUSE in heuristics,
        )
        if switches.any:
            addr_script, addr_first = hx.load_address_arrays(con, chain, address_count)
        plan = source.chunks(con, chain, "inputs", first, last)
        for done, (lo, hi) in enumerate(plan):
            if progress is not None:
                progress(f"clustering {chain} blocks {lo}-{hi}", done, len(plan))
            ins = storage.arrow(
                con,
                """SELECT tx_id, address_id FROM read_parquet(?::VARCHAR[])
                   WHERE height BETWEEN ? AND ? AND address_id IS NOT NULL
                   ORDER BY tx_id, address_id""",
                [ins_files, lo, hi],
            )
            in_tx = source.column(ins, "tx_id")
            in_addr = source.column(ins, "address_id")
            outs = storage.arrow(
                con,
                """SELECT tx_id, coalesce(address_id, -1) AS address_id, value,
                          coalesce(list_position(?::VARCHAR[], script_type::VARCHAR), 0)
                              ::TINYINT AS script,
                          height
                   FROM read_parquet(?::VARCHAR[])
                   WHERE height BETWEEN ? AND ?
                   ORDER BY tx_id, value""",
                [hx.SCRIPTS, outs_files, lo, hi],
            )
            out_tx = source.column(outs, "tx_id")
            out_addr = source.column(outs, "address_id")
            out_value = source.column(outs, "value")
            skip = np.empty(0, dtype=np.int64)
            if params.skip_coinjoin:
                has_addr = out_addr >= 0
                skip, kinds = hx.detect_coinjoins(
                    in_tx, in_addr, out_tx[has_addr], out_value[has_addr]
                )
                if skip.size:
                    run.coinjoins.append(
                        pa.table({"tx_id": skip, "kind": kinds}, schema=es.COINJOINS)
                    )
            if multi:
                rows = ~np.isin(in_tx, skip) if skip.size else slice(None)
                a, b, tx, large = run.uf.union_groups(in_tx[rows], in_addr[rows])
                run.keep(_evidence(a, b, tx, int(Code.MULTI_INPUT)), large)
            if switches.any:
                tx, a, b, codes = hx.change_links(
                    in_tx=in_tx,
                    in_addr=in_addr,
                    out_tx=out_tx,
                    out_addr=out_addr,
                    out_value=out_value,
                    out_script=source.column(outs, "script", np.int8, 0),
                    out_height=source.column(outs, "height"),
                    addr_script=addr_script,
                    addr_first=addr_first,
                    skip_tx=skip,
                    switches=switches,
                )
                merged, large = run.uf.union_pairs(a, b)
                run.keep(_evidence(a[merged], b[merged], tx[merged], codes[merged]), large[merged])
        if progress is not None:
            progress(f"clustering {chain}", len(plan), len(plan))

    # --- account chains ----------------------------------------------------------------------

    def _account(
        self,
        con: duckdb.DuckDBPyConnection,
        root: Path,
        chain: str,
        heuristics: Sequence[Heuristic],
        params: BuildParams,
        run: _Run,
        progress: Progress | None,
    ) -> None:
        if progress is not None:
            progress(f"finding deposit addresses on {chain}", 0, 1)
        found = hx.deposit_links(
            con,
            chain,
            source.segment_files(con, root, chain, "txs"),
            source.segment_files(con, root, chain, "token_transfers"),
            params.deposit,
        )
        if Heuristic.DEPOSIT_SWEEP in heuristics and found.deposits.size:
            merged, large = run.uf.union_pairs(found.hot, found.deposits)
            run.keep(
                _evidence(
                    found.hot[merged],
                    found.deposits[merged],
                    found.sweep_tx[merged],
                    int(CODE[Heuristic.DEPOSIT_SWEEP]),
                ),
                large[merged],
            )
        if Heuristic.DEPOSIT in heuristics and found.sender.size:
            merged, large = run.uf.union_pairs(found.anchor, found.sender)
            run.keep(
                _evidence(
                    found.anchor[merged],
                    found.sender[merged],
                    found.sender_tx[merged],
                    int(CODE[Heuristic.DEPOSIT]),
                    tx_b=found.anchor_tx[merged],
                    via=found.via[merged],
                ),
                large[merged],
            )
        if progress is not None:
            progress(f"finding deposit addresses on {chain}", 1, 1)

    # --- warnings ----------------------------------------------------------------------------

    @staticmethod
    def _warnings(root: Path, chain: str, run: _Run, params: BuildParams) -> list[dict[str, Any]]:
        if not run.large:
            return []
        from chainsleuth.entities.enums import BY_CODE  # noqa: PLC0415

        flat = storage.FlatFiles(Path(root) / chain)
        account = chain == "eth"
        hashes = hex_of(flat.tx_hashes([t for _, _, t, _ in run.large]), prefixed=account)
        texts = flat.addresses([x for a, b, _, _ in run.large for x in (a, b)])
        at = datetime.now(UTC).isoformat(timespec="seconds")
        out: list[dict[str, Any]] = []
        for i, (a, b, _tx, code) in enumerate(run.large):
            w = {
                "event": "large_entity_merge",
                "chain": chain,
                "at": at,
                "threshold": params.large_entity,
                "heuristic": str(BY_CODE[code]),
                "tx": hashes[i],
                "a": display_address(chain, texts[2 * i]),
                "b": display_address(chain, texts[2 * i + 1]),
                "a_id": a,
                "b_id": b,
            }
            log.warning(
                "%s: a %s link in %s merged two entities of %d+ addresses (%s, %s)",
                chain,
                w["heuristic"],
                w["tx"],
                params.large_entity,
                w["a"],
                w["b"],
            )
            out.append(w)
        return out


ENGINES: dict[str, ClusteringEngine] = {"local": LocalEngine()}


def get_engine(name: str = "local") -> ClusteringEngine:
    from chainsleuth.core.errors import InvalidInput  # noqa: PLC0415

    engine = ENGINES.get(name)
    if engine is None:
        raise InvalidInput(f"unknown engine {name!r}: use one of {', '.join(sorted(ENGINES))}")
    return engine
