"""Clustering the small generated world: scores against its ground truth, evidence that
holds up against the chain data, and incremental builds equal to a full one."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from chainsleuth.chain import storage
from chainsleuth.chain.keys import hex_of
from chainsleuth.chain.store import ChainStore
from chainsleuth.cli import app as cli_app
from chainsleuth.entities import evaluation
from chainsleuth.entities import service as entity_service
from chainsleuth.entities.source import chain_connection
from chainsleuth.world import manifest as mf
from chainsleuth.world.load import read_range

#: floors below what the small world measures (btc 1.000 / 0.378, eth 1.000 / 0.598)
FLOORS = {"btc": (0.99, 0.33), "eth": (0.99, 0.5)}


@pytest.mark.parametrize("chain", ["btc", "eth"])
def test_scores_above_floors(world: Path, world_store: Path, chain: str) -> None:
    score = evaluation.score(world, world_store, chain)
    precision, recall = FLOORS[chain]
    assert score.precision >= precision and score.recall >= recall
    assert score.correct_pairs <= min(score.true_pairs, score.predicted_pairs)
    exchange = next(t for t in score.by_type if t.actor_type == "exchange")
    assert exchange.recall > 0.2  # deposit sweeps (btc: multi-input) tie exchanges together


def test_change_heuristics_raise_recall(world: Path, world_store: Path, tmp_path: Path) -> None:
    base = evaluation.score(world, world_store, "btc")
    runner = CliRunner()
    out = runner.invoke(
        cli_app,
        [
            "eval",
            "clustering",
            str(world),
            "--store",
            str(world_store),
            "--chain",
            "btc",
            "--heuristics",
            "multi-input,change-fresh,change-reuse",
            "--json",
        ],
    )
    assert out.exit_code == 0, out.output
    (score,) = json.loads(out.output)
    assert score["heuristics"] == ["multi-input", "change-fresh", "change-reuse"]
    assert score["recall"] > base.recall + 0.05 and score["precision"] >= 0.95
    # back to the defaults for the other tests
    entity_service.build(world_store, "btc", heuristics="multi-input")


def test_evidence_is_the_chains(world_store: Path) -> None:
    """Each step of a why-path in the largest entity names a transaction that spends from
    both of its addresses."""
    entities = np.asarray(entity_service.entity_map(world_store, "btc"))
    biggest = int(np.bincount(entities).argmax())
    ids = entity_service.members(world_store, "btc", biggest)
    assert ids.size > 20 and ids[0] == biggest
    steps = entity_service.why(world_store, "btc", int(ids[-1]), int(ids[0]))
    assert steps[0].a_id == ids[-1] and steps[-1].b_id == ids[0]
    for prev, nxt in zip(steps, steps[1:], strict=False):
        assert prev.b_id == nxt.a_id
    with chain_connection(world_store) as con:
        for s in steps:
            spent = {
                r[0]
                for r in con.execute(
                    "SELECT address_id FROM btc_inputs WHERE tx_id = ?", [s.tx_id]
                ).fetchall()
            }
            assert {s.a_id, s.b_id} <= spent and s.heuristic == "multi-input"


def test_world_coinjoins_are_detected(world: Path, world_store: Path) -> None:
    """Every CoinJoin round of the world's ground truth is among the skipped transactions."""
    tx_ids, kinds = entity_service.coinjoins(world_store, "btc")
    assert tx_ids.size and set(kinds.tolist()) <= {1, 2, 3, 4}
    truth = pq.read_table(world / "truth" / "typologies.parquet").to_pylist()
    rounds = {h for t in truth if t["typology"] == "coinjoin" for h in t["tx_hashes"]}
    assert rounds
    flat = storage.FlatFiles(world_store / "btc")
    assert rounds <= set(hex_of(flat.tx_hashes(tx_ids), prefixed=False))


def test_eth_deposit_evidence(world_store: Path) -> None:
    entities = np.asarray(entity_service.entity_map(world_store, "eth"))
    biggest = int(np.bincount(entities).argmax())
    ids = entity_service.members(world_store, "eth", biggest)
    steps = entity_service.why(world_store, "eth", int(ids[-1]), int(ids[-2]))
    assert steps and {s.heuristic for s in steps} <= {"eth-deposit", "eth-deposit-sweep"}
    summary = entity_service.entity_summary(world_store, "eth", biggest)
    assert summary.size == ids.size and summary.symbol == "ETH"


def test_incremental_equals_full(world: Path, world_store: Path, tmp_path: Path) -> None:
    """The world loaded in two parts, built after each: the same entities as one build."""
    root = tmp_path / "chains"
    manifest = mf.read_manifest(world)
    ranges = {c: manifest["chains"][c]["ranges"] for c in ("btc", "eth")}
    with ChainStore(root, durable=False) as store:
        for chain, rs in ranges.items():
            for r in rs[: len(rs) // 2]:
                store.append(read_range(world, chain, r))
        first = entity_service.build(root, "all")
        assert {r.mode for r in first} == {"full"}
        for chain, rs in ranges.items():
            for r in rs[len(rs) // 2 :]:
                store.append(read_range(world, chain, r))
        second = entity_service.build(root, "all")
        # btc merges the new blocks into its forest; eth recomputes its deposit links
        assert {r.chain: r.mode for r in second} == {"btc": "incremental", "eth": "full"}
    for chain in ("btc", "eth"):  # address ids follow the batches a load appended
        assert partition(root, chain) == partition(world_store, chain), chain


def partition(root: Path, chain: str) -> dict[str, str]:
    """Each address (text) with the smallest address of its entity: entities as sets of
    addresses, whatever the ids."""
    entities = np.asarray(entity_service.entity_map(root, chain))
    texts = storage.FlatFiles(root / chain).addresses(list(range(entities.size)))
    first: dict[int, str] = {}
    for e, text in zip(entities.tolist(), texts, strict=True):
        if e not in first or text < first[e]:
            first[e] = text
    return {text: first[e] for e, text in zip(entities.tolist(), texts, strict=True)}
