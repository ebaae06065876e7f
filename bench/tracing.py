"""Benchmark of tracing: a 5-hop haircut backward trace, and exposure of one address.

Generates (or, with ``--world``, reuses) a world of ``--txs`` transactions, loads it into a
store, builds the flow graph (timed: a cold build, then a load from the cache), then:

* a backward haircut trace (``--hops``, default 5) from ``--samples`` random addresses
  of the UTXO chain with incoming flows, time-respecting, stopping at services (the
  product's default; ``--no-stop`` to trace through them): median and p95 of the engine
  (``engine.trace_nodes``: the compiled propagation plus the exact integer amounts), and of the
  whole service call (graph lookup, address resolution, rendering of the JSON graph);
* the baseline, in the same run on the same graph: the same trace (the same rule,
  level by level) written with networkx on a ``MultiDiGraph`` of the same chain's edges
  that the baseline's traces can read (their backward cone; built once, not timed); the
  totals of both are compared, and the speed-up is given as the ratio of the medians and
  as the median of the per-address ratios (wall and CPU). Per address the two sides
  alternate, symmetrically: networkx runs once untimed and then timed, then the engine
  runs once untimed and then timed; each side is timed right after its own untimed run,
  with its data in cache. (Until 2026-12-03 the order was networkx untimed, engine
  untimed, networkx timed, engine timed: the engine was timed after networkx's run had
  pushed its part of the big arrays out of the caches, which on the 10M world made its
  deep traces ~4x slower than warm; networkx was not so disadvantaged: its untimed run
  was followed only by the engine's short one. The change lowers the engine's figures
  in this comparison, not its code's cost; ``engine:`` lines above are timed
  back-to-back over many addresses, without a warm-up per address.)

  What each side does, per trace. The engine (timed from the address,
  ``engine.trace_nodes``: one compiled call) finds the seed edges, propagates level by
  level (stops looked up in a per-node mask made once per stop set, time order through
  binary searches on the time-sorted in-edges, the haircut denominators from the
  precomputed running totals ``in_cum``), keeps the amount of every edge and node, its
  hop and the edge that first reached it, then turns the float attributions into exact
  integers and trims them so that no node passes on more than it got
  (``kernels.finish_checked``; the integers are int64 arrays in the result, made into
  lists of Python ints only when read, which the timed call does not). networkx
  (``nx_backward_haircut``): the same rule on ``g.in_edges(v, data=True)``, level by
  level, the amount per edge and per node in dicts, the denominators summed from the
  edges it reads (networkx has no running totals); floats only, no rounding, no
  conservation trim, no hops or parents kept: it does less than the engine. Its graph
  holds the cone only (a few ten thousand edges, not the whole chain), which favours it
  (its dicts stay in cache).
* exposure (incoming and outgoing, 3 hops) of ``--samples`` random addresses, with the
  world's actors as the categories: median and p95.

    .venv/bin/python bench/tracing.py                    # 1,000,000 transactions
    .venv/bin/python bench/tracing.py --txs 10000000     # the targets' size
    .venv/bin/python bench/tracing.py --world-dir /work/w10m/world --out /tmp/D/t10m
                                    # an existing world folder (read only), loaded into --out
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from chainsleuth.chain import storage
from chainsleuth.chain.lookups import ChainReader
from chainsleuth.tracing import engine
from chainsleuth.tracing import exposure as exposure_engine
from chainsleuth.tracing import graph as graph_module
from chainsleuth.tracing import service as tracing_service
from chainsleuth.tracing.config import services_from_world
from chainsleuth.tracing.engine import Model, TraceDirection, TraceOptions
from chainsleuth.tracing.graph import FlowGraph, load_graph
from chainsleuth.tracing.schemas import TraceRequest

LABELLED = (
    "exchange", "otc_broker", "mixer", "coinjoin", "darknet_market", "ransomware", "scam",
    "stolen_funds", "sanctioned", "bridge", "dex", "defi",
)  # fmt: skip


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def ms(values: list[float], cpu: list[float] | None = None) -> str:
    text = (
        f"median {statistics.median(values) * 1000:.2f} ms, p95 {pct(values, 0.95) * 1000:.2f} ms"
    )
    if cpu:
        text += f" (CPU: median {statistics.median(cpu) * 1000:.2f} ms)"
    return text


def load_existing(world: Path, out: Path) -> None:
    """Load an existing world folder (only read) into the store at ``out / "chains"``."""
    from chainsleuth.world.load import load_world

    t0 = time.perf_counter()
    load_world(world, store_root=out / "chains")
    print(f"world: {world} loaded in {time.perf_counter() - t0:.0f} s", flush=True)


def make_world(txs: int, out: Path) -> None:
    from chainsleuth.world.generate import generate_world
    from chainsleuth.world.load import load_world
    from chainsleuth.world.presets import params_for

    t0 = time.perf_counter()
    generate_world(out / "world", params_for(txs=txs, seed=7))
    t1 = time.perf_counter()
    load_world(out / "world", store_root=out / "chains")
    print(f"world: generated in {t1 - t0:.0f} s, loaded in {time.perf_counter() - t1:.0f} s")


def truth_categories(world: Path) -> tracing_service.MappingCategories:
    import duckdb

    con = duckdb.connect()
    rows = con.execute(
        """SELECT a.chain, a.address, b.category
           FROM read_parquet(?::VARCHAR[]) a JOIN read_parquet(?) b USING (actor_id)
           WHERE b.category IN (SELECT unnest(?::VARCHAR[]))""",
        [
            [str(world / "truth" / f"addresses_{c}.parquet") for c in ("btc", "eth")],
            str(world / "truth" / "actors.parquet"),
            list(LABELLED),
        ],
    ).fetchall()
    con.close()
    return tracing_service.MappingCategories({(c, a): k for c, a, k in rows})


# --- the networkx baseline ----------------------------------------------------------------------


def backward_cone(
    graph: FlowGraph, chain: str, targets: list[int], hops: int, stop: np.ndarray
) -> np.ndarray:
    """The edges of ``chain`` that a backward trace of ``hops`` from ``targets`` can read:
    every in-edge of the targets and, ``hops - 1`` levels on, of the nodes they come from
    (stops not expanded; time ignored, so a superset). Level by level with numpy."""
    c = graph.chain_index(chain)
    in_ptr, in_eid = np.asarray(graph.in_ptr), np.asarray(graph.in_eid)
    e_src, node_chain = np.asarray(graph.e_src), np.asarray(graph.node_chain)
    seen = np.zeros(graph.n_nodes, dtype=bool)
    frontier = np.unique(np.asarray(targets, dtype=np.int64))
    picked: list[np.ndarray] = []
    for level in range(hops):
        if level:
            frontier = frontier[~np.isin(frontier, stop)]
        frontier = frontier[~seen[frontier]]
        seen[frontier] = True
        if frontier.size == 0:
            break
        counts = in_ptr[frontier + 1] - in_ptr[frontier]
        first = np.repeat(in_ptr[frontier] - np.cumsum(counts) + counts, counts)
        edges = in_eid[first + np.arange(int(counts.sum()))]
        edges = edges[node_chain[e_src[edges]] == c]
        picked.append(edges)
        frontier = np.unique(e_src[edges])
    return np.unique(np.concatenate(picked)) if picked else np.empty(0, dtype=np.int64)


def nx_graph(graph: FlowGraph, edges: np.ndarray) -> Any:
    """A networkx ``MultiDiGraph`` of these edges (amount, amount out, time)."""
    import networkx as nx

    src = np.asarray(graph.e_src)
    g = nx.MultiDiGraph()
    dst = np.asarray(graph.e_dst)
    amount = np.asarray(graph.e_amount)
    out = np.asarray(graph.e_out)
    when = np.asarray(graph.e_time)
    g.add_edges_from(
        (int(src[e]), int(dst[e]), {"amount": float(amount[e]), "out": float(out[e]),
                                    "time": int(when[e])})
        for e in np.sort(edges).tolist()
    )  # fmt: skip
    return g


def nx_backward_haircut(g: Any, target: int, hops: int, stop: set[int]) -> float:
    """The engine's backward haircut rule, level by level, on networkx: at a node that paid
    ``y`` (latest at ``t``), each flow it received up to ``t`` gets ``y * flow / (all
    received up to t)``; ``stop`` nodes are reached, not passed. Like the engine it keeps
    the amount attributed to each edge and to each node (floats; the engine's are exact
    integers). Returns the total attributed over all edges."""
    if target not in g:
        return 0.0
    edges: dict[tuple[int, int, int], float] = {}
    nodes: dict[int, float] = {}
    frontier: dict[int, tuple[float, int]] = {}
    for u, _, key, data in g.in_edges(target, keys=True, data=True):
        if u == target:
            continue
        edges[(u, target, key)] = data["amount"]
        nodes[u] = nodes.get(u, 0.0) + data["amount"]
        y, t = frontier.get(u, (0.0, -(1 << 62)))
        frontier[u] = (y + data["amount"], max(t, data["time"]))
    for _ in range(hops - 1):
        nxt: dict[int, tuple[float, int]] = {}
        for v, (y, t) in frontier.items():
            if v in stop:
                continue
            ins = [(u, k, d) for u, _, k, d in g.in_edges(v, keys=True, data=True)
                   if d["time"] <= t]  # fmt: skip
            denom = sum(d["out"] for _, _, d in ins)
            if denom <= 0:
                continue
            share = min(1.0, y / denom)
            for u, k, d in ins:
                a = d["amount"] * share
                if a <= 0:
                    continue
                edges[(u, v, k)] = edges.get((u, v, k), 0.0) + a
                nodes[u] = nodes.get(u, 0.0) + a
                y2, t2 = nxt.get(u, (0.0, -(1 << 62)))
                nxt[u] = (y2 + a, max(t2, d["time"]))
        frontier = nxt
    return sum(edges.values())


def time_engine(
    graph: FlowGraph, targets: list[int], options: TraceOptions, stop: np.ndarray
) -> tuple[list[float], list[float], list[int], dict[int, float], dict[int, int]]:
    """The engine's trace of each target, timed from the address (wall and CPU): times,
    CPU times, edges, the traced total on the chain (before rounding) and the depth."""
    btc = graph.chain_index("btc")
    times: list[float] = []
    cpus: list[float] = []
    sizes: list[int] = []
    totals: dict[int, float] = {}
    depth: dict[int, int] = {}
    for v in targets:
        t0, c0 = time.perf_counter(), time.process_time()
        result = engine.trace_nodes(graph, np.array([v]), options, stop=stop, stop_is_complete=True)
        times.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
        sizes.append(int(result.edges.size))
        on_btc = np.asarray(graph.node_chain)[np.asarray(graph.e_src)[result.edges]] == btc
        assert result.edge_float is not None
        totals[v] = float(result.edge_float[on_btc].sum())  # before rounding, as networkx
        depth[v] = int(result.edge_hop.max(initial=0))
    return times, cpus, sizes, totals, depth


def run_baseline(
    graph: FlowGraph,
    label: str,
    targets: list[int],
    totals: dict[int, float],
    options: TraceOptions,
    stop: np.ndarray,
    args: argparse.Namespace,
) -> None:
    """networkx and the engine on the first ``--baseline-samples`` targets, side by side:
    per address, networkx once untimed then timed, then the engine once untimed then
    timed (wall and CPU): each side timed right after its own untimed run."""
    # the baseline's graph: the edges its traces can read (the backward cone of its
    # addresses; building all of a 10-million-transaction chain in networkx took longer
    # than the rest of the run together and ~1 kB of memory per edge)
    sample = targets[: args.baseline_samples]
    cone = backward_cone(graph, "btc", sample, args.hops, stop)
    m = int(cone.size)
    if m > args.baseline_max_edges:
        print(f"baseline ({label}) skipped: {m:,} edges > --baseline-max-edges")
        return
    t0 = time.perf_counter()
    g = nx_graph(graph, cone)
    print(f"baseline graph ({label}): networkx MultiDiGraph of {m:,} edges (the traces' "
          f"cone) built in {time.perf_counter() - t0:.0f} s (not timed below)")  # fmt: skip
    base: list[float] = []
    base_cpu: list[float] = []
    own: list[float] = []
    own_cpu: list[float] = []
    worst = 0.0
    stop_set = set(stop.tolist())
    for v in sample:
        # symmetric: each side runs untimed right before its own timed run (so neither
        # is timed just after the other side has pushed its data out of the caches)
        nx_backward_haircut(g, v, args.hops, stop_set)
        t0, c0 = time.perf_counter(), time.process_time()
        total = nx_backward_haircut(g, v, args.hops, stop_set)
        base.append(time.perf_counter() - t0)
        base_cpu.append(time.process_time() - c0)
        engine.trace_nodes(graph, np.array([v]), options, stop=stop, stop_is_complete=True)
        t, c, _, _, _ = time_engine(graph, [v], options, stop)
        own.append(t[0])
        own_cpu.append(c[0])
        worst = max(worst, abs(total - totals[v]) / max(total, 1.0))
    per_address = statistics.median(b / o for b, o in zip(base, own, strict=True))
    per_cpu = statistics.median(b / max(o, 1e-9) for b, o in zip(base_cpu, own_cpu, strict=True))
    cpu_ratio = statistics.median(base_cpu) / max(statistics.median(own_cpu), 1e-9)
    print(
        f"baseline ({label}): the same trace on networkx, {len(base)} addresses: "
        f"{ms(base, base_cpu)}; engine on the same addresses: {ms(own, own_cpu)}; "
        f"speed-up (ratio of the medians) {statistics.median(base) / statistics.median(own):.1f}x "
        f"wall, {cpu_ratio:.1f}x CPU; median of the per-address speed-ups {per_address:.1f}x "
        f"wall, {per_cpu:.1f}x CPU; largest difference of the traced totals (before "
        f"rounding) {worst:.1e} (relative)"
    )


# --- the run --------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--txs", type=int, default=1_000_000)
    parser.add_argument("--out", type=Path, default=Path("/tmp/chainsleuth-bench/tracing"))
    parser.add_argument("--world", action="store_true", help="reuse the world in --out")
    parser.add_argument(
        "--world-dir", type=Path, help="an existing world folder (read only; --txs ignored)"
    )
    parser.add_argument("--hops", type=int, default=5)
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--baseline-samples", type=int, default=20)
    parser.add_argument("--deep-samples", type=int, default=20, help="traces that go --hops deep")
    parser.add_argument(
        "--service-samples", type=int, default=-1, help="default: max(20, samples / 4)"
    )
    parser.add_argument("--baseline-max-edges", type=int, default=20_000_000)
    parser.add_argument("--no-stop", action="store_true", help="trace through services too")
    parser.add_argument(
        "--keep-cache", action="store_true", help="keep the graph cache (no cold build)"
    )
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    loaded = (args.out / "chains" / storage.DB_FILE).exists()
    if args.world_dir is not None:
        if not loaded:
            load_existing(args.world_dir, args.out)
    elif not (args.world and loaded):
        make_world(args.txs, args.out)
    world = args.world_dir if args.world_dir is not None else args.out / "world"
    root = args.out / "chains"
    services = services_from_world(world)
    ctx = tracing_service.TracingContext(services=services, categories=truth_categories(world))
    with ChainReader(storage.connect(root, read_only=True), root) as reader:
        import shutil

        if not args.keep_cache:
            shutil.rmtree(root / graph_module.CACHE_DIR, ignore_errors=True)
        t0 = time.perf_counter()
        graph = load_graph(reader, services)
        build = time.perf_counter() - t0
        graph_module._LOADED.clear()
        t0 = time.perf_counter()
        graph = load_graph(reader, services)
        cached = time.perf_counter() - t0
        size = sum(f.stat().st_size for f in (root / graph_module.CACHE_DIR).rglob("*.npy"))
        print(
            f"graph: {graph.n_nodes:,} nodes, {graph.n_edges:,} edges "
            f"({graph.meta['swaps']} swaps, {graph.meta['bridges']} bridge transfers); "
            f"{'first load (--keep-cache)' if args.keep_cache else 'cold build'} {build:.1f} s, "
            f"load from cache {cached * 1000:.1f} ms, "
            f"{size / 2**20:.0f} MiB on disk"
        )
        btc = graph.chain_index("btc")
        has_in = np.flatnonzero(
            (np.asarray(graph.node_chain) == btc)
            & (np.diff(np.asarray(graph.in_ptr)) > 0)
            & (np.asarray(graph.node_addr) >= 0)
        )
        rng = random.Random(11)
        targets = [int(has_in[rng.randrange(has_in.size)]) for _ in range(args.samples)]
        options = TraceOptions(direction=TraceDirection.BACKWARD, model=Model.HAIRCUT,
                               hops=args.hops, max_edges=10**7)  # fmt: skip
        # the product's default: stop at services (exchanges, mixers, ...: the world's
        # actors as labels) and at the bridge and converter contracts; the baseline too
        t0 = time.perf_counter()
        stop, _, _ = tracing_service._stop_nodes(
            reader, graph, ctx, () if args.no_stop else tracing_service.DEFAULT_STOP, {}
        )  # with the service nodes
        print(
            f"stops: {stop.size:,} service nodes" + (" (--no-stop)" if args.no_stop else "")
            + f", labels resolved in {time.perf_counter() - t0:.1f} s", flush=True
        )  # fmt: skip
        # warm-up (compilation is cached on disk; this loads it)
        engine.trace_nodes(graph, np.array(targets[:1]), options, stop=stop, stop_is_complete=True)
        times, cpus, sizes, totals, _ = time_engine(graph, targets, options, stop)
        print(
            f"engine: {args.hops}-hop haircut backward trace, {len(targets)} random addresses, "
            f"{statistics.median(sizes):.0f} edges (median, max {max(sizes):,}): "
            f"{ms(times, cpus)}"
        )
        tracing_service.category_nodes(reader, graph, ctx)  # resolve the labels once
        full: list[float] = []
        texts = dict(
            zip(targets, storage.FlatFiles(root / "btc").addresses(
                [int(graph.node_addr[v]) for v in targets]), strict=True)
        )  # fmt: skip
        service_samples = args.service_samples
        if service_samples < 0:
            service_samples = max(20, args.samples // 4)
        for v in targets[:service_samples]:
            request = TraceRequest(chain="btc", address=texts[v], hops=args.hops)
            t0 = time.perf_counter()
            tracing_service.run_trace(reader, request, ctx)
            full.append(time.perf_counter() - t0)
        if full:
            print(
                f"service (resolve, trace, render the JSON graph), {len(full)} addresses: "
                f"{ms(full)}"
            )
        run_baseline(graph, "random addresses", targets, totals, options, stop, args)
        # the same on traces that do go --hops deep: most random addresses are paid by a
        # service (an exchange's withdrawal), where a backward trace stops at hop 1 or 2
        deep_rng = random.Random(12)
        deep: list[int] = []
        for _ in range(50 * args.deep_samples):
            if len(deep) >= args.deep_samples:
                break
            v = int(has_in[deep_rng.randrange(has_in.size)])
            _, _, _, _, depth = time_engine(graph, [v], options, stop)
            if depth[v] >= args.hops:
                deep.append(v)
        if deep:
            d_times, d_cpus, d_sizes, d_totals, _ = time_engine(graph, deep, options, stop)
            print(
                f"engine, traces that reach hop {args.hops}: {len(deep)} addresses, "
                f"{statistics.median(d_sizes):.0f} edges (median, max {max(d_sizes):,}): "
                f"{ms(d_times, d_cpus)}"
            )
            run_baseline(
                graph, f"traces that reach hop {args.hops}", deep, d_totals, options, stop, args
            )
        names, node_category = tracing_service.category_nodes(reader, graph, ctx)
        subjects = [int(has_in[rng.randrange(has_in.size)]) for _ in range(args.samples)]
        exp: list[float] = []
        exp_cpu: list[float] = []
        for v in subjects:
            t0, c0 = time.perf_counter(), time.process_time()
            for forward in (False, True):
                exposure_engine.exposure(graph, np.array([v]), node_category, forward=forward,
                                         hops=3)  # fmt: skip
            exp.append(time.perf_counter() - t0)
            exp_cpu.append(time.process_time() - c0)
        print(
            f"exposure (incoming and outgoing, 3 hops, {len(names)} categories, "
            f"{len(node_category):,} labelled nodes), {len(subjects)} addresses: "
            f"{ms(exp, exp_cpu)}"
        )
        t0 = time.perf_counter()
        labelled = np.array(sorted(node_category), dtype=np.int64)
        values = np.array([node_category[x] for x in labelled.tolist()], dtype=np.int64)
        bulk_subjects = [np.array([v]) for v in has_in[:10_000].tolist()]
        exposure_engine.bulk_exposure(graph, bulk_subjects, labelled, values, len(names),
                                      forward=False, hops=3)  # fmt: skip
        bulk_s = time.perf_counter() - t0
        print(f"bulk exposure (incoming, 3 hops): {len(bulk_subjects):,} addresses in "
              f"{bulk_s:.2f} s = {len(bulk_subjects) / bulk_s:,.0f} addresses/s")  # fmt: skip
    print(f"load average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    sys.exit(main())
