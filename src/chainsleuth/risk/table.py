"""The precomputed per-address risk table: what a screening looks up instead of tracing.

``chainsleuth risk precompute`` scores every address of every chain in the store once and
writes, under ``<data dir>/risk/table/<chain>/`` (arrays as ``.npy``, opened memory-mapped,
so a lookup reads one row), per address id:

* ``in_usd`` / ``out_usd`` (addresses x hops x categories, float32): the USD value of the
  address's incoming (source of funds) / outgoing (destination) flows that came from, or
  reached, nodes of each category at exactly that hop (haircut, time order ignored, a
  labelled node ends the walk: the rules of ``tracing.exposure``); ``in_total`` /
  ``out_total``: what the address received and sent in all (USD);
* ``cp_*`` (rows per address, CSR ``cp_ptr``; see ``counterparty_rows``): per direction
  and illicit category, the largest labelled counterparty (an entity, shown by its
  member that moved the most) and its share, which a reason names;
* ``typ`` (addresses x typologies, uint16): typology instances touching the address;
* ``ml_prob`` (float32, NaN where no model), ``ml_feat`` / ``ml_contrib`` / ``ml_value``
  (addresses x 3): the model's top feature contributions;

and ``meta.json`` (categories, hops, tip, model version, label and entity versions, time).
USD uses the policy's reference prices, so one threshold works across assets.

Beside them, an address index (``key_k1``/``key_k2``/``key_id``: the store's 128-bit address
keys, sorted) lets a screening find an address's id with two binary searches on the mapped
arrays instead of a query of the store (``Table.find``); an address newer than the table is
not in it, and the caller asks the store.

The precompute computes exposure for the whole graph at once (``risk.propagation``: one
sparse product per hop, the round trips through the subject taken off); the per-address
loop (``exposure_by_hop``: ``tracing.kernels.bulk_exposure`` with values in USD, kept per
hop) scores the few addresses where the share's cap binds, and what is scored on the fly.
Parity tests hold the three together.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from numba import njit, types
from numba.typed import Dict

from chainsleuth.chain import storage
from chainsleuth.chain.chains import get_chain
from chainsleuth.chain.keys import address_key, hash_keys
from chainsleuth.chain.lookups import ChainReader
from chainsleuth.core.errors import NotFound
from chainsleuth.labels.enums import ILLICIT
from chainsleuth.risk import model as risk_model
from chainsleuth.risk import registry
from chainsleuth.risk.features import FEATURES
from chainsleuth.risk.policy import TypologyPolicy
from chainsleuth.risk.propagation import top_counterparties, whole_graph_exposure
from chainsleuth.risk.riskpolicy import MAX_POLICY_HOPS
from chainsleuth.risk.typologies import Typology
from chainsleuth.tracing.graph import FlowGraph

FORMAT = 1
TOP = 3
MIN_SHARE = 1e-9
TYPOLOGIES = [t.value for t in Typology]


def table_dir(data_dir: Path) -> Path:
    return Path(data_dir) / "risk" / "table"


def tabled_chains(data_dir: Path) -> list[str]:
    """The chains with a precomputed table, sorted."""
    return sorted(p.parent.name for p in table_dir(data_dir).glob("*/meta.json"))


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
    #: wall seconds per part: exposure, counterparties, features and model, write
    parts: dict[str, float] = field(default_factory=dict)


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
    entity_of: dict[str, np.ndarray] | None = None,
) -> list[PrecomputeStats]:
    """Score every address of every chain in ``graph``; write the tables (each chain's
    folder replaced whole, so a reader sees the old table or the new one). Exposure is
    computed for the whole graph at once (``risk.propagation``); ``entity_of`` (per
    chain, address id -> entity id) groups the labelled addresses into the counterparties
    the table names."""
    root = Path(reader.root)
    node_usd = node_prices(reader, graph, typologies.prices_usd)
    cat_nodes, cat_values = category_arrays(names, node_category, categories)
    groups, representative = counterparty_groups(graph, cat_nodes, node_usd, entity_of or {})
    illicit = {c.value for c in ILLICIT}
    present = set(np.unique(cat_values).tolist())
    wanted = np.array(
        [j for j, c in enumerate(categories) if c in illicit and j in present], dtype=np.int64
    )
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
        parts = {"exposure": 0.0, "counterparties": 0.0, "features and model": 0.0}
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
        found: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        for direction, forward in (("in", False), ("out", True)):

            def step(
                done: int, label: str = f"{chain} exposure {direction}", n: int = hops
            ) -> None:
                if progress is not None:
                    progress(label, done, n)

            t0 = time.perf_counter()
            whole = whole_graph_exposure(
                graph, node_usd, starts, ptr, cat_nodes, cat_values, len(categories),
                forward=forward, hops=hops, threads=threads, progress=step,
            )  # fmt: skip
            full = np.zeros((n_addr, hops, len(categories)), dtype=np.float32)
            full[ids] = whole.values
            total = np.zeros(n_addr, dtype=np.float64)
            total[ids] = whole.totals
            if whole.exact.size:  # where the share's cap may bind: the per-address loop
                k = whole.exact
                sub_ptr = np.concatenate(([0], np.cumsum(ptr[k + 1] - ptr[k]))).astype(np.int64)
                sub = np.concatenate([starts[ptr[i] : ptr[i + 1]] for i in k.tolist()])
                values, totals = run_exposure(
                    graph, node_usd, sub, sub_ptr, cat_nodes, cat_values, len(categories),
                    forward=forward, hops=hops, threads=threads,
                )  # fmt: skip
                full[ids[k]] = values
                total[ids[k]] = totals
            whole.values = np.empty((0, hops, len(categories)))  # the memory back
            parts["exposure"] += time.perf_counter() - t0
            t0 = time.perf_counter()
            arrays[f"{direction}_usd"] = full
            arrays[f"{direction}_total"] = total
            if progress is not None:
                progress(f"{chain} counterparties {direction}", 0, 1)
            best, group = top_counterparties(
                graph, node_usd, starts, ptr, cat_nodes, cat_values, wanted, groups,
                forward=forward, hops=hops, result=whole, threads=threads,
            )  # fmt: skip
            found.append((best, group, total[ids]))
            parts["counterparties"] += time.perf_counter() - t0
        arrays.update(counterparty_rows(ids, n_addr, found, wanted, groups, representative, graph))
        if progress is not None:
            progress(f"{chain} features and model", 0, 1)
        t0 = time.perf_counter()
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
        parts["features and model"] = time.perf_counter() - t0
        t0 = time.perf_counter()
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
            "counterparty_chains": list(graph.chains),
            "created_at": datetime.now(UTC).isoformat(),
        }
        arrays.update(address_index(reader, info.id))
        arrays.update(tx_index(reader, info.id))
        _write(table_dir(data_dir) / info.id, arrays, meta)
        elapsed = time.perf_counter() - started
        parts["write"] = time.perf_counter() - t0
        stats.append(PrecomputeStats(info.id, n_addr, elapsed, model_version, parts))
    with _LOCK:
        _OPEN.clear()
    return stats


def counterparty_groups(
    graph: FlowGraph, cat_nodes: np.ndarray, node_usd: np.ndarray, entity_of: dict[str, Any]
) -> tuple[np.ndarray, dict[int, int]]:
    """(group id of each labelled node, group id -> the node that stands for it): a group
    is an entity (``entity_of``) or, without one, the address; its representative is the
    member that moved the most (USD)."""
    chain_of = np.asarray(graph.node_chain)[cat_nodes].astype(np.int64)
    addr = np.asarray(graph.node_addr)[cat_nodes].astype(np.int64)
    entity = addr.copy()
    for c, chain in enumerate(graph.chains):
        found = entity_of.get(chain)
        if found is None:
            continue
        mine = np.flatnonzero((chain_of == c) & (addr >= 0) & (addr < len(found)))
        entity[mine] = np.asarray(found)[addr[mine]]
    groups = (chain_of << np.int64(44)) + entity
    a = graph.arrays
    in_ptr, out_ptr = np.asarray(a["in_ptr"]), np.asarray(a["out_ptr"])
    in_cum, out_cum, in_eid = np.asarray(a["in_cum"]), np.asarray(a["out_cum"]), a["in_eid"]
    moved = np.zeros(cat_nodes.size)
    has_in = in_ptr[cat_nodes + 1] > in_ptr[cat_nodes]
    has_out = out_ptr[cat_nodes + 1] > out_ptr[cat_nodes]
    moved[has_in] += in_cum[np.asarray(in_eid)[in_ptr[cat_nodes[has_in] + 1] - 1]]
    moved[has_out] += out_cum[out_ptr[cat_nodes[has_out] + 1] - 1]
    moved *= node_usd[cat_nodes]
    order = np.lexsort((-moved, groups))
    first = np.ones(order.size, dtype=np.bool_)
    first[1:] = groups[order][1:] != groups[order][:-1]
    representative = {
        int(g): int(v)
        for g, v in zip(groups[order][first].tolist(), cat_nodes[order][first].tolist(),
                        strict=True)
    }  # fmt: skip
    return groups, representative


def counterparty_rows(
    ids: np.ndarray,
    n_addr: int,
    found: list[tuple[np.ndarray, np.ndarray, np.ndarray]],
    wanted: np.ndarray,
    groups: np.ndarray,
    representative: dict[int, int],
    graph: FlowGraph,
) -> dict[str, np.ndarray]:
    """The largest counterparty per address, direction and category, as rows (CSR over
    address ids, ``cp_ptr``): ``cp_direction`` (0 incoming, 1 outgoing), ``cp_category``
    (index into the table's categories), ``cp_chain`` (index into
    ``meta["counterparty_chains"]``), ``cp_entity`` (its entity id; the address id where
    the store has no entities), ``cp_address`` (the address id that stands for it: its
    member that moved the most), ``cp_share`` (of the direction's total)."""
    rows_s, rows_code, rows_group, rows_share = [], [], [], []
    for d, (best, group, total) in enumerate(found):
        s, k = np.nonzero(group >= 0)
        rows_s.append(s)
        rows_code.append(d * 1000 + wanted[k])
        rows_group.append(group[s, k])
        rows_share.append(best[s, k] / np.maximum(total[s], 1e-300))
    s = np.concatenate(rows_s) if rows_s else np.empty(0, np.int64)
    code = np.concatenate(rows_code) if rows_code else np.empty(0, np.int64)
    group = np.concatenate(rows_group) if rows_group else np.empty(0, np.int64)
    share = np.concatenate(rows_share) if rows_share else np.empty(0)
    addr_of = ids[s]
    order = np.lexsort((code, addr_of))
    addr_of, code, group, share = addr_of[order], code[order], group[order], share[order]
    rep = np.array([representative[int(g)] for g in group.tolist()], dtype=np.int64)
    ptr = np.searchsorted(addr_of, np.arange(n_addr + 1, dtype=np.int64)).astype(np.int64)
    direction, category = code // 1000, code % 1000
    return {
        "cp_ptr": ptr,
        "cp_direction": direction.astype(np.int8),
        "cp_category": category.astype(np.int16),
        "cp_chain": np.asarray(graph.node_chain)[rep].astype(np.int16),
        "cp_entity": (group & ((np.int64(1) << np.int64(44)) - 1)).astype(np.int64),
        "cp_address": np.asarray(graph.node_addr)[rep].astype(np.int64),
        "cp_share": np.minimum(share, 1.0).astype(np.float32),
    }


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


def tx_index(reader: ChainReader, chain: str) -> dict[str, np.ndarray]:
    """The chain's committed transactions' hash keys (k1: the hash's first 8 bytes) sorted,
    with the id of each: a screening by transaction hash finds its transaction here, not in
    the store (a query each time)."""
    assert reader.con is not None
    row = storage.one(reader.con, "SELECT tx_count FROM chain_state WHERE chain = ?", [chain])
    flat = storage.FlatFiles(Path(reader.root) / chain)
    size = flat.tx_path.stat().st_size if flat.tx_path.exists() else 0
    n = min(int(row[0]) if row and row[0] is not None else 0, size // storage.TX_RECORD)
    if n == 0:
        return {"tx_k1": np.empty(0, np.int64), "tx_id": np.empty(0, np.int64)}
    records = np.memmap(flat.tx_path, dtype=np.uint8, mode="r", shape=(n, storage.TX_RECORD))
    k1 = hash_keys(records[:, :16])[0]
    order = np.argsort(k1, kind="stable")
    return {"tx_k1": k1[order], "tx_id": order.astype(np.int64)}


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


@dataclass(frozen=True)
class Counterparty:
    """The largest labelled counterparty of ``address_id`` in one direction and category:
    an entity (``entity``), shown by its member ``address`` (an address id on ``chain``)."""

    address_id: int
    direction: str
    category: str
    chain: str
    entity: int
    address: int
    share: float


@dataclass
class Table:
    folder: Path
    meta: dict[str, Any]
    arrays: dict[str, np.ndarray]
    stamp: float
    index: dict[str, np.ndarray]
    parties: dict[str, np.ndarray] = field(default_factory=dict)
    txs: dict[str, np.ndarray] = field(default_factory=dict)

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

    @property
    def has_counterparties(self) -> bool:
        return bool(self.parties)

    def counterparties(self, address_ids: np.ndarray) -> list[Counterparty]:
        """The stored largest counterparties of these addresses (one per address,
        direction and category; [] for a table written before they were kept)."""
        if not self.parties:
            return []
        ptr = self.parties["cp_ptr"]
        chains = list(self.meta.get("counterparty_chains", []))
        cats = self.categories
        out: list[Counterparty] = []
        for a in np.asarray(address_ids, dtype=np.int64).tolist():
            if not 0 <= a < self.n:
                continue
            lo, hi = int(ptr[a]), int(ptr[a + 1])
            for j in range(lo, hi):
                outgoing = int(self.parties["cp_direction"][j]) == 1
                out.append(
                    Counterparty(
                        address_id=a,
                        direction="outgoing" if outgoing else "incoming",
                        category=cats[int(self.parties["cp_category"][j])],
                        chain=chains[int(self.parties["cp_chain"][j])],
                        entity=int(self.parties["cp_entity"][j]),
                        address=int(self.parties["cp_address"][j]),
                        share=float(self.parties["cp_share"][j]),
                    )
                )
        return out

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

    def find_tx(self, k1: int) -> list[int]:
        """The tx ids whose hash key is ``k1`` ([] when none, or the table has no tx
        index): the caller checks the whole hash against the store's flat file."""
        keys = self.txs.get("tx_k1")
        if keys is None:
            return []
        lo = int(np.searchsorted(keys, k1, side="left"))
        hi = int(np.searchsorted(keys, k1, side="right"))
        return [int(x) for x in self.txs["tx_id"][lo:hi].tolist()]


_OPEN: dict[Path, Table] = {}
_LOCK = threading.Lock()
_NAMES = (
    "in_usd", "in_total", "out_usd", "out_total", "typ", "ml_prob", "ml_feat", "ml_contrib",
    "ml_value",
)  # fmt: skip
_INDEX = ("key_k1", "key_k2", "key_id")
_TX_INDEX = ("tx_k1", "tx_id")
_COUNTERPARTIES = (
    "cp_ptr", "cp_direction", "cp_category", "cp_chain", "cp_entity", "cp_address", "cp_share",
)  # fmt: skip


@functools.lru_cache(maxsize=64)
def _table_paths(data_dir: str, chain: str) -> tuple[Path, Path]:
    folder = table_dir(Path(data_dir)) / get_chain(chain).id
    return folder, folder / "meta.json"


def open_table(data_dir: Path, chain: str) -> Table | None:
    """The chain's table (memory-mapped, kept open until the folder is replaced), or None
    when none was computed."""
    folder, meta_path = _table_paths(os.fspath(data_dir), chain)
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
    if all((folder / f"{n}.npy").exists() for n in _COUNTERPARTIES):
        table.parties = {n: np.load(folder / f"{n}.npy", mmap_mode="r") for n in _COUNTERPARTIES}
    if all((folder / f"{n}.npy").exists() for n in _TX_INDEX):
        table.txs = {n: np.load(folder / f"{n}.npy", mmap_mode="r") for n in _TX_INDEX}
    with _LOCK:
        _OPEN[folder] = table
    return table
