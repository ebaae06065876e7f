"""Whole-graph exposure (``risk.propagation``) against the per-address loop
(``table.exposure_by_hop``) on the small world: every address, both directions, four
hops; the same values, the cap of the share kept where it binds, and the largest
counterparty the one a walk per labelled node finds."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from chainsleuth.chain import storage
from chainsleuth.chain.lookups import ChainReader
from chainsleuth.risk.policy import TypologyPolicy
from chainsleuth.risk.propagation import top_counterparties, whole_graph_exposure
from chainsleuth.risk.table import (
    MIN_SHARE,
    counterparty_groups,
    exposure_by_hop,
    node_prices,
    subjects_of,
)
from chainsleuth.tracing import kernels
from chainsleuth.tracing.config import services_from_world
from chainsleuth.tracing.graph import FlowGraph, load_graph

HOPS = 4
N_CATEGORIES = 4  # wanted; index 4 is a labelled category the policy does not want


@pytest.fixture(scope="module")
def labelled(risk_store: Path, world: Path) -> tuple[FlowGraph, np.ndarray, np.ndarray, np.ndarray]:
    """The world's graph with its services, USD per node, and a labelling: 3% of the
    nodes in five categories (the last not wanted)."""
    with ChainReader(storage.connect(risk_store, read_only=True), risk_store) as reader:
        graph = load_graph(reader, services_from_world(world))
        usd = node_prices(reader, graph, TypologyPolicy().prices_usd)
    rng = np.random.default_rng(5)
    nodes = np.sort(rng.choice(graph.n_nodes, graph.n_nodes // 33, replace=False))
    values = rng.integers(0, N_CATEGORIES + 1, nodes.size).astype(np.int64)
    return graph, usd, nodes.astype(np.int64), values


def _per_address(
    graph: FlowGraph, usd: np.ndarray, starts: np.ndarray, ptr: np.ndarray,
    cat_nodes: np.ndarray, cat_values: np.ndarray, forward: bool, min_share: float,
) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    a = graph.arrays
    out = np.zeros((ptr.size - 1, HOPS, N_CATEGORIES + 1))
    totals = np.zeros(ptr.size - 1)
    exposure_by_hop(
        a["out_ptr"], a["e_src"], a["e_dst"], a["e_amount"], a["e_out"], a["in_ptr"],
        a["in_eid"], a["in_cum"], a["out_cum"], usd, starts, ptr, cat_nodes, cat_values,
        graph.service_nodes(), forward, HOPS, min_share, out, totals,
    )  # fmt: skip
    return out[:, :, :N_CATEGORIES], totals


@pytest.mark.parametrize("forward", [False, True], ids=["incoming", "outgoing"])
def test_every_address_has_the_per_address_loops_exposure(
    labelled: tuple[FlowGraph, np.ndarray, np.ndarray, np.ndarray], forward: bool
) -> None:
    graph, usd, cat_nodes, cat_values = labelled
    returns = 0
    for chain in graph.chains:
        ids, starts, ptr = subjects_of(graph, chain)
        whole = whole_graph_exposure(graph, usd, starts, ptr, cat_nodes, cat_values,
                                     N_CATEGORIES, forward=forward, hops=HOPS)  # fmt: skip
        assert whole.exact.size == 0  # no node sends more than it received
        returns += whole.returns
        # the loop on a sample (every address with a round trip, and as many others)
        rows = np.unique(whole.return_rows[0])
        rest = np.random.default_rng(1).choice(ids.size, min(ids.size, 600), replace=False)
        pick = np.union1d(rows[:600], rest)
        sub_ptr = np.concatenate(([0], np.cumsum(ptr[pick + 1] - ptr[pick])))
        sub = np.concatenate([starts[ptr[k] : ptr[k + 1]] for k in pick.tolist()])
        ours, our_totals = whole.values[pick], whole.totals[pick]
        # exact against the loop without its pruning of tiny branches ...
        exact, totals = _per_address(graph, usd, sub, sub_ptr, cat_nodes, cat_values, forward, 0.0)
        np.testing.assert_allclose(our_totals, totals, rtol=1e-12)
        scale = np.maximum(totals, 1.0)[:, None, None]
        np.testing.assert_allclose(ours / scale, exact / scale, rtol=0, atol=1e-9)
        assert exact.sum() > 0
        # ... and within 1e-4 of the subject's total with it (what the table kept before)
        pruned, _ = _per_address(graph, usd, sub, sub_ptr, cat_nodes, cat_values, forward,
                                 MIN_SHARE)  # fmt: skip
        np.testing.assert_allclose(ours / scale, pruned / scale, rtol=0, atol=1e-4)
    assert returns > 0  # round trips through the subject were found and taken off


def test_where_the_share_is_capped_the_loop_decides(
    labelled: tuple[FlowGraph, np.ndarray, np.ndarray, np.ndarray],
) -> None:
    """A node that received less than it sent caps the share it passes back at 1: the
    subjects whose walk may reach it before the last hop are left to the loop."""
    graph, usd, cat_nodes, cat_values = labelled
    a = {k: np.asarray(v).copy() for k, v in graph.arrays.items()}
    busy = np.argsort(-np.diff(a["in_ptr"]))[:20]
    for v in busy.tolist():  # they now received a tenth of what they did
        edges = a["in_eid"][a["in_ptr"][v] : a["in_ptr"][v + 1]]
        a["e_out"][edges] /= 10.0
    a["in_cum"] = kernels.group_cumsum(a["in_ptr"], a["in_eid"], a["e_out"])
    bent = replace(graph, arrays=a, _pool=[])
    chain = graph.chains[0]
    ids, starts, ptr = subjects_of(bent, chain)
    whole = whole_graph_exposure(bent, usd, starts, ptr, cat_nodes, cat_values, N_CATEGORIES,
                                 forward=False, hops=HOPS)  # fmt: skip
    assert whole.exact.size > 0
    loop, _ = _per_address(bent, usd, starts, ptr, cat_nodes, cat_values, False, 0.0)
    rest = np.setdiff1d(np.arange(ids.size), whole.exact)
    scale = np.maximum(whole.totals[rest], 1.0)[:, None, None]
    np.testing.assert_allclose(whole.values[rest] / scale, loop[rest] / scale, atol=1e-9)
    assert np.all(whole.values[whole.exact] == 0)  # the caller fills them from the loop


@pytest.mark.parametrize("forward", [False, True], ids=["incoming", "outgoing"])
def test_the_largest_counterparty_is_the_largest_labelled_source(
    labelled: tuple[FlowGraph, np.ndarray, np.ndarray, np.ndarray], forward: bool
) -> None:
    graph, usd, cat_nodes, cat_values = labelled
    chain = graph.chains[-1]
    ids, starts, ptr = subjects_of(graph, chain)
    whole = whole_graph_exposure(graph, usd, starts, ptr, cat_nodes, cat_values, N_CATEGORIES,
                                 forward=forward, hops=HOPS)  # fmt: skip
    wanted = np.array([0, 2, 3], dtype=np.int64)
    groups, representative = counterparty_groups(graph, cat_nodes, usd, {})
    value, group = top_counterparties(
        graph, usd, starts, ptr, cat_nodes, cat_values, wanted, groups,
        forward=forward, hops=HOPS, result=whole,
    )  # fmt: skip
    # the brute force: every labelled node its own category, per subject
    own = np.arange(cat_nodes.size, dtype=np.int64)
    rng = np.random.default_rng(3)
    named = np.flatnonzero((group >= 0).any(axis=1))
    assert named.size > 10
    for s in rng.choice(named, 25, replace=False).tolist():
        sub = starts[ptr[s] : ptr[s + 1]]
        per_node, _ = _per_address_nodes(graph, usd, sub, cat_nodes, own, forward)
        for j, k in enumerate(wanted.tolist()):
            # a counterparty is an address (here: no entities), all its positions
            keys, where = np.unique(groups[cat_values == k], return_inverse=True)
            per_group = np.bincount(where, weights=per_node[cat_values == k])
            if per_group.max() <= 0:
                assert group[s, j] == -1
                continue
            assert value[s, j] == pytest.approx(per_group.max(), rel=1e-9)
            assert per_group[np.searchsorted(keys, group[s, j])] == pytest.approx(
                per_group.max(), rel=1e-9
            )
            assert int(group[s, j]) in representative
        # the value is part of the subject's exposure to the category
        for j, k in enumerate(wanted.tolist()):
            assert value[s, j] <= whole.values[s, :, k].sum() * (1 + 1e-9) + 1e-9


def _per_address_nodes(
    graph: FlowGraph, usd: np.ndarray, sub: np.ndarray, cat_nodes: np.ndarray,
    own: np.ndarray, forward: bool,
) -> tuple[np.ndarray, float]:  # fmt: skip
    a = graph.arrays
    out = np.zeros((1, HOPS, own.size))
    totals = np.zeros(1)
    exposure_by_hop(
        a["out_ptr"], a["e_src"], a["e_dst"], a["e_amount"], a["e_out"], a["in_ptr"],
        a["in_eid"], a["in_cum"], a["out_cum"], usd, sub, np.array([0, sub.size]),
        cat_nodes, own, graph.service_nodes(), forward, HOPS, 0.0, out, totals,
    )  # fmt: skip
    return out[0].sum(axis=0), float(totals[0])
