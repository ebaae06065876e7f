"""Benchmark of the two clustering engines on the same chain store: the local engine
(DuckDB + numba, the baseline and ground truth) against the Spark engine (PySpark in
``local[--threads]`` mode), both running a full multi-input build of btc with CoinJoins
skipped. The entity arrays and the skipped CoinJoins must be identical.

The store is ``--store`` (a loaded world; its btc entities are rebuilt, identically), or
else a world of ``--txs`` transactions generated and loaded into a temporary folder.
Printed: wall seconds per build (best of ``--repeat``), input rows per second, and the
Spark session's start-up, measured apart.

    .venv/bin/python bench/clustering_spark.py                     # a 20,000-tx world
    .venv/bin/python bench/clustering_spark.py --txs 200000 --threads 4
    .venv/bin/python bench/clustering_spark.py --store data/chains
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from chainsleuth.entities import service as entity_service
from chainsleuth.entities import source
from chainsleuth.entities import spark as sp


def input_rows(root: Path) -> int:
    with source.chain_connection(root) as con:
        row = con.execute(
            "SELECT coalesce(sum(rows), 0) FROM segments WHERE chain = ? AND tbl = ?",
            ["btc", "inputs"],
        ).fetchone()
    return int(row[0]) if row else 0


def run(root: Path, engine: str, repeat: int) -> tuple[float, np.ndarray, np.ndarray]:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        entity_service.build(root, "btc", full=True, engine=engine, heuristics="multi-input")
        best = min(best, time.perf_counter() - started)
    tx, _kinds = entity_service.coinjoins(root, "btc")
    return best, np.array(entity_service.entity_map(root, "btc")), tx


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", type=Path, help="a chain store with btc loaded")
    parser.add_argument("--txs", type=int, default=20_000, help="world size when no --store")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-spark-") as tmp:
        root = args.store
        if root is None:
            from chainsleuth.world.generate import generate_world  # noqa: PLC0415
            from chainsleuth.world.load import load_world  # noqa: PLC0415
            from chainsleuth.world.presets import params_for  # noqa: PLC0415

            world = Path(tmp) / "world"
            generate_world(world, params_for(txs=args.txs, days=16, seed=11), jobs=1)
            root = Path(tmp) / "chains"
            load_world(world, store_root=root)
        rows = input_rows(root)
        started = time.perf_counter()
        sp.spark_session(threads=args.threads, tmp_dir=Path(tmp) / "spark")
        startup = time.perf_counter() - started
        local_s, local_ent, local_cj = run(root, "local", args.repeat)
        spark_s, spark_ent, spark_cj = run(root, "spark", args.repeat)
        sp.stop_session()
    same = np.array_equal(local_ent, spark_ent) and np.array_equal(local_cj, spark_cj)
    print(f"btc: {rows:,} input rows, {local_ent.size:,} addresses, {local_cj.size:,} CoinJoins")
    print(f"spark session start-up (local[{args.threads}]): {startup:.1f} s")
    for name, secs in (("local (baseline)", local_s), (f"spark local[{args.threads}]", spark_s)):
        print(f"{name:>20}: {secs:8.2f} s per full build, {rows / secs:12,.0f} input rows/s")
    print(f"identical entities and CoinJoins: {same}")


if __name__ == "__main__":
    main()
