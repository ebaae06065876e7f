"""Benchmark of bulk exposure: the compiled kernel (``--engine numpy``, the ground truth)
and the Spark engine (``--engine spark``, PySpark in local mode) on the same positions of
the same world, in one run; prints both rates and how far apart the shares are.

Generates (or, with ``--world``, reuses) a world of ``--txs`` transactions in ``--out``
(the layout of ``bench/tracing.py``, so the two share a world), builds the flow graph,
takes the world's actors as the categories, then computes the incoming and outgoing
shares (3 hops) of ``--positions`` positions of the UTXO chain (evenly spread; 0: all).

    .venv/bin/python bench/exposure_spark.py --txs 200000
    .venv/bin/python bench/exposure_spark.py --out /tmp/chainsleuth-bench/tracing --world
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from chainsleuth.chain import storage  # noqa: E402
from chainsleuth.chain.lookups import ChainReader  # noqa: E402
from chainsleuth.entities import spark as entities_spark  # noqa: E402
from chainsleuth.tracing import bulk  # noqa: E402
from chainsleuth.tracing import service as tracing_service  # noqa: E402
from chainsleuth.tracing.config import services_from_world  # noqa: E402
from chainsleuth.tracing.graph import load_graph  # noqa: E402
from tracing import make_world, truth_categories  # noqa: E402 - the sibling benchmark


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--txs", type=int, default=200_000)
    parser.add_argument("--out", type=Path, default=Path("/tmp/chainsleuth-bench/exposure"))
    parser.add_argument("--world", action="store_true", help="reuse the world in --out")
    parser.add_argument("--hops", type=int, default=3)
    parser.add_argument("--positions", type=int, default=20_000)
    parser.add_argument("--threads", type=int, default=2, help="Spark's local[N]")
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    if not (args.world and (args.out / "chains" / storage.DB_FILE).exists()):
        make_world(args.txs, args.out)
    world, root = args.out / "world", args.out / "chains"
    ctx = tracing_service.TracingContext(
        services=services_from_world(world), categories=truth_categories(world)
    )
    entities_spark.spark_session(threads=args.threads, tmp_dir=args.out / "spark")
    with ChainReader(storage.connect(root, read_only=True), root) as reader:
        graph = load_graph(reader, ctx.services)
        every = bulk.subject_nodes(reader, graph, "btc", None)
        step = max(1, every.size // args.positions) if args.positions else 1
        subjects = every[::step]
        categories = bulk.categories_of(reader, graph, ctx)
        print(
            f"graph: {graph.n_nodes:,} nodes, {graph.n_edges:,} edges; {subjects.size:,} of "
            f"{every.size:,} btc positions, {len(categories.names)} categories, "
            f"{categories.nodes.size:,} labelled nodes, {args.hops} hops"
        )
        local, remote = bulk.get_engine("numpy"), bulk.get_engine("spark")
        local.shares(graph, subjects[:10], categories, forward=False, hops=args.hops)  # warm
        for forward in (False, True):
            what = "outgoing" if forward else "incoming"
            t0 = time.perf_counter()
            ours = local.shares(graph, subjects, categories, forward=forward, hops=args.hops)
            t_local = time.perf_counter() - t0
            t0 = time.perf_counter()
            theirs = remote.shares(graph, subjects, categories, forward=forward, hops=args.hops)
            t_spark = time.perf_counter() - t0
            same = bool(np.array_equal(ours > 0, theirs > 0))
            worst = float(np.max(np.abs(ours - theirs), initial=0.0))
            print(
                f"{what}: numpy {t_local:.2f} s ({subjects.size / t_local:,.0f} positions/s); "
                f"spark local[{args.threads}] {t_spark:.1f} s "
                f"({subjects.size / t_spark:,.0f} positions/s); "
                f"same exposures {same}, largest share difference {worst:.1e}"
            )
    entities_spark.stop_session()
    print(f"load average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    sys.exit(main())
