"""The precomputed per-address risk table: what a screening looks up instead of tracing.

``chainsleuth risk precompute`` scores every address of every chain in the store once and
writes, under ``<data dir>/risk/table/<chain>/`` (arrays as ``.npy``, opened memory-mapped,
so a lookup reads one row), per address id:

* ``in_usd`` / ``out_usd`` (addresses x hops x categories, float32): the USD value of the
  address's incoming (source of funds) / outgoing (destination) flows that came from, or
  reached, nodes of each category at exactly that hop (haircut, time order ignored, a
  labelled node ends the walk: the rules of ``tracing.exposure``); ``in_total`` /
  ``out_total``: what the address received and sent in all (USD);
* ``typ`` (addresses x typologies, uint16): typology instances touching the address;
* ``ml_prob`` (float32, NaN where no model), ``ml_feat`` / ``ml_contrib`` / ``ml_value``
  (addresses x 3): the model's top feature contributions;

and ``meta.json`` (categories, hops, tip, model version, label and entity versions, time).
USD uses the policy's reference prices, so one threshold works across assets.

Beside them, an address index (``key_k1``/``key_k2``/``key_id``: the store's 128-bit address
keys, sorted) lets a screening find an address's id with two binary searches on the mapped
arrays instead of a query of the store (``Table.find``); an address newer than the table is
not in it, and the caller asks the store.

The exposure loop (``exposure_by_hop``) is ``tracing.kernels.bulk_exposure`` with values
in USD and kept per hop; a parity test holds the two together.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from numba import njit, types
from numba.typed import Dict

from chainsleuth.chain import storage
from chainsleuth.chain.chains import get_chain
from chainsleuth.chain.keys import address_key
from chainsleuth.chain.lookups import ChainReader
from chainsleuth.core.errors import NotFound
from chainsleuth.risk import model as risk_model
from chainsleuth.risk import registry
from chainsleuth.risk.features import FEATURES
from chainsleuth.risk.policy import TypologyPolicy
from chainsleuth.risk.riskpolicy import MAX_POLICY_HOPS
from chainsleuth.risk.typologies import Typology
from chainsleuth.tracing.graph import FlowGraph

FORMAT = 1
TOP = 3
MIN_SHARE = 1e-9
TYPOLOGIES = [t.value for t in Typology]


def table_dir(data_dir: Path) -> Path:
    return Path(data_dir) / "risk" / "table"


# --- the kernel ------------------------------------------------------------------------------


@njit(cache=True)
def _category(nodes: np.ndarray, values: np.ndarray, v: int) -> int:
    if nodes.size == 0:
        return -1
    k = np.searchsorted(nodes, v)
    if k < nodes.size and nodes[k] == v:
        return int(values[k])
    return -1


@njit(cache=True)
def _in_stop(stop: np.ndarray, v: int) -> bool:
    if stop.size == 0:
        return False
    k = np.searchsorted(stop, v)
    return bool(k < stop.size and stop[k] == v)


@njit(cache=True, nogil=True)
def exposure_by_hop(
    out_ptr: np.ndarray,
    e_src: np.ndarray,
    e_dst: np.ndarray,
    e_amount: np.ndarray,
    e_out: np.ndarray,
    in_ptr: np.ndarray,
    in_eid: np.ndarray,
    in_cum: np.ndarray,
    out_cum: np.ndarray,
    node_usd: np.ndarray,
    starts: np.ndarray,
    start_ptr: np.ndarray,
    cat_nodes: np.ndarray,
    cat_values: np.ndarray,
    stop: np.ndarray,
    forward: bool,
    hops: int,
    min_share: float,
    out: np.ndarray,
    totals: np.ndarray,
) -> None:
    """``out[s, h, c]``: USD of subject ``s``'s outgoing (``forward``) or incoming flows
    that reached, or came from, nodes of category ``c`` at hop ``h + 1``; ``totals[s]``
    the subject's flows to (from) others in all, USD. Subject ``s`` is the nodes
    ``starts[start_ptr[s]:start_ptr[s + 1]]``."""
    n = start_ptr.size - 1
    for s in range(n):
        members = Dict.empty(key_type=types.int64, value_type=types.int64)
        for k in range(start_ptr[s], start_ptr[s + 1]):
            members[starts[k]] = 1
        frontier = Dict.empty(key_type=types.int64, value_type=types.float64)
        total = 0.0
        for k in range(start_ptr[s], start_ptr[s + 1]):
            v = starts[k]
            price = node_usd[v]
            if forward:
                for j in range(out_ptr[v], out_ptr[v + 1]):
                    d = e_dst[j]
                    if d in members:
                        continue
                    total += e_amount[j] * price
                    frontier[d] = frontier.get(d, 0.0) + e_out[j]
            else:
                for p in range(in_ptr[v], in_ptr[v + 1]):
                    i = in_eid[p]
                    u = e_src[i]
                    if u in members:
                        continue
                    total += e_out[i] * price
                    frontier[u] = frontier.get(u, 0.0) + e_amount[i]
        totals[s] = total
        if total <= 0:
            continue
        limit = min_share * total
        for h in range(hops):
            nxt = Dict.empty(key_type=types.int64, value_type=types.float64)
            for v, x in frontier.items():
                c = _category(cat_nodes, cat_values, v)
                if c >= 0:
                    out[s, h, c] += x * node_usd[v]
                    continue
                if h == hops - 1 or _in_stop(stop, v):
                    continue
                if forward:
                    total_in = (
                        in_cum[in_eid[in_ptr[v + 1] - 1]] if in_ptr[v + 1] > in_ptr[v] else 0.0
                    )
                    total_out = out_cum[out_ptr[v + 1] - 1] if out_ptr[v + 1] > out_ptr[v] else 0.0
                    denom = max(total_in, total_out)
                elif in_ptr[v + 1] > in_ptr[v]:
                    denom = in_cum[in_eid[in_ptr[v + 1] - 1]]
                else:
                    denom = 0.0
                if denom <= 0:
                    continue
                share = min(1.0, x / denom)
                if forward:
                    for j in range(out_ptr[v], out_ptr[v + 1]):
                        d = e_dst[j]
                        t = e_amount[j] * share
                        if d in members or t <= 0 or t * node_usd[v] < limit:
                            continue
                        nxt[d] = nxt.get(d, 0.0) + t * e_out[j] / e_amount[j]
                else:
                    for p in range(in_ptr[v], in_ptr[v + 1]):
                        i = in_eid[p]
                        u = e_src[i]
                        t = e_amount[i] * share
                        if u in members or t <= 0 or t * node_usd[u] < limit:
                            continue
                        nxt[u] = nxt.get(u, 0.0) + t
            frontier = nxt
            if len(frontier) == 0:
                break


# --- inputs ----------------------------------------------------------------------------------


def node_prices(reader: ChainReader, graph: FlowGraph, prices_usd: dict[str, float]) -> np.ndarray:
    """USD per smallest unit of each node's asset (0 where the policy names no price)."""
    out = np.zeros(graph.n_nodes, dtype=np.float64)
    node_chain = np.asarray(graph.node_chain)
    node_asset = np.asarray(graph.node_asset)
    assert reader.con is not None
    for c, chain in enumerate(graph.chains):
        info = get_chain(chain)
        lo = int(np.searchsorted(node_chain, c, side="left"))
        hi = int(np.searchsorted(node_chain, c, side="right"))
        price = {storage.NATIVE_ASSET: prices_usd.get(info.symbol, 0.0) / 10.0**info.decimals}
        for token_id, symbol, decimals in storage.rows(
            reader.con, "SELECT token_id, symbol, decimals FROM tokens WHERE chain = ?", [info.id]
        ):
            d = int(decimals) if decimals is not None else 0
            price[int(token_id)] = prices_usd.get(str(symbol or ""), 0.0) / 10.0**d
        assets = node_asset[lo:hi]
        for asset in np.unique(assets).tolist():
            out[lo:hi][assets == asset] = price.get(int(asset), 0.0)
    return out


def category_arrays(
    names: list[str], node_category: dict[int, int], wanted: list[str]
) -> tuple[np.ndarray, np.ndarray]:
    """(sorted labelled nodes, category index into ``wanted``): every labelled node ends a
    walk, so those of a category not wanted get the extra index ``len(wanted)``."""
    index = {name: wanted.index(name) if name in wanted else len(wanted) for name in names}
    nodes = np.array(sorted(node_category), dtype=np.int64)
    values = np.array([index[names[node_category[int(v)]]] for v in nodes], dtype=np.int64)
    return nodes, values


def subjects_of(graph: FlowGraph, chain: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(address ids, nodes, node ptr) of every address of ``chain`` in the graph: address
    ``ids[k]`` is the nodes ``nodes[ptr[k]:ptr[k + 1]]``."""
    node_chain = np.asarray(graph.node_chain)
    c = graph.chain_index(chain)
    lo = int(np.searchsorted(node_chain, c, side="left"))
    hi = int(np.searchsorted(node_chain, c, side="right"))
    addr = np.asarray(graph.node_addr[lo:hi])
    nodes = np.arange(lo, hi, dtype=np.int64)
    keep = addr >= 0
    addr, nodes = addr[keep], nodes[keep]
    if addr.size == 0:
        return np.empty(0, np.int64), nodes, np.zeros(1, np.int64)
    first = np.concatenate(([True], addr[1:] != addr[:-1]))
    ids = addr[first].astype(np.int64)
    ptr = np.concatenate((np.flatnonzero(first), [addr.size])).astype(np.int64)
    return ids, nodes, ptr


# --- precompute ------------------------------------------------------------------------------


@dataclass
class PrecomputeStats:
    chain: str
    addresses: int
    seconds: float
    model_version: str | None


Progress = Callable[[str, int, int], None]


def run_exposure(
    graph: FlowGraph,
    node_usd: np.ndarray,
    starts: np.ndarray,
    ptr: np.ndarray,
    cat_nodes: np.ndarray,
    cat_values: np.ndarray,
    n_categories: int,
    *,
    forward: bool,
    hops: int,
    chunk: int = 20_000,
    threads: int = 2,
    progress: Callable[[int], None] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(values per subject x hop x category, totals), in chunks on ``threads`` threads."""
    n = ptr.size - 1
    out = np.zeros((n, hops, n_categories + 1), dtype=np.float64)  # + the unwanted ones
    totals = np.zeros(n, dtype=np.float64)
    services = [graph.nodes_of(c, ids) for c, ids in graph.service_ids.items()]
    stop = np.unique(np.concatenate(services)) if services else np.empty(0, dtype=np.int64)
    a = graph.arrays
    arrs = {k: np.asarray(v) for k, v in a.items()}

    def work(lo: int) -> int:
        hi = min(n, lo + chunk)
        sub_ptr = ptr[lo : hi + 1] - ptr[lo]
        sub_starts = starts[ptr[lo] : ptr[hi]]
        exposure_by_hop(
            arrs["out_ptr"], arrs["e_src"], arrs["e_dst"], arrs["e_amount"], arrs["e_out"],
            arrs["in_ptr"], arrs["in_eid"], arrs["in_cum"], arrs["out_cum"], node_usd,
            sub_starts, sub_ptr, cat_nodes, cat_values, stop, forward, hops, MIN_SHARE,
            out[lo:hi], totals[lo:hi],
        )  # fmt: skip
        return hi - lo

    with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
        for done in pool.map(work, range(0, n, chunk)):
            if progress is not None:
                progress(done)
    return out[:, :, :n_categories], totals


def precompute(
    reader: ChainReader,
    graph: FlowGraph,
    *,
    data_dir: Path,
    names: list[str],
    node_category: dict[int, int],
    categories: list[str],
    typologies: TypologyPolicy,
    hops: int = MAX_POLICY_HOPS,
    versions: dict[str, Any] | None = None,
    threads: int = 2,
    progress: Progress | None = None,
) -> list[PrecomputeStats]:
    """Score every address of every chain in ``graph``; write the tables (each chain's
    folder replaced whole, so a reader sees the old table or the new one)."""
    root = Path(reader.root)
    node_usd = node_prices(reader, graph, typologies.prices_usd)
    cat_nodes, cat_values = category_arrays(names, node_category, categories)
    models = registry.models_dir(Path(data_dir))
    model_version: str | None
    try:
        model_version, fitted, features = risk_model.load(models, None)
        if features != list(FEATURES):
            model_version = None
    except NotFound:
        model_version = None
    stats = []
    for chain in graph.chains:
        started = time.perf_counter()
        info = get_chain(chain)
        row = storage.one(
            reader.con,  # type: ignore[arg-type]
            "SELECT tip_height, address_count FROM chain_state WHERE chain = ?",
            [info.id],
        )
        tip = int(row[0]) if row and row[0] is not None else -1
        n_addr = int(row[1]) if row else 0
        ids, starts, ptr = subjects_of(graph, chain)
        arrays: dict[str, np.ndarray] = {}
        for direction, forward in (("in", False), ("out", True)):

            def step(
                done: int, label: str = f"{chain} exposure {direction}", n: int = int(ids.size)
            ) -> None:
                if progress is not None:
                    progress(label, done, n)

            values, totals = run_exposure(
                graph, node_usd, starts, ptr, cat_nodes, cat_values, len(categories),
                forward=forward, hops=hops, threads=threads, progress=step,
            )  # fmt: skip
            full = np.zeros((n_addr, hops, len(categories)), dtype=np.float32)
            full[ids] = values
            total = np.zeros(n_addr, dtype=np.float64)
            total[ids] = totals
            arrays[f"{direction}_usd"] = full
            arrays[f"{direction}_total"] = total
        if progress is not None:
            progress(f"{chain} features and model", 0, 1)
        f_ids, x, _ = risk_model.chain_features(root, chain, typologies)
        base = len(FEATURES) - len(TYPOLOGIES)
        typ = np.zeros((n_addr, len(TYPOLOGIES)), dtype=np.uint16)
        typ[f_ids] = np.minimum(x[:, base:], 65535).astype(np.uint16)
        arrays["typ"] = typ
        prob = np.full(n_addr, np.nan, dtype=np.float32)
        feat = np.full((n_addr, TOP), -1, dtype=np.int16)
        contrib = np.zeros((n_addr, TOP), dtype=np.float32)
        value = np.zeros((n_addr, TOP), dtype=np.float32)
        if model_version is not None and f_ids.size:
            prob[f_ids] = fitted.proba(x)
            c = fitted.contributions(x)[:, :-1]
            order = np.argsort(-np.abs(c), axis=1)[:, :TOP]
            rows = np.arange(f_ids.size)[:, None]
            feat[f_ids] = order.astype(np.int16)
            contrib[f_ids] = c[rows, order]
            value[f_ids] = x[rows, order]
        arrays.update(ml_prob=prob, ml_feat=feat, ml_contrib=contrib, ml_value=value)
        if progress is not None:
            progress(f"{chain} features and model", 1, 1)
        meta = {
            "format": FORMAT,
            "chain": info.id,
            "tip": tip,
            "addresses": n_addr,
            "hops": hops,
            "categories": categories,
            "typologies": TYPOLOGIES,
            "features": list(FEATURES),
            "model_version": model_version,
            "prices_usd": typologies.prices_usd,
            "typology_policy": typologies.model_dump(mode="json"),
            "versions": versions or {},
            "created_at": datetime.now(UTC).isoformat(),
        }
        arrays.update(address_index(reader, info.id))
        _write(table_dir(data_dir) / info.id, arrays, meta)
        elapsed = time.perf_counter() - started
        stats.append(PrecomputeStats(info.id, n_addr, elapsed, model_version))
    with _LOCK:
        _OPEN.clear()
    return stats


def address_index(reader: ChainReader, chain: str) -> dict[str, np.ndarray]:
    """The chain's address keys sorted (k1, then k2), with the id of each."""
    assert reader.con is not None
    found = storage.arrow(
        reader.con, "SELECT k1, k2, address_id FROM addresses WHERE chain = ?", [chain]
    )
    k1 = found["k1"].to_numpy().astype(np.int64, copy=False)
    k2 = found["k2"].to_numpy().astype(np.int64, copy=False)
    ids = found["address_id"].to_numpy().astype(np.int64, copy=False)
    order = np.lexsort((k2, k1))
    return {"key_k1": k1[order], "key_k2": k2[order], "key_id": ids[order]}


def _write(folder: Path, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = folder.with_name(f".{folder.name}.tmp-{os.getpid()}-{threading.get_ident()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    for name, arr in arrays.items():
        np.save(tmp / f"{name}.npy", arr)
    (tmp / "meta.json").write_text(json.dumps(meta, indent=2))
    old = folder.with_name(f".{folder.name}.old-{os.getpid()}-{threading.get_ident()}")
    if folder.exists():
        folder.rename(old)
    tmp.rename(folder)
    shutil.rmtree(old, ignore_errors=True)


# --- lookups ---------------------------------------------------------------------------------


@dataclass
class Table:
    folder: Path
    meta: dict[str, Any]
    arrays: dict[str, np.ndarray]
    stamp: float
    index: dict[str, np.ndarray]

    @property
    def categories(self) -> list[str]:
        return list(self.meta["categories"])

    @property
    def hops(self) -> int:
        return int(self.meta["hops"])

    @property
    def n(self) -> int:
        return int(self.meta["addresses"])

    def has(self, address_id: int) -> bool:
        return 0 <= address_id < self.n

    def row(self, address_id: int) -> dict[str, np.ndarray]:
        return {k: np.asarray(v[address_id]) for k, v in self.arrays.items()}

    def find(self, address: str) -> list[int]:
        """The ids whose key is the canonical ``address``'s (almost always one; [] when the
        address is not in the table or the table has no index). The caller checks the
        text against the store's flat file: two texts may share a key."""
        k1s = self.index.get("key_k1")
        if k1s is None:
            return []
        k1, k2 = address_key(address)
        lo = int(np.searchsorted(k1s, k1, side="left"))
        hi = int(np.searchsorted(k1s, k1, side="right"))
        if lo == hi:
            return []
        k2s = self.index["key_k2"][lo:hi]
        return [int(self.index["key_id"][lo + j]) for j in np.flatnonzero(k2s == k2).tolist()]


_OPEN: dict[Path, Table] = {}
_LOCK = threading.Lock()
_NAMES = (
    "in_usd", "in_total", "out_usd", "out_total", "typ", "ml_prob", "ml_feat", "ml_contrib",
    "ml_value",
)  # fmt: skip
_INDEX = ("key_k1", "key_k2", "key_id")


def open_table(data_dir: Path, chain: str) -> Table | None:
    """The chain's table (memory-mapped, kept open until the folder is replaced), or None
    when none was computed."""
    folder = table_dir(data_dir) / get_chain(chain).id
    meta_path = folder / "meta.json"
    try:
        stamp = meta_path.stat().st_mtime_ns
    except FileNotFoundError:
        return None
    with _LOCK:
        found = _OPEN.get(folder)
        if found is not None and found.stamp == stamp:
            return found
    meta = json.loads(meta_path.read_text())
    if meta.get("format") != FORMAT:
        return None
    arrays = {n: np.load(folder / f"{n}.npy", mmap_mode="r") for n in _NAMES}
    index = {
        n: np.load(folder / f"{n}.npy", mmap_mode="r")
        for n in _INDEX
        if (folder / f"{n}.npy").exists()
    }
    table = Table(folder, meta, arrays, stamp, index if len(index) == len(_INDEX) else {})
    with _LOCK:
        _OPEN[folder] = table
    return table
