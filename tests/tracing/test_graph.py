"""The flow graph against the chain store's own flow view, its cache, and its updates as
the store's tip moves (appends, re-orgs)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from tracing_helpers import Traced

from chain.chain_builders import btc_history, eth_history
from chainsleuth.chain import flows as chain_flows
from chainsleuth.chain import storage
from chainsleuth.chain.lookups import ChainReader
from chainsleuth.chain.store import ChainStore
from chainsleuth.tracing import exposure as exposure_engine
from chainsleuth.tracing import graph as graph_module
from chainsleuth.tracing.flowsource import read_flows
from chainsleuth.tracing.graph import FlowGraph, load_graph
from chainsleuth.tracing.service import category_nodes


@pytest.mark.parametrize("chain", ["btc", "eth"])
def test_flows_match_the_chain_flow_view(traced: Traced, reader: ChainReader, chain: str) -> None:
    assert reader.con is not None
    count = storage.one(reader.con, "SELECT tx_count FROM chain_state WHERE chain = ?", [chain])
    raw = read_flows(reader.con, storage.FlatFiles(traced.root / chain), chain, 0, count[0])
    rng = np.random.default_rng(3)
    ids = rng.choice(np.unique(raw.src[raw.src >= 0]), size=40, replace=False).tolist()
    view = chain_flows.flows(reader, chain, ids, direction=chain_flows.Direction.OUT)
    want = sorted(
        (r["tx_id"], r["from_id"], r["to_id"] if r["to_id"] is not None else -1,
         r["asset_id"], int(r["value"]))
        for r in view.to_pylist()
    )  # fmt: skip
    mine = np.isin(raw.src, ids)
    got = sorted(
        (int(raw.tx[i]), int(raw.src[i]), int(raw.dst[i]), int(raw.asset[i]), raw.exact(i))
        for i in np.flatnonzero(mine).tolist()
    )
    assert got == want and len(got) > 40


def test_csr_is_consistent(graph: FlowGraph) -> None:
    n, m = graph.n_nodes, graph.n_edges
    assert graph.out_ptr[-1] == m and graph.in_ptr[-1] == m
    assert np.all(np.diff(graph.e_src) >= 0)  # grouped by source
    assert np.array_equal(np.sort(graph.in_eid), np.arange(m))
    assert np.all(np.diff(graph.e_dst[graph.in_eid]) >= 0)
    v = int(np.argmax(np.diff(graph.in_ptr)))
    ins = graph.in_eid[graph.in_ptr[v] : graph.in_ptr[v + 1]]
    assert np.all(np.diff(graph.e_time[ins]) >= 0)
    assert graph.in_cum[ins[-1]] == pytest.approx(graph.e_out[ins].sum())
    assert graph.node_addr.size == n and np.all(np.isin(graph.e_kind, [0, 1, 2]))
    # the in-edge ordered copies the backward kernel reads
    assert np.array_equal(graph.in_src, graph.e_src[graph.in_eid])
    assert np.array_equal(graph.in_time, graph.e_time[graph.in_eid])
    assert np.array_equal(graph.in_amount, graph.e_amount[graph.in_eid])


def test_a_second_load_reads_the_cache(traced: Traced, reader: ChainReader) -> None:
    first = load_graph(reader, traced.services)
    graph_module._LOADED.clear()  # a fresh process: from the files, not memory
    again = load_graph(reader, traced.services)
    assert again is not first and again.meta == first.meta
    assert isinstance(again.e_dst.base, np.memmap)  # mapped, not read into memory
    assert np.array_equal(again.e_amount, first.e_amount)


def test_the_graph_follows_the_tip(tmp_path: Path) -> None:
    root = tmp_path / "chains"
    batches = btc_history()
    with ChainStore(root, durable=False) as store:
        for batch in batches[:2] + eth_history():
            store.append(batch)
        with store.reader() as reader:
            early = load_graph(reader)
            edges_early = early.n_edges
        store.append(batches[2])
        with store.reader() as reader:
            extended = load_graph(reader)
            assert extended.n_edges > edges_early
            meta = (root / "tracing/flows/btc/meta.json").read_text()
            assert '"tx_count": 7' in meta
        # the same as built from nothing
        import shutil

        shutil.rmtree(root / "tracing")
        graph_module._LOADED.clear()
        with store.reader() as reader:
            fresh = load_graph(reader)
        for name in ("e_src", "e_dst", "e_amount", "e_time", "e_tx", "in_eid"):
            assert np.array_equal(getattr(fresh, name), getattr(extended, name)), name
        # a re-org back to the early tip: the graph is what it was
        store.truncate_after("btc", 1)
        with store.reader() as reader:
            cut = load_graph(reader)
        assert cut.n_edges == edges_early


def test_bulk_exposure_matches_one_at_a_time(
    traced: Traced, reader: ChainReader, graph: FlowGraph
) -> None:
    ctx = traced.context()
    names, node_category = category_nodes(reader, graph, ctx)
    labelled = np.array(sorted(node_category), dtype=np.int64)
    values = np.array([node_category[v] for v in labelled.tolist()], dtype=np.int64)
    btc = graph.chain_index("btc")
    candidates = np.flatnonzero(
        (graph.node_chain == btc) & (np.diff(graph.out_ptr) > 0) & (np.diff(graph.in_ptr) > 0)
    )
    subjects = [np.array([v]) for v in candidates[~np.isin(candidates, labelled)][:25].tolist()]
    for forward in (False, True):
        bulk = exposure_engine.bulk_exposure(
            graph, subjects, labelled, values, len(names), forward=forward, hops=3
        )
        for s, nodes in enumerate(subjects):
            found, _, _ = exposure_engine.exposure(
                graph, nodes, node_category, forward=forward, hops=3
            )
            single = np.zeros(len(names))
            for x in found:
                single[x.category] += x.share
            # the single exposure rounds every edge down to whole units: a few 1e-6 apart
            assert bulk[s] == pytest.approx(single, abs=1e-4), (s, forward)
