"""Benchmark of the world generator (and, with ``--load``, of loading the world).

Generates a world of ``--txs`` transactions (default 10,000,000: the large preset) and
prints transactions per second, CPU seconds, peak memory and where the time went. Two
baselines are measured in the same run:

* **naive**: the obvious generator, one Python object per transaction (pick coins from a
  dict of unspent outputs, draw amounts with ``random``, encode addresses with the
  ``base58``/``bech32m`` packages, hashes with ``os.urandom().hex()``, rows as dicts into
  ``pyarrow.Table.from_pylist``), timed on ``--naive-sample`` transactions and
  extrapolated. It makes only plain UTXO payments: no crime, no account chain.
* **write floor**: the cost of writing the world's row counts of random data to Parquet
  with the same settings (measured on a sample of each table, extrapolated): no generator
  that writes these files can be faster.

    .venv/bin/python bench/world_generate.py                 # 10M transactions (large)
    .venv/bin/python bench/world_generate.py --txs 1000000   # quicker
    .venv/bin/python bench/world_generate.py --txs 1000000 --load

The machine matters: the figures are wall-clock seconds on whatever else it is running;
``cpu`` (this process and its children) is the steadier number.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import base58
import bech32m
import numpy as np
import pyarrow as pa

from chainsleuth.chain.schemas import SOURCE
from chainsleuth.world.generate import generate_world
from chainsleuth.world.ids import hash32, hex_strings
from chainsleuth.world.presets import PRESETS, params_for
from chainsleuth.world.writer import write_parquet


def naive_generator(n: int, out: Path) -> float:
    """Seconds for ``n`` UTXO transactions made one at a time in plain Python."""
    rng = random.Random(1)
    started = time.perf_counter()
    utxos: dict[tuple[str, int], tuple[str, int]] = {}
    keys: list[tuple[str, int]] = []
    txs, outputs, inputs = [], [], []

    def address() -> str:
        if rng.random() < 0.2:
            return base58.b58encode_check(b"\x00" + os.urandom(20)).decode()
        return bech32m.encode("bc", 0, list(os.urandom(20)))

    for i in range(n):
        tx = os.urandom(32).hex()
        ins: list[tuple[str, int]] = []
        while keys and len(ins) < rng.randint(1, 2):
            j = rng.randrange(len(keys))
            keys[j], keys[-1] = keys[-1], keys[j]
            ins.append(keys.pop())
        value = sum(utxos[k][1] for k in ins) if ins else 312_500_000
        fee = rng.randint(200, 5000) if ins else 0
        pay = int((value - fee) * rng.uniform(0.1, 0.9))
        for n_in, key in enumerate(ins):
            addr, v = utxos.pop(key)
            inputs.append(
                {
                    "tx_hash": tx,
                    "n": n_in,
                    "prev_tx_hash": key[0],
                    "prev_n": key[1],
                    "address": addr,
                    "value": v,
                }
            )
        for n_out, v in enumerate((pay, value - fee - pay)):
            addr = address()
            utxos[(tx, n_out)] = (addr, v)
            keys.append((tx, n_out))
            outputs.append(
                {"tx_hash": tx, "n": n_out, "address": addr, "value": v, "script_type": "p2wpkh"}
            )
        txs.append(
            {
                "hash": tx,
                "height": i // 100,
                "position": i % 100,
                "time": i,
                "coinbase": not ins,
                "fee": fee,
                "locktime": 0,
                "version": 2,
                "size": 200,
            }
        )
    for name, rows in (("txs", txs), ("outputs", outputs), ("inputs", inputs)):
        schema = SOURCE["utxo"][name]
        table = pa.Table.from_pylist(
            rows,
            schema=pa.schema([f.with_type(pa.int64()) if f.name == "time" else f for f in schema]),
        )
        write_parquet(table, out / f"naive_{name}.parquet")
    return time.perf_counter() - started


def write_floor(manifest: dict[str, Any], out: Path, sample: int = 400_000) -> float:
    """Seconds to write the world's row counts of random rows (extrapolated from samples)."""
    total = 0.0
    for chain, info in manifest["chains"].items():
        kind = info["kind"]
        for table, rows in info["counts"].items():
            schema = SOURCE[kind][table]
            n = min(rows, sample)
            if n == 0:
                continue
            cols = []
            for f in schema:
                if pa.types.is_string(f.type):
                    cols.append(
                        hex_strings(
                            hash32(hash(f.name) & 0xFFFF, np.arange(n))[
                                :, : (32 if "hash" in f.name else 20)
                            ]
                        )
                    )
                elif pa.types.is_decimal(f.type):
                    cols.append(pa.array(np.arange(n), pa.int64()).cast(f.type))
                elif pa.types.is_boolean(f.type):
                    cols.append(pa.array(np.arange(n) % 2 == 0))
                else:
                    cols.append(pa.array(np.arange(n) % 100).cast(f.type))
            t = pa.Table.from_arrays(cols, schema=schema)
            started = time.perf_counter()
            write_parquet(t, out / f"floor_{chain}_{table}.parquet")
            total += (time.perf_counter() - started) * rows / n
    return total


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--txs", type=int, default=10_000_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--jobs", type=int, default=None)
    ap.add_argument("--naive-sample", type=int, default=20_000)
    ap.add_argument(
        "--load", action="store_true", help="also load the world into a new chain store"
    )
    ap.add_argument("--keep", type=Path, default=None, help="write the world here and keep it")
    args = ap.parse_args()

    scratch = Path(tempfile.mkdtemp(prefix="world-bench-"))
    out = args.keep or scratch / "world"
    try:
        named = [p.name for p in PRESETS.values() if p.txs == args.txs]
        params = (
            params_for(preset=named[0], seed=args.seed)
            if named
            else params_for(txs=args.txs, seed=args.seed)
        )
        timings: dict[str, float] = {}
        cpu0 = os.times()
        started = time.perf_counter()
        manifest = generate_world(out, params, jobs=args.jobs, timings=timings)
        wall = time.perf_counter() - started
        cpu1 = os.times()
        cpu = (
            (cpu1.user - cpu0.user)
            + (cpu1.system - cpu0.system)
            + (cpu1.children_user - cpu0.children_user)
            + (cpu1.children_system - cpu0.children_system)
        )
        txs = manifest["counts"]["transactions"]
        size = sum(f["bytes"] for f in manifest["files"].values())
        rss_self = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        rss_children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        files = len(manifest["files"])
        print(f"world: {txs:,} transactions ({params.preset}, {params.days} days)")
        print(f"       {size / 1e9:.2f} GB in {files} files")
        print(f"generate: {wall:.1f} s wall, {txs / wall:,.0f} tx/s")
        print(f"          cpu {cpu:.1f} s ({txs / cpu:,.0f} tx per cpu-second)")
        print(f"peak RSS: parent {rss_self:,.0f} MB, largest child {rss_children:,.0f} MB")
        print("phases (s):", json.dumps({k: round(v, 1) for k, v in timings.items()}))

        naive_s = naive_generator(args.naive_sample, scratch)
        naive_rate = args.naive_sample / naive_s
        print(
            f"baseline naive per-tx Python generator: {naive_rate:,.0f} tx/s "
            f"(on {args.naive_sample:,} UTXO payments): {txs / naive_rate:,.0f} s for {txs:,}"
        )
        floor = write_floor(manifest, scratch)
        print(
            "baseline write floor (these row counts of random data to Parquet): "
            f"{floor:.1f} s ({txs / floor:,.0f} tx/s)"
        )

        if args.load:
            from chainsleuth.world.load import load_world

            started = time.perf_counter()
            loaded = load_world(out, store_root=scratch / "store")
            seconds = time.perf_counter() - started
            n = sum(loaded.values())
            print(f"load (checksums + append + optimise): {seconds:.1f} s, {n / seconds:,.0f} tx/s")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
