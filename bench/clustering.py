"""Benchmark of multi-input clustering: chainsleuth's union-find against
graphsense-clustering (GraphSense's Rust union-find) and networkx, on the same inputs.

The inputs are synthetic multi-input transactions over dense address ids: ``--inputs``
inputs in transactions of 1 to 20 inputs (most of 1-3, as on Bitcoin), spending addresses
drawn from ``--addresses`` ids with wallet locality (most inputs of a transaction come from
a small neighbourhood of ids, some from anywhere), so that components grow large as real
ones do. Each engine gets the same (transaction, address) rows:

* chainsleuth: ``UnionFind.union_group_rows`` (numba, one core, prefetching the forest a
  few dozen rows ahead; records every merge's evidence as the input row that made it, 4
  bytes: ``unionfind.evidence`` turns rows into the two addresses and the transaction, as
  the product does chunk by chunk) then ``roots()`` (address -> entity id), from a fresh
  forest, all inside the timer;
* graphsense-clustering: ``Clustering(max_address_id)``, ``process_transactions_arrow``
  on the same rows as an Arrow ``ListArray`` of uint32 (built before the timer starts, as
  chainsleuth's arrays are), then ``get_mapping()`` (address -> cluster id, also the
  component minimum), all inside the timer; it runs on every core (Rust threads), so its
  CPU seconds exceed its wall seconds;
* networkx: a ``Graph`` of one edge per merged input (first input to each other), then
  ``connected_components``; on the first ``--nx-inputs`` inputs only (it is slow), and its
  rate is reported per input.

Each engine runs in a child process of its own (``--only``) that makes the inputs, resets
its peak resident memory, runs the engine ``--repeat`` times and reports the best wall
time, the best CPU time (steadier on a shared machine) and how far the peak rose: the
engine's memory, whatever language holds it. chainsleuth and graphsense-clustering must
agree (the same component minimum for every address). Then one more child (``--only
race``) runs chainsleuth and graphsense-clustering alternately, ``2 * --repeat`` runs
each in ABBA order, so that both see the same load on a shared machine: the head-to-head
figures (best wall, best CPU, and the median of the per-round wall ratios) come from it.
Printed: inputs per second (wall and CPU) and bytes per address (peak growth / addresses;
chainsleuth's union-find state alone is its 4-byte parent array, the rest is the evidence
of every merge).

    .venv/bin/python bench/clustering.py                      # 4,000,000 inputs
    .venv/bin/python bench/clustering.py --inputs 500000      # quicker
    .venv/bin/python bench/clustering.py --store data/chains  # a loaded world's btc inputs
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import subprocess
import sys
import time

import numpy as np


def reset_peak() -> None:
    """Make the peak resident memory the current one (Linux 4.0+: clear_refs 5)."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
    except OSError:  # pragma: no cover - older kernels: the peak then includes the inputs'
        pass


def peak() -> int:
    """The process's peak resident memory so far (VmHWM), in bytes."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0  # pragma: no cover - Linux only


def synth(inputs: int, addresses: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(tx of each input, address of each input, offsets of each tx's inputs)."""
    rng = np.random.default_rng(seed)
    sizes = np.minimum(rng.geometric(0.55, size=inputs), 20)
    ends = np.cumsum(sizes)
    sizes = sizes[: int(np.searchsorted(ends, inputs)) + 1]
    sizes[-1] -= int(sizes.sum()) - inputs
    sizes = sizes[sizes > 0]
    txs = sizes.size
    group = np.repeat(np.arange(txs, dtype=np.int64), sizes)
    home = np.repeat(rng.integers(0, addresses, txs), sizes)
    near = rng.integers(-50, 51, inputs)
    far = rng.random(inputs) < 0.05
    member = np.where(far, rng.integers(0, addresses, inputs), (home + near) % addresses)
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int32)
    return group, member.astype(np.int64), offsets


def prepare(engine: str) -> None:
    """Imports and JIT compilation, before memory and time are measured."""
    if engine == "chainsleuth":
        from chainsleuth.entities.unionfind import UnionFind

        warm = UnionFind(4)
        warm.union_groups(np.array([0, 0]), np.array([1, 2]))
        warm.union_group_rows(np.array([0, 0]), np.array([1, 2]))
        warm.roots()
    elif engine == "graphsense":
        import gs_clustering  # noqa: F401
        import pyarrow  # noqa: F401
    else:
        import networkx  # noqa: F401


def from_store(root: str) -> tuple[np.ndarray, np.ndarray, int]:
    """The btc inputs of a chain store (a loaded world): (tx, address) rows and addresses."""
    from pathlib import Path

    from chainsleuth.entities import source

    with source.chain_connection(Path(root)) as con:
        files = source.segment_files(con, Path(root), "btc", "inputs")
        found = con.execute(
            """SELECT tx_id, address_id FROM read_parquet(?::VARCHAR[])
               WHERE address_id IS NOT NULL ORDER BY tx_id""",
            [files],
        ).fetchnumpy()
        (n,) = con.execute(
            "SELECT address_count FROM chain_state WHERE chain = 'btc'"
        ).fetchone() or (0,)
    return (
        np.asarray(found["tx_id"], dtype=np.int64),
        np.asarray(found["address_id"], dtype=np.int64),
        int(n),
    )


def run_chainsleuth(group: np.ndarray, member: np.ndarray, n: int) -> tuple[float, np.ndarray]:
    from chainsleuth.entities.unionfind import UnionFind

    started = time.perf_counter()
    uf = UnionFind(n)
    uf.union_group_rows(group, member)  # the evidence: one input row per merge
    roots = uf.roots()
    return time.perf_counter() - started, roots


def run_graphsense(group: np.ndarray, member: np.ndarray, n: int) -> tuple[float, np.ndarray]:
    import gs_clustering
    import pyarrow as pa

    offsets = np.flatnonzero(np.r_[True, group[1:] != group[:-1], True]).astype(np.int32)
    lists = pa.ListArray.from_arrays(pa.array(offsets), pa.array(member.astype(np.uint32)))
    started = time.perf_counter()
    c = gs_clustering.Clustering(max_address_id=n - 1)
    c.process_transactions_arrow(lists)
    mapping = c.get_mapping()
    seconds = time.perf_counter() - started
    return seconds, mapping.column("cluster_id").to_numpy()[:n]


def run_networkx(group: np.ndarray, member: np.ndarray, n: int) -> tuple[float, np.ndarray]:
    import networkx as nx

    started = time.perf_counter()
    first = np.r_[True, group[1:] != group[:-1]]
    anchor = member[np.maximum.accumulate(np.where(first, np.arange(group.size), 0))]
    g = nx.Graph()
    g.add_nodes_from(range(n))
    g.add_edges_from(zip(anchor[~first].tolist(), member[~first].tolist(), strict=True))
    roots = np.empty(n, dtype=np.int64)
    for comp in nx.connected_components(g):
        idx = np.fromiter(comp, dtype=np.int64)
        roots[idx] = idx.min()
    return time.perf_counter() - started, roots


ENGINES = {"chainsleuth": run_chainsleuth, "graphsense": run_graphsense, "networkx": run_networkx}


def inputs_of(args: argparse.Namespace) -> tuple[np.ndarray, np.ndarray, int]:
    if args.store:
        return from_store(args.store)
    n = args.addresses or max(2, args.inputs // 2)
    group, member, _ = synth(args.inputs, n, args.seed)
    return group, member, n


def cpu_seconds() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def race(args: argparse.Namespace) -> None:
    """chainsleuth and graphsense-clustering alternately in this process (ABBA order), so
    that both see the same load: prints a JSON line (best wall and CPU of each, the median
    of the rounds' wall ratios)."""
    group, member, n = inputs_of(args)
    prepare("chainsleuth")
    prepare("graphsense")
    runs: dict[str, list[tuple[float, float]]] = {"chainsleuth": [], "graphsense": []}
    ratios = []
    for r in range(2 * args.repeat):
        order = ("chainsleuth", "graphsense") if r % 2 == 0 else ("graphsense", "chainsleuth")
        this = {}
        for name in order:
            gc.collect()
            cpu0 = cpu_seconds()
            seconds, _ = ENGINES[name](group, member, n)
            this[name] = seconds
            runs[name].append((seconds, cpu_seconds() - cpu0))
        ratios.append(this["graphsense"] / this["chainsleuth"])
    print(
        json.dumps(
            {
                name: {"seconds": min(w for w, _ in v), "cpu": min(c for _, c in v)}
                for name, v in runs.items()
            }
            | {
                "ratio_median": float(np.median(ratios)),
                "ratio_min": float(min(ratios)),
                "rounds": len(ratios),
            }
        )
    )


def child(args: argparse.Namespace) -> None:
    """One engine in this process: prints a JSON line (best seconds, peak growth, digest)."""
    group, member, n = inputs_of(args)
    if args.only == "networkx" and args.nx_inputs < member.size:
        end = int(np.searchsorted(group, group[args.nx_inputs - 1], side="right"))
        group, member = group[:end], member[:end]
        n = int(member.max()) + 1
    prepare(args.only)
    gc.collect()
    reset_peak()
    before = peak()
    best = cpu_best = float("inf")
    roots = np.empty(0)
    for _ in range(args.repeat if args.only != "networkx" else 1):
        roots = np.empty(0)  # the last run's result is not kept alive through the next run
        cpu0 = resource.getrusage(resource.RUSAGE_SELF)
        seconds, roots = ENGINES[args.only](group, member, n)
        cpu1 = resource.getrusage(resource.RUSAGE_SELF)
        best = min(best, seconds)
        cpu_best = min(cpu_best, cpu1.ru_utime - cpu0.ru_utime + cpu1.ru_stime - cpu0.ru_stime)
    grown = max(0, peak() - before)
    digest = int(np.asarray(roots, dtype=np.int64).sum() % (1 << 61))
    sizes = np.bincount(np.asarray(roots, dtype=np.int64), minlength=n)
    print(
        json.dumps(
            {
                "engine": args.only,
                "inputs": int(member.size),
                "addresses": n,
                "txs": int(np.unique(group).size),
                "seconds": best,
                "cpu": cpu_best,
                "peak_growth": grown,
                "digest": digest,
                "entities": int((sizes >= 2).sum()),
                "largest": int(sizes.max()),
            }
        )
    )


#: children return freed memory at once, so that the peak's growth is the engine's own
CHILD_ENV = {"MALLOC_MMAP_THRESHOLD_": "65536", "MALLOC_TRIM_THRESHOLD_": "0"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--inputs", type=int, default=4_000_000)
    parser.add_argument("--addresses", type=int, default=0, help="default: inputs / 2")
    parser.add_argument("--nx-inputs", type=int, default=500_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--store", help="take the btc inputs of this chain store instead")
    parser.add_argument("--only", choices=[*sorted(ENGINES), "race"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.only == "race":
        race(args)
        return
    if args.only:
        child(args)
        return
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}", flush=True)
    results = {}
    for engine in ("chainsleuth", "graphsense", "networkx", "race"):
        cmd = [sys.executable, __file__, "--only", engine, "--inputs", str(args.inputs)]
        cmd += ["--addresses", str(args.addresses), "--nx-inputs", str(args.nx_inputs)]
        cmd += ["--repeat", str(args.repeat), "--seed", str(args.seed)]
        cmd += ["--store", args.store] if args.store else []
        env = {**os.environ, **CHILD_ENV}
        out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env).stdout
        results[engine] = json.loads(out.strip().splitlines()[-1])
    cs, gs, nxr = results["chainsleuth"], results["graphsense"], results["networkx"]
    n = cs["addresses"]
    print(
        f"{cs['inputs']:,} inputs in {cs['txs']:,} transactions over {n:,} addresses; "
        f"{cs['entities']:,} entities of 2+ addresses, largest {cs['largest']:,}"
    )
    print(f"chainsleuth and graphsense-clustering agree: {cs['digest'] == gs['digest']}")
    print(
        f"{'engine':30} {'inputs/s':>12} {'seconds':>8} {'inputs/cpu-s':>13} "
        f"{'inputs':>10} {'bytes/address':>13}"
    )
    rates, cpu_rates = {}, {}
    for name, r in (
        ("chainsleuth (numba)", cs),
        ("graphsense-clustering (Rust)", gs),
        ("networkx", nxr),
    ):
        rates[name] = r["inputs"] / r["seconds"]
        cpu_rates[name] = r["inputs"] / max(r["cpu"], 1e-9)
        per = r["peak_growth"] / r["addresses"]
        print(
            f"{name:30} {rates[name]:12,.0f} {r['seconds']:8.3f} {cpu_rates[name]:13,.0f} "
            f"{r['inputs']:10,} {per:13.1f}"
        )
    parent_bytes = 4 if n <= 2**31 - 1 else 8
    print(
        f"chainsleuth's union-find state is {parent_bytes} bytes/address (its parent array); "
        "the rest of its peak is the evidence of every merge (its input row: an int32)"
    )
    ours = rates["chainsleuth (numba)"]
    rc = results["race"]
    inputs = cs["inputs"]
    print(
        f"head to head in one process, {rc['rounds']} runs each alternately: chainsleuth "
        f"{inputs / rc['chainsleuth']['seconds']:,.0f} inputs/s (best wall), "
        f"{inputs / rc['chainsleuth']['cpu']:,.0f} inputs/cpu-s; graphsense-clustering "
        f"{inputs / rc['graphsense']['seconds']:,.0f} inputs/s, "
        f"{inputs / rc['graphsense']['cpu']:,.0f} inputs/cpu-s"
    )
    print(
        f"chainsleuth vs graphsense-clustering: "
        f"{rc['graphsense']['seconds'] / rc['chainsleuth']['seconds']:.2f}x wall (best runs), "
        f"{rc['ratio_median']:.2f}x wall (median of the rounds, worst {rc['ratio_min']:.2f}x), "
        f"{rc['graphsense']['cpu'] / rc['chainsleuth']['cpu']:.2f}x per CPU second; "
        f"vs networkx: {ours / rates['networkx']:.0f}x (networkx on {nxr['inputs']:,} inputs)"
    )
    print(f"load average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
