"""Bulk exposure: the compiled kernel (the ground truth) against one-address exposure,
the Spark engine against the kernel (the same shares on the shared world), and
``chainsleuth trace exposure-bulk``."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from tracing_helpers import Traced
from typer.testing import CliRunner

from chainsleuth.chain.lookups import ChainReader
from chainsleuth.cli import app as cli_app
from chainsleuth.core.errors import InvalidInput, NotFound
from chainsleuth.entities import spark as entities_spark
from chainsleuth.tracing import bulk
from chainsleuth.tracing import exposure as exposure_engine
from chainsleuth.tracing.graph import FlowGraph


@pytest.fixture(scope="module")
def spark(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    session = entities_spark.spark_session(threads=2, tmp_dir=tmp_path_factory.mktemp("spark"))
    yield session
    entities_spark.stop_session()


@pytest.fixture(scope="module")
def labelled(traced: Traced, reader: ChainReader, graph: FlowGraph) -> bulk.Categories:
    return bulk.categories_of(reader, graph, traced.context())


def _busy(graph: FlowGraph, chain: str, k: int) -> np.ndarray:
    """The ``k`` positions of ``chain`` with the most flows in and out (sorted)."""
    c = graph.chain_index(chain)
    nodes = np.flatnonzero((np.asarray(graph.node_chain) == c) & (np.asarray(graph.node_addr) >= 0))
    degree = np.diff(np.asarray(graph.in_ptr))[nodes] + np.diff(np.asarray(graph.out_ptr))[nodes]
    return np.sort(nodes[np.argsort(-degree, kind="stable")[:k]])


@pytest.mark.parametrize("forward", [False, True])
def test_bulk_kernel_matches_one_address_exposure(
    graph: FlowGraph, labelled: bulk.Categories, forward: bool
) -> None:
    subjects = np.concatenate([_busy(graph, "btc", 20), _busy(graph, "eth", 20)])
    shares = bulk.ENGINES["numpy"].shares(graph, subjects, labelled, forward=forward, hops=3)
    node_category = dict(zip(labelled.nodes.tolist(), labelled.values.tolist(), strict=True))
    e_src, e_dst = np.asarray(graph.e_src), np.asarray(graph.e_dst)
    e_amount, e_out = np.asarray(graph.e_amount), np.asarray(graph.e_out)
    keys = exposure_engine.node_keys(graph)
    compared = 0
    for k, v in enumerate(subjects.tolist()):
        found, totals, result = exposure_engine.exposure(
            graph, np.array([v]), node_category, forward=forward, hops=3, max_edges=10**7
        )
        assert not result.truncated and result.edge_float is not None
        # the trace's float attributions (before rounding to integers) per category reached
        edges = result.edges
        far = e_dst[edges] if forward else e_src[edges]
        value = result.edge_float * (e_out[edges] / e_amount[edges] if forward else 1.0)
        expect = np.zeros(len(labelled.names))
        own_key = keys[v]
        for node, x in zip(far.tolist(), value.tolist(), strict=True):
            if node != v and node in node_category and keys[node] == own_key:
                expect[node_category[node]] += x
        seeds = edges[result.edge_hop == 1]
        total = float((e_amount[seeds] if forward else e_out[seeds]).sum())
        if total > 0:
            expect /= total
        # the same up to float rounding and the pruning of branches under MIN_SHARE
        assert np.allclose(shares[k], expect, rtol=1e-6, atol=1e-8), (v, shares[k], expect)
        # and the integer report agrees to its rounding (floored per edge)
        rounded = np.zeros(len(labelled.names))
        own = int(graph.node_asset[v])
        for x in found:
            if x.asset == own and x.chain == int(graph.node_chain[v]):
                rounded[x.category] += x.value / x.total
        assert np.allclose(shares[k], rounded, rtol=1e-3, atol=1e-5), (v, shares[k], rounded)
        assert shares[k].sum() <= 1.0 + 1e-9
        compared += int(expect.sum() > 0)
    assert compared >= 15  # the busy positions do reach labelled ones


def test_spark_parity_on_the_world(
    spark: object, traced: Traced, reader: ChainReader, graph: FlowGraph, labelled: bulk.Categories
) -> None:
    local = bulk.get_engine("numpy")
    remote = bulk.get_engine("spark")
    assert remote.name == "spark"
    btc = bulk.subject_nodes(reader, graph, "btc", None)
    eth = bulk.subject_nodes(reader, graph, "eth", None)
    subjects = np.concatenate([btc[:: max(1, btc.size // 1500)], eth[:: max(1, eth.size // 500)]])
    for forward in (False, True):
        ours = local.shares(graph, subjects, labelled, forward=forward, hops=3)
        theirs = remote.shares(graph, subjects, labelled, forward=forward, hops=3)
        assert theirs.shape == ours.shape
        assert np.array_equal(theirs > 0, ours > 0)  # the same exposures, no more, no fewer
        assert np.allclose(theirs, ours, rtol=1e-9, atol=1e-12)  # to float rounding
        assert (ours > 0).any(axis=1).sum() > 100


def test_bulk_service_inputs(traced: Traced, reader: ChainReader, graph: FlowGraph) -> None:
    ctx = traced.context()
    with pytest.raises(NotFound, match="no activity"):
        bulk.bulk_exposure(reader, "btc", ["1BoatSLRHtKNngkdXEeobR76b53LETtpyT"], ctx)
    with pytest.raises(InvalidInput, match="unknown engine"):
        bulk.bulk_exposure(reader, "btc", None, ctx, engine="dask")
    with pytest.raises(InvalidInput, match="direction"):
        bulk.bulk_exposure(reader, "btc", None, ctx, directions=["sideways"])
    with pytest.raises(InvalidInput, match="hops"):
        bulk.bulk_exposure(reader, "btc", None, ctx, hops=0)


def test_exposure_bulk_cli(data_dir: Path, traced: Traced, tmp_path: Path) -> None:
    env = {"CHAINSLEUTH_DATA_DIR": str(data_dir)}
    payment = next(h for h in traced.hops if h["step"] == "ransom_payment")
    victim = payment["from_addresses"][0]
    runner = CliRunner()
    out = tmp_path / "exposure.csv"
    result = runner.invoke(
        cli_app,
        ["trace", "exposure-bulk", "btc", "--all", "--hops", "3", "--out", str(out)],
        env=env,
    )
    assert result.exit_code == 0, result.output
    assert "rows written" in result.output
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert rows and list(rows[0]) == bulk.CSV_COLUMNS
    assert {r["direction"] for r in rows} == {"incoming", "outgoing"}
    assert all(0 < float(r["share"]) <= 1.0 + 1e-9 for r in rows)
    assert victim in {r["address"] for r in rows}
    # one address, on stdout, incoming only: its rows are those of the whole run
    one = runner.invoke(
        cli_app, ["trace", "exposure-bulk", "btc", victim, "--direction", "incoming"], env=env
    )
    assert one.exit_code == 0, one.output
    mine = list(csv.DictReader(io.StringIO(one.stdout)))
    expect = [r for r in rows if r["address"] == victim and r["direction"] == "incoming"]
    assert mine == expect and mine
    for args, reason in (
        (["btc", "not-an-address"], ""),
        (["btc"], "--all"),
        (["btc", victim, "--all"], "--all"),
        (["btc", "--all", "--engine", "dask"], "engine"),
        (["btc", "--all", "--direction", "sideways"], "direction"),
    ):
        bad = runner.invoke(cli_app, ["trace", "exposure-bulk", *args], env=env)
        assert bad.exit_code == 2, (args, bad.output)
        assert reason in bad.output and "Traceback" not in bad.output
