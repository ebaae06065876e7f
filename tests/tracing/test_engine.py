"""The taint models on small graphs whose answers are worked out by hand, the exact
amounts, and the invariants of every model on the world's graph."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from chainsleuth.core.errors import InvalidInput
from chainsleuth.tracing import engine
from chainsleuth.tracing import graph as graph_module
from chainsleuth.tracing.crosschain import CrossEdges
from chainsleuth.tracing.engine import Model, TraceDirection, TraceOptions
from chainsleuth.tracing.flowsource import BASE, RawFlows
from chainsleuth.tracing.graph import FlowGraph, build_graph

#: (tx, time, from, to, amount): 0 and 1 pay 2; 2 pays 3 and 4; 3 pays 5; 2 paid 6 before
#: it received anything (a balance the FIFO tests leave out)
FLOWS = [
    (1, 10, 0, 2, 60),
    (2, 20, 1, 2, 40),
    (3, 30, 2, 3, 50),
    (4, 40, 2, 4, 30),
    (5, 50, 3, 5, 50),
    (0, 5, 2, 6, 10),
]


def make_graph(flows: list[tuple[int, int, int, int, int]], chain: str = "btc") -> FlowGraph:
    rows = sorted(flows)
    col = list(zip(*rows, strict=True))
    amounts = [int(a) for a in col[4]]
    raw = RawFlows(
        tx=np.array(col[0], dtype=np.int64),
        time=np.array(col[1], dtype=np.int64),
        src=np.array(col[2], dtype=np.int64),
        dst=np.array(col[3], dtype=np.int64),
        asset=np.full(len(rows), -1, dtype=np.int64),
        amount=np.array([float(a) for a in amounts]),
        hi=np.array([a // BASE for a in amounts], dtype=np.int64),
        lo=np.array([a % BASE for a in amounts], dtype=np.int64),
    )
    cross = CrossEdges(drops={chain: np.zeros(len(raw), dtype=bool)})
    arrays, raw_edge = build_graph({chain: raw}, cross, (chain,))
    return FlowGraph((chain,), arrays, {chain: raw.tx}, raw_edge)


def run(
    graph: FlowGraph, address: int, direction: TraceDirection, model: Model, **kw: int | bool
) -> tuple[dict[tuple[int, int], int], dict[int, int]]:
    options = TraceOptions(direction=direction, model=model, **kw)  # type: ignore[arg-type]
    nodes = graph.nodes_of("btc", [address])
    result = engine.trace(graph, engine.address_seeds(graph, nodes, options), options)
    edges = {
        (int(graph.node_addr[graph.e_src[e]]), int(graph.node_addr[graph.e_dst[e]])): a
        for e, a in zip(result.edges.tolist(), result.edge_amount, strict=True)
    }
    amounts = {
        int(graph.node_addr[v]): a
        for v, a in zip(result.nodes.tolist(), result.node_amount, strict=True)
    }
    return edges, amounts


FORWARD, BACKWARD = TraceDirection.FORWARD, TraceDirection.BACKWARD


def test_forward_models_by_hand() -> None:
    g = make_graph(FLOWS)
    # haircut: 2 got 60 of its 100 in all, so 60% of what it paid on
    edges, nodes = run(g, 0, FORWARD, Model.HAIRCUT)
    assert edges == {(0, 2): 60, (2, 3): 30, (2, 4): 18, (3, 5): 30}
    assert nodes == {0: 60, 2: 60, 3: 30, 4: 18, 5: 30}
    # FIFO: 2's first 60 in (from 0) are the first 60 out: all of 2->3, 10 of 2->4
    edges, _ = run(make_graph(FLOWS[:5]), 0, FORWARD, Model.FIFO)
    assert edges == {(0, 2): 60, (2, 3): 50, (2, 4): 10, (3, 5): 50}
    # poison: everything after the funds arrived, whole; 2->6 came before: not followed
    edges, _ = run(g, 0, FORWARD, Model.POISON)
    assert edges == {(0, 2): 60, (2, 3): 50, (2, 4): 30, (3, 5): 50}
    edges, _ = run(g, 0, FORWARD, Model.POISON, respect_time=False)
    assert edges[(2, 6)] == 10


def test_backward_models_by_hand() -> None:
    g = make_graph(FLOWS)
    # haircut: the 50 that 2 paid 3 came from what 2 had received by then, pro rata
    edges, nodes = run(g, 5, BACKWARD, Model.HAIRCUT)
    assert edges == {(3, 5): 50, (2, 3): 50, (0, 2): 30, (1, 2): 20}
    assert nodes[0] == 30 and nodes[1] == 20 and nodes[5] == 50
    # FIFO: 2's first 50 out were the first 50 in, from 0
    g5 = make_graph(FLOWS[:5])  # without 2's early payment, which FIFO would count first
    edges, _ = run(g5, 5, BACKWARD, Model.FIFO)
    assert edges == {(3, 5): 50, (2, 3): 50, (0, 2): 50}
    edges, _ = run(g5, 4, BACKWARD, Model.FIFO)
    assert edges == {(2, 4): 30, (0, 2): 10, (1, 2): 20}
    edges, _ = run(g, 5, BACKWARD, Model.POISON)
    assert edges == {(3, 5): 50, (2, 3): 50, (0, 2): 60, (1, 2): 40}


def test_hops_and_min_value() -> None:
    g = make_graph(FLOWS)
    edges, _ = run(g, 0, FORWARD, Model.HAIRCUT, hops=1)
    assert edges == {(0, 2): 60}
    edges, _ = run(g, 0, FORWARD, Model.HAIRCUT, min_value=20)
    assert edges == {(0, 2): 60, (2, 3): 30, (3, 5): 30}  # 18 < 20 is dropped


def test_stop_nodes_are_reached_not_passed() -> None:
    g = make_graph(FLOWS)
    options = TraceOptions(direction=FORWARD)
    seeds = engine.address_seeds(g, g.nodes_of("btc", [0]), options)
    result = engine.trace(g, seeds, options, stop=g.nodes_of("btc", [3]))
    reached = {int(g.node_addr[v]) for v in result.nodes.tolist()}
    assert 3 in reached and 5 not in reached


def test_exact_amounts_beyond_int64_conserve() -> None:
    big = 10**20 + 7  # wei: more than 2**63
    flows = [(1, 10, 0, 2, 3 * big), (2, 20, 1, 2, big), (3, 30, 2, 3, 2 * big + 1)]
    g = make_graph(flows, chain="eth")
    options = TraceOptions(direction=FORWARD)
    seeds = engine.address_seeds(g, g.nodes_of("eth", [0]), options)
    result = engine.trace(g, seeds, options)
    by = {
        int(g.node_addr[g.e_dst[e]]): a
        for e, a in zip(result.edges.tolist(), result.edge_amount, strict=True)
    }
    assert by[2] == 3 * big  # the seed, whole and exact
    want = (2 * big + 1) * 3 // 4
    assert abs(by[3] - want) <= want // 10**12  # float shares: right to float precision
    poison = engine.trace(g, seeds, TraceOptions(direction=FORWARD, model=Model.POISON))
    assert max(poison.edge_amount) == 3 * big and 2 * big + 1 in poison.edge_amount


def test_bad_options() -> None:
    for bad in (
        TraceOptions(hops=0),
        TraceOptions(hops=51),
        TraceOptions(min_value=-1),
        TraceOptions(since=10, until=5),
    ):
        with pytest.raises(InvalidInput):
            bad.check()


@pytest.mark.parametrize("model", [Model.HAIRCUT, Model.FIFO])
@pytest.mark.parametrize("direction", [FORWARD, BACKWARD])
def test_no_node_passes_on_more_than_it_got(
    graph: FlowGraph, model: Model, direction: TraceDirection
) -> None:
    """On the world's graph: conservation per node, amounts within the flows, hop limits and
    time order, from a few busy addresses."""
    busiest = np.argsort(np.diff(graph.out_ptr))[-5:]
    options = TraceOptions(direction=direction, model=model, hops=4)
    forward = direction is FORWARD
    for v in busiest.tolist():
        seeds = engine.address_seeds(graph, np.array([v]), options)
        result = engine.trace(graph, seeds, options)
        got: dict[int, int] = {}
        passed: dict[int, int] = {}
        first: dict[int, int] = {}
        hop_of = dict(zip(result.nodes.tolist(), result.node_hop.tolist(), strict=True))
        for e, a_in, a_out, h in zip(
            result.edges.tolist(),
            result.edge_amount,
            result.edge_amount_out,
            result.edge_hop.tolist(),
            strict=True,
        ):
            assert 0 <= a_in <= graph.exact_amount(e) and h <= options.hops
            s, d = int(graph.e_src[e]), int(graph.e_dst[e])
            near, far = (s, d) if forward else (d, s)
            got[far] = got.get(far, 0) + (a_out if forward else a_in)
            passed[near] = passed.get(near, 0) + (a_in if forward else a_out)
            t = int(graph.e_time[e])
            first[far] = min(first.get(far, t), t) if forward else max(first.get(far, t), t)
        for node, amount in passed.items():
            if hop_of.get(node, 0) > 0:
                assert amount <= got.get(node, 0), node


@pytest.mark.parametrize("model", list(Model))
@pytest.mark.parametrize("direction", [FORWARD, BACKWARD])
def test_one_call_and_the_stop_mask_agree(
    graph: FlowGraph, model: Model, direction: TraceDirection, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``trace_nodes`` (the seeds found in the compiled call) gives what ``address_seeds``
    and ``trace`` give, and a large stop set (looked up in a per-node mask) stops where
    the same set searched as a sorted array does, or split into a set and extra stops;
    with an asset filter too."""
    rng = np.random.default_rng(5)
    size = min(graph.n_nodes, max(engine._MASK_FROM, graph.n_nodes // 10))
    stop = np.unique(rng.choice(graph.n_nodes, size=size, replace=False))
    degree = np.diff(graph.out_ptr if direction is FORWARD else graph.in_ptr)
    for v in np.argsort(degree, kind="stable")[-6:].tolist():
        for asset in (None, int(graph.node_asset[v])):
            options = TraceOptions(direction=direction, model=model, hops=4, asset=asset)
            nodes = np.array([v])
            seeds = engine.address_seeds(graph, nodes, options)
            two = engine.trace(graph, seeds, options, stop=stop)
            one = engine.trace_nodes(graph, nodes, options, stop=stop)
            half = stop.size // 2
            split = engine.trace_nodes(
                graph, nodes, options, stop=stop[half:], extra_stop=stop[:half]
            )
            with monkeypatch.context() as m:
                m.setattr(engine, "_MASK_FROM", graph.n_nodes + 1)
                m.setitem(graph.__dict__, "_stop_masks", [])
                searched = engine.trace_nodes(graph, nodes, options, stop=stop)
            assert two.edges.size > 0 or asset is not None
            for other in (one, split, searched):
                assert other.edges.tolist() == two.edges.tolist()
                assert other.edge_amount == two.edge_amount
                assert other.edge_amount_out == two.edge_amount_out
                assert other.nodes.tolist() == two.nodes.tolist()
                assert other.node_amount == two.node_amount
                assert other.node_parent.tolist() == two.node_parent.tolist()
                assert other.truncated == two.truncated


@pytest.mark.parametrize("model", list(Model))
@pytest.mark.parametrize("direction", [FORWARD, BACKWARD])
def test_work_rows_and_in_edge_copies_do_not_change_a_trace(
    graph: FlowGraph, model: Model, direction: TraceDirection, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same trace whether the kernel's working arrays fit the scratch set's work rows
    or outgrow them at once (rows of one entry), and whether the in-edge ordered copies
    (``in_src``, ``in_time``, ``in_amount``) come from the cache or are derived for a
    graph made without them."""
    bare = replace(
        graph,
        arrays={
            k: v for k, v in graph.arrays.items() if k not in ("in_src", "in_time", "in_amount")
        },
        _pool=[],
    )
    with monkeypatch.context() as m:
        m.setattr(graph_module, "WORK_LENGTH", 1)
        tight = replace(graph, _pool=[])
        tight.give_scratch(tight.take_scratch())
    degree = np.diff(graph.out_ptr if direction is FORWARD else graph.in_ptr)
    for v in np.argsort(degree, kind="stable")[-4:].tolist():
        options = TraceOptions(direction=direction, model=model, hops=5)
        want = engine.trace_nodes(graph, np.array([v]), options)
        assert want.edges.size > 0
        for other in (
            engine.trace_nodes(bare, np.array([v]), options),
            engine.trace_nodes(tight, np.array([v]), options),
        ):
            assert other.edges.tolist() == want.edges.tolist()
            assert other.edge_hop.tolist() == want.edge_hop.tolist()
            assert other.edge_amount == want.edge_amount
            assert other.edge_amount_out == want.edge_amount_out
            assert other.nodes.tolist() == want.nodes.tolist()
            assert other.node_amount == want.node_amount
            assert other.node_parent.tolist() == want.node_parent.tolist()
            assert np.array_equal(other.edge_float, want.edge_float)
