"""The flow graph of every chain in the store, in CSR form, cached on disk beside it.

**Nodes are positions**: one address holding one asset (an Ethereum address that holds
ETH, USDT and WETH is three nodes; a Bitcoin address one). Node ids are dense, ordered by
(chain, address id, asset id); ``-1`` address ids stand for "no address" (new coins,
OP_RETURN). **Edges** are the flows of ``chain.flows`` (one per transaction, payer, payee
and asset), except that the pairs the cross-chain rules of ``crosschain`` recognise
(swaps, bridge lock and release) are replaced by one edge between the two positions.

Per edge: source and destination node, time (unix seconds), transaction id (on the
source's chain), kind (flow, swap, bridge), amount (float64, the source's asset),
amount out (float64, the destination's asset; equal for flows) and the exact source
amount (``hi * 10**18 + lo``). Edges are stored sorted by (source, time, tx): the out-CSR
is ``out_ptr`` over the edge ids themselves; the in-CSR is ``in_ptr`` over ``in_eid``,
the edge ids sorted by (destination, time, tx). ``out_cum`` / ``in_cum`` hold, per edge,
the running total of its source's outgoing / its destination's incoming up to and
including it (FIFO positions, and the haircut's denominators). ``in_src``, ``in_time`` and
``in_amount`` are ``e_src``, ``e_time`` and ``e_amount`` in ``in_eid``'s order: a backward
trace reads a node's in-edges from them in a row, not from three scattered places each.

**Cache.** Under ``<store>/tracing/``: ``flows/<chain>/`` the raw flows of each chain (read
once; when the store's tip moves on, only the new transactions are read and appended; a
truncation, see ``ChainStore.events``, reads the chain again) and ``graph-<digest>/`` the
CSR for one services configuration, rebuilt from the raw flows when a chain changed.
Arrays are ``.npy`` files opened with ``np.load(mmap_mode="r")``: loading is instant and
the memory they use is the page cache's.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import numpy as np

from chainsleuth.chain import storage
from chainsleuth.chain.chains import CHAINS
from chainsleuth.chain.lookups import ChainReader
from chainsleuth.core.errors import NotFound
from chainsleuth.tracing import kernels
from chainsleuth.tracing.config import Services
from chainsleuth.tracing.crosschain import KIND_FLOW, CrossEdges, find_cross_edges, split_exact
from chainsleuth.tracing.flowsource import BASE, COLUMNS, RawFlows, read_flows

FORMAT = 1  # of the raw flows' cache
GRAPH_FORMAT = 2  # of the graph's (2: the in-edge ordered copies in_src, in_time, in_amount)
CACHE_DIR = "tracing"
WORK_LENGTH = 4096  # entries per work row of a scratch set (a larger trace makes its own)
NULL_ETH = "0x" + "0" * 40

_EDGE_ARRAYS = (
    "e_src", "e_dst", "e_time", "e_tx", "e_kind", "e_amount", "e_out", "e_hi", "e_lo",
    "out_cum", "in_eid", "in_cum", "in_src", "in_time", "in_amount",
)  # fmt: skip
_NODE_ARRAYS = ("node_chain", "node_addr", "node_asset", "out_ptr", "in_ptr")
_CROSS_ARRAYS = ("cross_eid", "cross_ohi", "cross_olo", "cross_tx2")
_KERNEL_ARRAYS = (
    "out_ptr", "in_ptr", "in_eid", "e_src", "e_dst", "e_time", "e_kind", "e_amount", "e_out",
    "out_cum", "in_cum", "e_hi", "node_asset", "in_src", "in_time", "in_amount",
)  # fmt: skip
_IN_ORDER = {"in_src": "e_src", "in_time": "e_time", "in_amount": "e_amount"}


@dataclass
class FlowGraph:
    chains: tuple[str, ...]
    arrays: dict[str, np.ndarray]
    raw_tx: dict[str, np.ndarray]  # per chain: tx id of each raw flow (sorted)
    raw_edge: dict[str, np.ndarray]  # per chain: the edge each raw flow became, or -1
    service_ids: dict[str, np.ndarray] = field(default_factory=dict)  # address ids
    meta: dict[str, Any] = field(default_factory=dict)
    folder: Path | None = None  # the cache folder of this version of the graph
    _pool: list[tuple[np.ndarray, ...]] = field(default_factory=list)

    @contextmanager
    def scratch(self) -> Iterator[tuple[np.ndarray, ...]]:
        """Scratch arrays for one trace (per node: slot, frontier level, frontier index;
        per edge: slot), all -1, which the kernel leaves -1; and its work rows (int64 and
        float64, ``kernels.WORK_ROWS`` / ``WORK_F_ROWS`` of ``WORK_LENGTH``: the kernel's
        working arrays, whatever they hold). One set per concurrent trace, kept for the
        next (allocating them costs more than a trace)."""
        found = self.take_scratch()
        try:
            yield found
        finally:
            self.give_scratch(found)

    def take_scratch(self) -> tuple[np.ndarray, ...]:
        """``scratch`` without the context manager (for the hot path): hand the set back
        with ``give_scratch``."""
        try:
            return self._pool.pop()  # atomic under the GIL, as is append
        except IndexError:
            return self._new_scratch()

    def give_scratch(self, found: tuple[np.ndarray, ...]) -> None:
        self._pool.append(found)

    def reserve_scratch(self, count: int) -> None:
        """Make ``count`` scratch sets now (a server before its first traces: on a large
        graph a set is hundreds of megabytes, which a trace would otherwise allocate and
        fill while its caller waits)."""
        while len(self._pool) < count:
            self._pool.append(self._new_scratch())

    @property
    def spare_scratch(self) -> int:
        """The scratch sets made and not in use."""
        return len(self._pool)

    def _new_scratch(self) -> tuple[np.ndarray, ...]:
        n, m = self.n_nodes, self.n_edges
        return (
            np.full(n, -1, dtype=np.int64),
            np.full(m, -1, dtype=np.int64),
            np.full(n, -1, dtype=np.int64),
            np.full(n, -1, dtype=np.int64),
            np.zeros((kernels.WORK_ROWS, WORK_LENGTH), dtype=np.int64),
            np.zeros((kernels.WORK_F_ROWS, WORK_LENGTH), dtype=np.float64),
        )

    def kernel_arrays(self) -> tuple[np.ndarray, ...]:
        """The arrays ``kernels.trace_run`` reads, in its order (made once)."""
        cached = self.__dict__.get("_kernel_arrays")
        if cached is None:
            arrays = dict(self.arrays)
            for name, source in _IN_ORDER.items():  # a graph made by hand may lack them
                if name not in arrays:
                    arrays[name] = np.ascontiguousarray(arrays[source][arrays["in_eid"]])
            cached = tuple(arrays[name] for name in _KERNEL_ARRAYS)
            self.__dict__["_kernel_arrays"] = cached
        found: tuple[np.ndarray, ...] = cached
        return found

    def __getattr__(self, name: str) -> np.ndarray:
        arrays = self.__dict__.get("arrays", {})
        if name in arrays:
            return arrays[name]  # type: ignore[no-any-return]
        raise AttributeError(name)

    @property
    def n_nodes(self) -> int:
        return int(self.arrays["node_addr"].size)

    @property
    def n_edges(self) -> int:
        return int(self.arrays["e_dst"].size)

    def service_nodes(self) -> np.ndarray:
        """The nodes of the configured bridge and converter addresses (sorted)."""
        cached = self.__dict__.get("_services")
        if cached is None:
            parts = [self.nodes_of(chain, ids) for chain, ids in self.service_ids.items()]
            cached = np.unique(np.concatenate(parts)) if parts else np.empty(0, dtype=np.int64)
            self.__dict__["_services"] = cached
        found: np.ndarray = cached
        return found

    def chain_index(self, chain: str) -> int:
        return self.chains.index(chain)

    def nodes_of(self, chain: str, address_ids: np.ndarray | list[int]) -> np.ndarray:
        """Every node (one per asset) of these addresses on ``chain``, sorted."""
        ids = np.asarray(address_ids, dtype=np.int64)
        if ids.size == 0 or chain not in self.chains:
            return np.empty(0, dtype=np.int64)
        c = self.chain_index(chain)
        node_chain = self.arrays["node_chain"]
        lo = int(np.searchsorted(node_chain, c, side="left"))
        hi = int(np.searchsorted(node_chain, c, side="right"))
        addr = self.arrays["node_addr"][lo:hi]
        a = np.searchsorted(addr, ids, side="left").astype(np.int64)
        counts = np.searchsorted(addr, ids, side="right").astype(np.int64) - a
        total = int(counts.sum())
        if total == 0:
            return np.empty(0, dtype=np.int64)
        first = np.cumsum(counts) - counts  # each id's first place in the output
        step = np.arange(total, dtype=np.int64) - np.repeat(first, counts)
        nodes: np.ndarray = np.sort(np.repeat(a, counts) + step) + lo
        if nodes.size > 1:
            nodes = nodes[np.concatenate(([True], nodes[1:] != nodes[:-1]))]
        return nodes

    def tx_edges(self, chain: str, tx_id: int) -> np.ndarray:
        """The edges a transaction's flows became (sorted, unique)."""
        if chain not in self.raw_tx:
            return np.empty(0, dtype=np.int64)
        tx = self.raw_tx[chain]
        a = int(np.searchsorted(tx, tx_id, side="left"))
        b = int(np.searchsorted(tx, tx_id, side="right"))
        edges = self.raw_edge[chain][a:b]
        return np.unique(edges[edges >= 0]).astype(np.int64)

    def exact_amount(self, edge: int) -> int:
        return int(self.arrays["e_hi"][edge]) * BASE + int(self.arrays["e_lo"][edge])

    def exact_out(self, edge: int) -> int:
        """The exact amount the destination receives (differs from the source's amount on
        swap and bridge edges)."""
        cross = self.arrays["cross_eid"]
        k = int(np.searchsorted(cross, edge))
        if k < cross.size and int(cross[k]) == edge:
            return int(self.arrays["cross_ohi"][k]) * BASE + int(self.arrays["cross_olo"][k])
        return self.exact_amount(edge)

    def second_tx(self, edge: int) -> int | None:
        """The other transaction of a bridge edge (the release, on the destination chain)."""
        cross = self.arrays["cross_eid"]
        k = int(np.searchsorted(cross, edge))
        if k < cross.size and int(cross[k]) == edge:
            return int(self.arrays["cross_tx2"][k])
        return None


# --- building ------------------------------------------------------------------------------


def _chain_state(con: duckdb.DuckDBPyConnection) -> dict[str, dict[str, Any]]:
    found = storage.rows(con, "SELECT chain, tip_height, tip_hash, tx_count FROM chain_state")
    return {c: {"tip_height": h, "tip_hash": t, "tx_count": int(n)} for c, h, t, n in found}


def _events_seq(con: duckdb.DuckDBPyConnection) -> int:
    row = storage.one(con, "SELECT coalesce(max(seq), 0) FROM events")
    return int(row[0]) if row else 0


def _truncated_since(con: duckdb.DuckDBPyConnection, chain: str, seq: int) -> bool:
    row = storage.one(
        con,
        "SELECT count(*) FROM events WHERE seq > ? AND chain = ? AND kind = 'truncate'",
        [seq, chain],
    )
    return bool(row and row[0])


def _save_arrays(folder: Path, arrays: dict[str, np.ndarray]) -> None:
    for name, values in arrays.items():
        np.save(folder / f"{name}.npy", np.ascontiguousarray(values))


def _load_arrays(folder: Path, names: tuple[str, ...]) -> dict[str, np.ndarray]:
    """Memory-mapped, as plain ndarray views (numba dispatches on those much faster than
    on ``np.memmap`` objects)."""
    return {n: np.asarray(np.load(folder / f"{n}.npy", mmap_mode="r")) for n in names}


def _replace_dir(tmp: Path, final: Path) -> None:
    old = final.with_name(final.name + f".old-{os.getpid()}-{time.monotonic_ns()}")
    if final.exists():
        final.rename(old)
    tmp.rename(final)
    shutil.rmtree(old, ignore_errors=True)


def raw_flows(
    con: duckdb.DuckDBPyConnection, root: Path, chain: str, state: dict[str, Any]
) -> RawFlows:
    """The chain's flows, from the cache, extended or re-read as the store moved on."""
    folder = root / CACHE_DIR / "flows" / chain
    meta_path = folder / "meta.json"
    want = state.get("tx_count", 0)
    seq = _events_seq(con)
    cached: RawFlows | None = None
    have = 0
    if meta_path.exists():
        meta = json.loads(meta_path.read_text())
        if meta.get("format") == FORMAT and not _truncated_since(con, chain, meta["seq"]):
            have = int(meta["tx_count"])
            if have == want and meta.get("tip_hash") == state.get("tip_hash"):
                return RawFlows(**_load_arrays(folder, COLUMNS))
            if have < want:
                cached = RawFlows(**_load_arrays(folder, COLUMNS))
            else:
                have = 0
    flat = storage.FlatFiles(root / chain)
    new = read_flows(con, flat, chain, have, want)
    flows = RawFlows.concat([cached, new]) if cached is not None else new
    tmp = folder.with_name(f"{chain}.tmp-{os.getpid()}-{threading.get_ident()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    _save_arrays(tmp, {c: getattr(flows, c) for c in COLUMNS})
    (tmp / "meta.json").write_text(
        json.dumps(
            {
                "format": FORMAT,
                "seq": seq,
                "tx_count": want,
                "tip_hash": state.get("tip_hash"),
                "rows": len(flows),
            }
        )
    )
    _replace_dir(tmp, folder)
    return RawFlows(**_load_arrays(folder, COLUMNS))


def _service_ids(reader: ChainReader, services: Services) -> dict[str, Any]:
    def ids(chain: str, addresses: list[str]) -> np.ndarray:
        found = [reader.address_id(chain, a) for a in addresses]
        return np.array(sorted({i for i in found if i is not None}), dtype=np.int64)

    converters = {c: ids(c, a) for c, a in services.converters.items() if c in CHAINS}
    bridges = [
        {c: ids(c, a) for c, a in b.addresses.items() if c in CHAINS} for b in services.bridges
    ]
    mint: dict[str, int] = {}
    for chain in converters:
        null = reader.address_id(chain, NULL_ETH) if chain == "eth" else None
        if null is not None:
            mint[chain] = null
    every: dict[str, set[int]] = {}
    for chain, values in converters.items():
        every.setdefault(chain, set()).update(values.tolist())
    for bridge in bridges:
        for chain, values in bridge.items():
            every.setdefault(chain, set()).update(values.tolist())
    return {
        "converters": converters,
        "bridges": bridges,
        "mint": mint,
        "all": {c: np.array(sorted(v), dtype=np.int64) for c, v in every.items()},
    }


def build_graph(
    flows: dict[str, RawFlows], cross: CrossEdges, chains: tuple[str, ...]
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """The CSR arrays of these flows with these cross edges; and raw flow -> edge maps."""
    kept = {c: np.flatnonzero(~cross.drops[c]) for c in chains}
    n_cross = len(cross)
    cidx = {c: i for i, c in enumerate(chains)}
    # --- nodes: (chain, address, asset) keys
    src_c = np.concatenate(
        [np.full(kept[c].size, cidx[c], np.int64) for c in chains]
        + [np.array([cidx[c] for c in cross.src_chain], dtype=np.int64)]
    )
    dst_c = np.concatenate(
        [np.full(kept[c].size, cidx[c], np.int64) for c in chains]
        + [np.array([cidx[c] for c in cross.dst_chain], dtype=np.int64)]
    )
    src_a = np.concatenate(
        [flows[c].src[kept[c]] for c in chains] + [np.array(cross.src, dtype=np.int64)]
    )
    dst_a = np.concatenate(
        [flows[c].dst[kept[c]] for c in chains] + [np.array(cross.dst, dtype=np.int64)]
    )
    asset = np.concatenate(
        [flows[c].asset[kept[c]] for c in chains] + [np.array(cross.src_asset, dtype=np.int64)]
    )
    dst_asset = np.concatenate(
        [flows[c].asset[kept[c]] for c in chains] + [np.array(cross.dst_asset, dtype=np.int64)]
    )
    assets = np.unique(np.concatenate([asset, dst_asset, np.array([-1], dtype=np.int64)]))
    n_assets = int(assets.size)
    max_addr = int(max(src_a.max(initial=0), dst_a.max(initial=0))) + 2

    def key(c: np.ndarray, a: np.ndarray, s: np.ndarray) -> np.ndarray:
        code = np.searchsorted(assets, s).astype(np.int64)
        keys: np.ndarray = (c * max_addr + (a + 1)) * n_assets + code
        return keys

    k_src = key(src_c, src_a, asset)
    k_dst = key(dst_c, dst_a, dst_asset)
    keys, inverse = np.unique(np.concatenate([k_src, k_dst]), return_inverse=True)
    n_edges = k_src.size
    e_src = inverse[:n_edges].astype(np.int64)
    e_dst = inverse[n_edges:].astype(np.int64)
    node_code = keys % n_assets
    rest = keys // n_assets
    node_chain = (rest // max_addr).astype(np.int8)
    node_addr = (rest % max_addr - 1).astype(np.int64)
    node_asset = assets[node_code].astype(np.int64)
    # --- edge attributes
    c_hi, c_lo = split_exact(cross.amount_in)
    e_time = np.concatenate(
        [flows[c].time[kept[c]] for c in chains] + [np.array(cross.time, dtype=np.int64)]
    )
    e_tx = np.concatenate(
        [flows[c].tx[kept[c]] for c in chains] + [np.array(cross.tx, dtype=np.int64)]
    )
    e_kind = np.concatenate(
        [np.full(kept[c].size, KIND_FLOW, np.int8) for c in chains]
        + [np.array(cross.kind, dtype=np.int8)]
    )
    e_amount = np.concatenate(
        [flows[c].amount[kept[c]] for c in chains]
        + [np.array([float(v) for v in cross.amount_in], dtype=np.float64)]
    )
    e_out = np.concatenate(
        [flows[c].amount[kept[c]] for c in chains]
        + [np.array([float(v) for v in cross.amount_out], dtype=np.float64)]
    )
    e_hi = np.concatenate([flows[c].hi[kept[c]] for c in chains] + [c_hi])
    e_lo = np.concatenate([flows[c].lo[kept[c]] for c in chains] + [c_lo])
    order = np.lexsort((e_tx, e_time, e_src))
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    e_src, e_dst, e_time, e_tx = e_src[order], e_dst[order], e_time[order], e_tx[order]
    e_kind, e_amount, e_out = e_kind[order], e_amount[order], e_out[order]
    e_hi, e_lo = e_hi[order], e_lo[order]
    n_nodes = int(keys.size)
    out_ptr = np.zeros(n_nodes + 1, dtype=np.int64)
    np.cumsum(np.bincount(e_src, minlength=n_nodes), out=out_ptr[1:])
    in_eid = np.lexsort((e_tx, e_time, e_dst)).astype(np.int64)
    in_ptr = np.zeros(n_nodes + 1, dtype=np.int64)
    np.cumsum(np.bincount(e_dst, minlength=n_nodes), out=in_ptr[1:])
    out_cum = kernels.group_cumsum(out_ptr, np.arange(e_src.size, dtype=np.int64), e_amount)
    in_cum = kernels.group_cumsum(in_ptr, in_eid, e_out)
    # per in-edge position, its edge's source, time and amount: a backward trace reads a
    # node's in-edges in a row instead of three scattered loads each
    in_src, in_time, in_amount = e_src[in_eid], e_time[in_eid], e_amount[in_eid]
    # --- cross side table, raw flow -> edge maps
    first_cross = n_edges - n_cross
    cross_eid = rank[first_cross:].astype(np.int64)
    c_order = np.argsort(cross_eid)
    o_hi, o_lo = split_exact(cross.amount_out)
    arrays = {
        "node_chain": node_chain,
        "node_addr": node_addr,
        "node_asset": node_asset,
        "out_ptr": out_ptr,
        "in_ptr": in_ptr,
        "e_src": e_src,
        "e_dst": e_dst,
        "e_time": e_time,
        "e_tx": e_tx,
        "e_kind": e_kind,
        "e_amount": e_amount,
        "e_out": e_out,
        "e_hi": e_hi,
        "e_lo": e_lo,
        "out_cum": out_cum,
        "in_eid": in_eid,
        "in_cum": in_cum,
        "in_src": in_src,
        "in_time": in_time,
        "in_amount": in_amount,
        "cross_eid": cross_eid[c_order],
        "cross_ohi": o_hi[c_order],
        "cross_olo": o_lo[c_order],
        "cross_tx2": np.array(cross.tx2, dtype=np.int64)[c_order],
    }
    raw_edge: dict[str, np.ndarray] = {}
    start = 0
    for c in chains:
        m = np.full(len(flows[c]), -1, dtype=np.int64)
        m[kept[c]] = rank[start : start + kept[c].size]
        start += kept[c].size
        raw_edge[c] = m
    for k, raw in enumerate(cross.raw):
        for c, i in raw:
            raw_edge[c][i] = rank[first_cross + k]
    return arrays, raw_edge


# --- loading, with a per-process cache --------------------------------------------------------

_LOADED: dict[tuple[Path, str], FlowGraph] = {}
_LOCK = threading.Lock()


def load_graph(reader: ChainReader, services: Services | None = None) -> FlowGraph:
    """The flow graph of the store ``reader`` reads, built or brought up to date first."""
    if reader.con is None:
        raise NotFound("no chain data has been loaded yet")
    services = (services or Services()).canonical()
    con = reader.con
    root = Path(reader.root)
    state = _chain_state(con)
    chains = tuple(c for c in CHAINS if c in state and state[c]["tx_count"] > 0)
    digest = services.digest()
    stamp = {c: [state[c]["tx_count"], state[c]["tip_hash"]] for c in chains}
    cache_key = (root.resolve(), digest)
    with _LOCK:
        graph = _LOADED.get(cache_key)
        if graph is not None and graph.meta.get("stamp") == stamp:
            return graph
        folder = root / CACHE_DIR / f"graph-{digest}"
        meta_path = folder / "meta.json"
        ids = _service_ids(reader, services)
        if meta_path.exists():
            meta = json.loads(meta_path.read_text())
            if meta.get("format") == GRAPH_FORMAT and meta.get("stamp") == stamp:
                graph = _open(folder, chains, meta, ids)
                _LOADED[cache_key] = graph
                return graph
        flows = {c: raw_flows(con, root, c, state[c]) for c in chains}
        cross = find_cross_edges(
            flows,
            ids["converters"],
            ids["mint"],
            ids["bridges"],
            window_s=services.bridge_window_minutes * 60,
            tolerance=services.bridge_rate_tolerance,
        )
        arrays, raw_edge = build_graph(flows, cross, chains)
        tmp = folder.with_name(f"{folder.name}.tmp-{os.getpid()}-{threading.get_ident()}")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        _save_arrays(tmp, arrays)
        _save_arrays(tmp, {f"raw_edge_{c}": raw_edge[c] for c in chains})
        meta = {
            "format": GRAPH_FORMAT,
            "stamp": stamp,
            "digest": digest,
            "nodes": int(arrays["node_addr"].size),
            "edges": int(arrays["e_dst"].size),
            "swaps": int(sum(1 for k in cross.kind if k == 1)),
            "bridges": int(sum(1 for k in cross.kind if k == 2)),
        }
        (tmp / "meta.json").write_text(json.dumps(meta))
        _replace_dir(tmp, folder)
        graph = _open(folder, chains, meta, ids)
        _LOADED[cache_key] = graph
        return graph


def _open(
    folder: Path, chains: tuple[str, ...], meta: dict[str, Any], ids: dict[str, Any]
) -> FlowGraph:
    arrays = _load_arrays(folder, _NODE_ARRAYS + _EDGE_ARRAYS + _CROSS_ARRAYS)
    flows_root = folder.parent / "flows"
    raw_tx = {c: np.asarray(np.load(flows_root / c / "tx.npy", mmap_mode="r")) for c in chains}
    raw_edge = {c: np.asarray(np.load(folder / f"raw_edge_{c}.npy", mmap_mode="r")) for c in chains}
    return FlowGraph(
        chains=tuple(CHAINS[c].id for c in chains) if chains else (),
        arrays=arrays,
        raw_tx=raw_tx,
        raw_edge=raw_edge,
        service_ids=ids["all"],
        meta=meta,
        folder=folder,
    )
