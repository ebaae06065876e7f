"""Tracing on the generated world, scored against its ground truth: the bridge is found
from on-chain data, the hack is followed from eth to its cash-outs on btc, a ransomware
victim's payment to the cash-out deposit at the exchange, and back."""

from __future__ import annotations

from typing import Any

import duckdb
import numpy as np
from tracing_helpers import Traced

from chainsleuth.chain.lookups import ChainReader
from chainsleuth.tracing import engine
from chainsleuth.tracing import service as tracing_service
from chainsleuth.tracing.crosschain import KIND_BRIDGE
from chainsleuth.tracing.engine import Model, TraceDirection
from chainsleuth.tracing.graph import FlowGraph
from chainsleuth.tracing.schemas import PathBy, TraceRequest

ON_CHAIN = {"start", "spend", "account", "swap", "bridge"}  # links a tracer can follow


def traceable_cash_outs(traced: Traced, start: str) -> list[dict[str, Any]]:
    """The cash-out hops reached from ``start`` through links visible on-chain only (not
    through the custodial mixer's books)."""
    children: dict[str, list[dict[str, Any]]] = {}
    for h in traced.hops:
        for p in h["parents"]:
            children.setdefault(p, []).append(h)
    found: dict[str, dict[str, Any]] = {}
    stack = [traced.hop(start)]
    while stack:
        h = stack.pop()
        if h["step"] == "cash_out":
            found[h["hop"]] = h
        for child in children.get(h["hop"], []):
            if child["link"] in ON_CHAIN:
                stack.append(child)
    return list(found.values())


def reached_edges(reader: ChainReader, trace: Any) -> set[tuple[str, str, str]]:
    return {(e.chain, e.tx_hash, e.target.split(":")[1]) for e in trace.edges if e.amount > 0}


def test_bridge_transfers_are_found_from_on_chain_data(
    traced: Traced, reader: ChainReader, graph: FlowGraph
) -> None:
    con = duckdb.connect()
    rows = con.execute(
        "SELECT lock_chain, lock_tx, release_chain, release_tx FROM read_parquet(?)",
        [str(traced.world / "truth/bridge_transfers.parquet")],
    ).fetchall()
    con.close()
    truth = {(lc, reader.tx_id(lc, lt), reader.tx_id(rc, rt)) for lc, lt, rc, rt in rows}
    found = set()
    for e in graph.cross_eid.tolist():
        if graph.e_kind[e] == KIND_BRIDGE:
            chain = graph.chains[graph.node_chain[graph.e_src[e]]]
            found.add((chain, int(graph.e_tx[e]), graph.second_tx(e)))
    assert len(truth) >= 10
    assert found == truth  # every transfer, both directions, and nothing else


def test_the_hack_is_traced_from_eth_to_its_cash_outs_on_btc(
    traced: Traced, reader: ChainReader
) -> None:
    ctx = traced.context()
    exploits = [h for h in traced.hops if h["scheme"] == "HACK-1" and h["step"] == "exploit"]
    expected = {
        (c["chain"], c["tx_hash"], c["cash_out_address"])
        for h in exploits
        for c in traceable_cash_outs(traced, h["hop"])
    }
    assert len(expected) >= 10 and {c for c, _, _ in expected} == {"btc"}
    reached: set[tuple[str, str, str]] = set()
    for model in (Model.HAIRCUT, Model.POISON):
        for tx in sorted({h["tx_hash"] for h in exploits}):
            trace = tracing_service.run_trace(
                reader,
                TraceRequest(chain="eth", tx=tx, direction=TraceDirection.FORWARD,
                             model=model, hops=8),
                ctx,
            )  # fmt: skip
            reached |= reached_edges(reader, trace)
            kinds = {e.kind for e in trace.edges}
            assert {"swap", "bridge"} <= kinds
            bridge = next(e for e in trace.edges if e.kind == "bridge")
            assert bridge.asset == "WETH" and bridge.asset_out == "BTC"
            assert bridge.release_tx_hash is not None
        assert expected <= reached, expected - reached
        # the cash-out deposits are where the trace stops, labelled as what they are
        stops = {n.address: n for n in trace.nodes if n.stop}
        for _, _, address in expected:
            if address in stops:
                assert stops[address].category in {"exchange", "otc_broker"}


def test_a_ransomware_payment_is_traced_to_the_exchange_deposit(
    traced: Traced, reader: ChainReader
) -> None:
    ctx = traced.context()
    payments = [h for h in traced.hops if h["scheme"] == "RW-1" and h["step"] == "ransom_payment"]
    exchanges = {
        c["address"] for c in traced.schemes["RW-1"]["cash_outs"] if c["kind"] == "exchange"
    }
    assert payments and exchanges
    for payment in payments[:3]:
        expected = {
            (c["chain"], c["tx_hash"], c["cash_out_address"])
            for c in traceable_cash_outs(traced, payment["hop"])
        }
        assert expected and {a for _, _, a in expected} & exchanges
        trace = tracing_service.run_trace(
            reader,
            TraceRequest(chain="btc", tx=payment["tx_hash"], direction=TraceDirection.FORWARD,
                         hops=40),
            ctx,
        )  # fmt: skip
        assert expected <= reached_edges(reader, trace)
        deposit = next(n for n in trace.nodes if n.address in exchanges)
        assert deposit.stop and deposit.category == "exchange" and deposit.amount > 0
        # haircut amounts never exceed the payment
        assert deposit.amount <= int(payment["amount"])


def test_backward_from_a_btc_cash_out_reaches_the_hacker_on_eth(
    traced: Traced, reader: ChainReader
) -> None:
    exploit = next(h for h in traced.hops if h["hop"] == "HACK-1:eth:16")
    attacker = exploit["to_addresses"][0]
    cash_out = next(c for c in traceable_cash_outs(traced, "HACK-1:eth:16"))
    trace = tracing_service.run_trace(
        reader,
        TraceRequest(chain="btc", tx=cash_out["tx_hash"], direction=TraceDirection.BACKWARD,
                     hops=6),
        traced.context(),
    )  # fmt: skip
    eth_nodes = {n.address.lower(): n for n in trace.nodes if n.chain == "eth" and n.address}
    assert attacker in eth_nodes
    assert eth_nodes[attacker].amount > 0


def test_paths_between_addresses(traced: Traced, reader: ChainReader) -> None:
    ctx = traced.context()
    cash_out = next(
        c
        for c in traceable_cash_outs(traced, "HACK-1:eth:16")
        if traced.hop(traced.hop(c["parents"][0])["parents"][0])["step"] == "bridge_release"
    )
    release = traced.hop(traced.hop(cash_out["parents"][0])["parents"][0])
    start, end = release["to_addresses"][0], cash_out["cash_out_address"]
    short = tracing_service.find_path(reader, "btc", [start], [end], ctx, hops=7)
    assert short.found and short.hops == 2
    assert short.edges[-1].tx_hash == cash_out["tx_hash"]
    assert short.edges[0].source.split(":")[1] == start
    assert short.edges[-1].target.split(":")[1] == end
    wide = tracing_service.find_path(reader, "btc", [start], [end], ctx, by=PathBy.VALUE)
    assert wide.found and wide.bottleneck >= short.bottleneck
    none = tracing_service.find_path(reader, "btc", [end], [start], ctx, hops=1)
    assert not none.found and none.edges == []


def test_exposure_of_a_cash_out_deposit(traced: Traced, reader: ChainReader) -> None:
    cash_out = next(
        c for c in traceable_cash_outs(traced, "HACK-1:eth:16") if c["cash_out_kind"] == "exchange"
    )
    report = tracing_service.exposure(
        reader, "btc", [cash_out["cash_out_address"]], traced.context(), hops=4
    )
    incoming = {e.category: e for e in report.entries if e.direction == "incoming"}
    sanctioned = incoming["sanctioned"]  # the hacker's addresses pay the deposit directly
    assert sanctioned.direct_value > 0 and sanctioned.min_hops == 1
    assert 0 < sanctioned.share <= 1 and sanctioned.value <= report.received["BTC"]
    assert sanctioned.paths and sanctioned.paths[0][-1].target.split(":")[1] in {
        a for h in traced.hops if h["scheme"] == "HACK-1" for a in h["to_addresses"]
    } | {cash_out["cash_out_address"]}
    assert sum(e.share for e in incoming.values()) <= 1 + 1e-9


def test_entity_trace_is_the_union_without_internal_flows(
    traced: Traced, reader: ChainReader, graph: FlowGraph
) -> None:
    split = traced.hop("HACK-1:btc:0")
    members = split["to_addresses"]
    ids = np.array(sorted(reader.address_id("btc", a) for a in members))
    nodes = graph.nodes_of("btc", ids)
    options = engine.TraceOptions(direction=TraceDirection.FORWARD, hops=1)
    seeds = engine.address_seeds(graph, nodes, options)
    assert seeds.size and not np.isin(graph.e_dst[seeds], nodes).any()
    one = engine.address_seeds(graph, nodes[:1], options)
    assert set(one.tolist()) <= set(seeds.tolist()) | set(
        np.flatnonzero(np.isin(graph.e_dst, nodes)).tolist()
    )
