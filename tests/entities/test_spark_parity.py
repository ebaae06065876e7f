"""The Spark engine against the local one (the ground truth): the same entities, the same
skipped CoinJoins, on the small world and on a hand-built chain with a CoinJoin."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from chain.chain_builders import MINER, A, B, C, D, E, txid
from chainsleuth.chain.store import ChainStore
from chainsleuth.cli import app as cli_app
from chainsleuth.core.errors import InvalidInput
from chainsleuth.entities import service as entity_service
from chainsleuth.entities import spark as sp
from chainsleuth.entities.clustering import BuildParams
from chainsleuth.entities.unionfind import UnionFind
from entities.test_heuristics import blocks, ids


@pytest.fixture(scope="session")
def spark(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    session = sp.spark_session(threads=2, tmp_dir=tmp_path_factory.mktemp("spark"))
    yield session
    sp.stop_session()


def snapshot(root: Path, chain: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    tx, kinds = entity_service.coinjoins(root, chain)
    return np.array(entity_service.entity_map(root, chain)), tx, kinds


def assert_same(
    one: tuple[np.ndarray, np.ndarray, np.ndarray], two: tuple[np.ndarray, np.ndarray, np.ndarray]
) -> None:
    for x, y in zip(one, two, strict=True):
        assert x.dtype == y.dtype
        assert np.array_equal(x, y)


def test_world_parity(spark: object, world_store: Path, tmp_path: Path) -> None:
    root = tmp_path / "chains"
    shutil.copytree(world_store, root)
    local = snapshot(root, "btc")
    (btc,) = entity_service.build(root, "btc", full=True, engine="spark")
    assert btc.mode == "full"
    assert_same(snapshot(root, "btc"), local)
    assert btc.coinjoins == local[1].size > 0 and btc.entities > 0
    # the evidence is a spanning forest again: as many merges as the local build made
    (again,) = entity_service.build(root, "btc", full=True)
    assert again.merges == btc.merges


def test_hand_built_parity_incremental_and_why(spark: object, tmp_path: Path) -> None:
    root = tmp_path / "chains"
    parts = blocks()
    with ChainStore(root, durable=False) as s:
        s.append(parts[0])
        s.append(parts[1])
        (first,) = entity_service.build(root, "btc", engine="spark")
        assert first.mode == "full" and first.coinjoins == 1 and first.merges == 1
        s.append(parts[2])
        (second,) = entity_service.build(root, "btc", engine="spark")
        assert second.mode == "incremental" and second.first_height == 2
        assert second.merges == 1
        spark_run = snapshot(root, "btc")
        (local,) = entity_service.build(root, "btc", full=True)
        assert local.coinjoins == 1
        assert local.merges == first.merges + second.merges
        assert_same(spark_run, snapshot(root, "btc"))
    a, b, c, d, e, m = ids(root, A, B, C, D, E, MINER)
    assert [(s.a_id, s.b_id, s.tx) for s in entity_service.why(root, "btc", a, d)] == [
        (a, b, txid("t1")),
        (b, d, txid("t2")),
    ]
    # keeping CoinJoins joins C, D and E in as well, on both engines
    keep = BuildParams(skip_coinjoin=False, large_entity=0)
    (kept,) = entity_service.build(root, "btc", params=keep, engine="spark")
    assert kept.coinjoins == 0
    joined = snapshot(root, "btc")
    assert len(set(entity_service.entity_of(root, "btc", np.array([a, c, d, e])))) == 1
    entity_service.build(root, "btc", params=keep, full=True)
    assert_same(joined, snapshot(root, "btc"))
    with pytest.raises(InvalidInput, match="multi-input only"):
        entity_service.build(root, "btc", heuristics="change", engine="spark")


def test_components_match_union_find(spark: object, tmp_path: Path) -> None:
    import pyarrow as pa  # noqa: PLC0415
    import pyarrow.parquet as pq  # noqa: PLC0415

    rng = np.random.default_rng(5)
    n = 400
    # a long path in scrambled order (many rounds) plus random edges
    order = rng.permutation(n)
    keep = np.arange(n - 1) != 149  # two paths
    extra_u, extra_v = rng.integers(0, n, 60), rng.integers(0, n, 60)
    u = np.concatenate([order[:-1][keep], extra_u])
    v = np.concatenate([order[1:][keep], extra_v])
    path = tmp_path / "edges.pq"
    pq.write_table(pa.table({"u": u.astype(np.int64), "v": v.astype(np.int64)}), path)
    session = sp.spark_session()
    labels = sp.components(session.read.parquet(str(path))).toArrow()
    got = np.arange(n)
    got[labels["node"].to_numpy()] = labels["root"].to_numpy()
    uf = UnionFind(n)
    uf.union_pairs(u.astype(np.int64), v.astype(np.int64))
    assert np.array_equal(got, uf.roots())


def test_cli_engine_option(spark: object, tmp_path: Path) -> None:
    root = tmp_path / "chains"
    with ChainStore(root, durable=False) as s:
        for batch in blocks():
            s.append(batch)
    runner = CliRunner()
    args = ["entities", "build", "--chain", "btc", "--store", str(root), "--json"]
    done = runner.invoke(cli_app, [*args, "--engine", "spark"])
    assert done.exit_code == 0, done.output
    assert '"coinjoins": 1' in done.output and '"merges": 2' in done.output
    bad = runner.invoke(cli_app, [*args, "--engine", "hadoop"])
    assert bad.exit_code == 2 and "unknown engine 'hadoop'" in bad.output
