"""Exposure: how much of a subject's funds came from, or went to, each category.

For a subject (an address: all its positions; or an entity: a set of addresses) and a
labelling ``category_of`` (node -> category index, ``-1`` none):

* **incoming** (source of funds): a backward haircut trace from the subject's incoming
  flows; **outgoing** (destination of funds): a forward haircut trace from its outgoing
  flows. Both ignore time order (exposure is about all the funds ever moved) and go
  ``hops`` deep; a node with a category ends the walk there (its category is what the
  funds were exposed to), as do the configured service contracts. The subject's own
  addresses are not followed again.
* per category: the value that reached (or came from) its nodes, its **share** of the
  subject's total in that direction, the part at hop 1 (**direct**) and beyond
  (**indirect**), the smallest hop distance, and the paths along which its largest nodes
  were first reached.

``bulk_exposure`` computes the shares of many subjects at once in one compiled loop, with
the same rules (a parity test holds the two together); it is what a batch job, and the
Spark engine, mirror.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from chainsleuth.tracing import kernels
from chainsleuth.tracing.engine import (
    Model,
    TraceDirection,
    TraceOptions,
    TraceResult,
    address_seeds,
    path_to,
    sorted_union,
    trace,
)
from chainsleuth.tracing.graph import FlowGraph

#: below this share of a subject's funds, bulk exposure stops following a branch
MIN_SHARE = 1e-9


@dataclass
class CategoryExposure:
    category: int
    chain: int  # index into graph.chains
    asset: int
    value: int
    total: int
    direct: int
    indirect: int
    min_hops: int
    paths: list[list[int]]  # edge ids, origin first

    @property
    def share(self) -> float:
        return self.value / self.total if self.total else 0.0


def labelled_stops(graph: FlowGraph, node_category: dict[int, int]) -> np.ndarray:
    """The labelled nodes and the service nodes, sorted: made once per labelling (kept on
    the graph), not on every call (a sort of every labelled node cost more than the trace)."""
    cached = graph.__dict__.get("_labelled_stops")
    if cached is not None and cached[0] is node_category and cached[1] == len(node_category):
        found: np.ndarray = cached[2]
        return found
    labelled = np.fromiter(node_category, dtype=np.int64, count=len(node_category))
    union = sorted_union(labelled, graph.service_nodes())
    graph.__dict__["_labelled_stops"] = (node_category, len(node_category), union)
    return union


def exposure(
    graph: FlowGraph,
    nodes: np.ndarray,
    node_category: dict[int, int],
    *,
    forward: bool,
    hops: int = 3,
    min_value: int = 0,
    max_paths: int = 3,
    max_edges: int = 50_000,
) -> tuple[list[CategoryExposure], dict[int, int], TraceResult]:
    """Exposure of the subject ``nodes`` in one direction; also its totals per asset."""
    options = TraceOptions(
        direction=TraceDirection.FORWARD if forward else TraceDirection.BACKWARD,
        model=Model.HAIRCUT,
        hops=hops,
        min_value=min_value,
        respect_time=False,
        max_edges=max_edges,
    )
    seeds = address_seeds(graph, nodes, options)
    stop = labelled_stops(graph, node_category)  # the same array each call: one mask
    result = trace(graph, seeds, options, stop=stop, stop_is_complete=True, extra_stop=nodes)
    totals: dict[int, int] = {}
    for e in seeds.tolist():
        # in the subject's asset: forward what it paid, backward what it received (a swap
        # into the subject's asset pays one asset and delivers another)
        amount = graph.exact_amount(e) if forward else graph.exact_out(e)
        asset = int(graph.node_asset[graph.e_src[e] if forward else graph.e_dst[e]])
        totals[asset] = totals.get(asset, 0) + amount
    per: dict[tuple[int, int, int], CategoryExposure] = {}
    reached: dict[tuple[int, int, int], list[tuple[int, int]]] = {}
    origin_chain = int(graph.node_chain[nodes[0]]) if nodes.size else -1
    members = set(nodes.tolist())
    for v, amount, hop in zip(
        result.nodes.tolist(), result.node_amount, result.node_hop.tolist(), strict=True
    ):
        c = node_category.get(v)
        if c is None or hop == 0 or v in members or amount <= 0:
            continue
        asset = int(graph.node_asset[v])
        chain = int(graph.node_chain[v])
        key = (c, chain, asset)
        entry = per.get(key)
        if entry is None:
            total = totals.get(asset, 0) if chain == origin_chain else 0
            entry = per[key] = CategoryExposure(c, chain, asset, 0, total, 0, 0, hop, [])
        entry.value += amount
        if hop == 1:
            entry.direct += amount
        else:
            entry.indirect += amount
        entry.min_hops = min(entry.min_hops, hop)
        reached.setdefault(key, []).append((amount, v))
    for key, entry in per.items():
        top = sorted(reached[key], reverse=True)[:max_paths]
        entry.paths = [path_to(result, graph, v) for _, v in top]
    ordered = sorted(per.values(), key=lambda x: (-x.value, x.category, x.chain, x.asset))
    return ordered, totals, result


def node_keys(graph: FlowGraph) -> np.ndarray:
    """Per node, its chain and asset as one number (kept on the graph once made)."""
    found = graph.__dict__.get("_node_keys")
    if found is None:
        chain = np.asarray(graph.node_chain, dtype=np.int64)
        asset = np.asarray(graph.node_asset, dtype=np.int64)
        found = (chain << np.int64(48)) + asset + np.int64(1)
        graph.__dict__["_node_keys"] = found
    keys: np.ndarray = found
    return keys


def bulk_exposure(
    graph: FlowGraph,
    subjects: list[np.ndarray],
    category_nodes: np.ndarray,
    node_categories: np.ndarray,
    n_categories: int,
    *,
    forward: bool,
    hops: int = 3,
) -> np.ndarray:
    """Shares (subjects x categories) of many subjects at once (see the module docstring):
    of the subject's asset, reaching labelled nodes of that asset (``kernels.bulk_exposure``).
    ``category_nodes`` (sorted node ids) have the categories ``node_categories``."""
    lengths = np.array([s.size for s in subjects], dtype=np.int64)
    start_ptr = np.zeros(len(subjects) + 1, dtype=np.int64)
    np.cumsum(lengths, out=start_ptr[1:])
    starts = np.concatenate(subjects).astype(np.int64) if subjects else np.empty(0, dtype=np.int64)
    services = [graph.nodes_of(c, ids) for c, ids in graph.service_ids.items()]
    stop = np.unique(np.concatenate(services)) if services else np.empty(0, dtype=np.int64)
    a = graph.arrays
    return kernels.bulk_exposure(
        a["out_ptr"], a["e_src"], a["e_dst"], a["e_amount"], a["e_out"],
        a["in_ptr"], a["in_eid"], a["in_cum"], a["out_cum"],
        starts, start_ptr,
        np.asarray(category_nodes, dtype=np.int64), np.asarray(node_categories, dtype=np.int64),
        node_keys(graph), stop, n_categories, forward, hops, MIN_SHARE,
    )  # fmt: skip
