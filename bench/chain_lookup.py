"""Benchmark of the chain store: bulk load throughput and an address's first page.

Builds (or, with ``--reuse``, reopens) a store of a synthetic UTXO chain of ``--txs``
transactions appended in batches of ``--batch``, then times ``address_txs(limit=50)``
(the explorer's first page, with running balances) for a few hundred random addresses.

The baseline, measured in the same run on the same files: the same page computed without
the store's dictionary and index, by DuckDB straight from the Parquet files (the address's
id looked up in the address segments, its rows gathered from all output and input files).

    .venv/bin/python bench/chain_lookup.py                  # 10,000,000 transactions
    .venv/bin/python bench/chain_lookup.py --txs 1000000    # quicker
    .venv/bin/python bench/chain_lookup.py --reuse --root STORE --chain eth  # a loaded world

On an account chain (``--chain eth``) the baseline gathers the address's rows from the
transaction and token-transfer files instead.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import time
from pathlib import Path

import duckdb

from chainsleuth.chain.store import ChainStore
from chainsleuth.chain.synthetic import UtxoSynth

NAIVE_PAGE = """
WITH id AS (SELECT address_id FROM read_parquet($addresses) WHERE address = $address),
rows AS (
    SELECT tx_id, sum(v) AS delta FROM (
        SELECT tx_id, value AS v FROM read_parquet($outputs)
        WHERE address_id = (SELECT address_id FROM id)
        UNION ALL
        SELECT tx_id, -value FROM read_parquet($inputs)
        WHERE address_id = (SELECT address_id FROM id)
    ) GROUP BY tx_id
)
SELECT tx_id, delta, sum(delta) OVER (ORDER BY tx_id) AS balance
FROM rows ORDER BY tx_id DESC LIMIT 50
"""

NAIVE_ACCOUNT_PAGE = """
WITH id AS (SELECT address_id FROM read_parquet($addresses) WHERE address = $address),
rows AS (
    SELECT tx_id, sum(v) AS delta FROM (
        SELECT tx_id, CASE WHEN to_id = (SELECT address_id FROM id) THEN value ELSE 0 END
             - CASE WHEN from_id = (SELECT address_id FROM id) THEN value + fee ELSE 0 END AS v
        FROM read_parquet($txs)
        WHERE from_id = (SELECT address_id FROM id) OR to_id = (SELECT address_id FROM id)
        UNION ALL
        SELECT tx_id, CASE WHEN to_id = (SELECT address_id FROM id) THEN amount ELSE 0 END
             - CASE WHEN from_id = (SELECT address_id FROM id) THEN amount ELSE 0 END
        FROM read_parquet($token_transfers)
        WHERE from_id = (SELECT address_id FROM id) OR to_id = (SELECT address_id FROM id)
    ) GROUP BY tx_id
)
SELECT tx_id, delta, sum(delta) OVER (ORDER BY tx_id) AS balance
FROM rows ORDER BY tx_id DESC LIMIT 50
"""


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def load(root: Path, txs: int, batch: int) -> None:
    shutil.rmtree(root, ignore_errors=True)
    synth = UtxoSynth(seed=42)
    appended = 0
    append_s = generate_s = 0.0
    with ChainStore(root) as store:
        while appended < txs:
            t0 = time.perf_counter()
            block_range = synth.batch(min(batch, txs - appended))
            generate_s += time.perf_counter() - t0
            result = store.append(block_range)
            append_s += result.seconds
            appended += result.txs
            print(
                f"  appended {appended:>11,} txs  batch {result.txs_per_second:>9,.0f} tx/s  "
                f"cumulative {appended / append_s:>9,.0f} tx/s",
                flush=True,
            )
        t0 = time.perf_counter()
        store.optimize()
        optimize_s = time.perf_counter() - t0
    print(f"generated {txs:,} txs in {generate_s:.1f} s (not counted below)")
    print(f"append:   {txs:,} txs in {append_s:.1f} s = {txs / append_s:,.0f} tx/s")
    print(f"optimize: {optimize_s:.1f} s (sort the indexes, merge segments)")
    on_disk = sum(f.stat().st_size for f in root.rglob("*") if f.is_file())
    print(
        f"load incl. optimize: {txs / (append_s + optimize_s):,.0f} tx/s; "
        f"store on disk: {on_disk / 2**30:.2f} GiB"
    )


def lookups(root: Path, samples: int, baseline_samples: int, chain: str = "btc") -> None:
    rng = random.Random(7)
    utxo = chain == "btc"
    tables = ("addresses", "outputs", "inputs") if utxo else ("addresses", "txs", "token_transfers")
    with ChainStore(root) as store:
        count = store.state(chain).address_count
        ids = [rng.randrange(count) for _ in range(samples)]
        addresses = store.flat(chain).addresses(ids)
        files = {
            t: [
                str(root / p)
                for (p,) in store.con.execute(
                    "SELECT path FROM segments WHERE chain = ? AND tbl = ?", [chain, t]
                ).fetchall()
            ]
            for t in tables
        }
    # the store as the web server reads it: one read-only connection, a cursor per request
    from chainsleuth.chain.access import ChainStoreAccess

    access = ChainStoreAccess(root)
    timings: list[float] = []
    rows = 0
    with access.reader() as reader:  # warm-up: open the connection
        reader.address_txs(chain, addresses[0], limit=50)
    for address in addresses:
        t0 = time.perf_counter()
        with access.reader() as reader:
            page = reader.address_txs(chain, address, limit=50)
        timings.append(time.perf_counter() - t0)
        rows += len(page.txs)
    access.close()
    print(
        f"{chain} address first page (50 txs, running balance), {samples} random addresses, "
        f"{rows / samples:.1f} txs per page: median {statistics.median(timings) * 1000:.1f} ms, "
        f"p95 {pct(timings, 0.95) * 1000:.1f} ms, max {max(timings) * 1000:.1f} ms"
    )
    con = duckdb.connect()
    base: list[float] = []
    for address in addresses[:baseline_samples]:
        t0 = time.perf_counter()
        con.execute(
            NAIVE_PAGE if utxo else NAIVE_ACCOUNT_PAGE, {"address": address, **files}
        ).fetchall()
        base.append(time.perf_counter() - t0)
    con.close()
    print(
        f"baseline (no index: DuckDB over the Parquet files), {len(base)} addresses: "
        f"median {statistics.median(base) * 1000:.1f} ms, p95 {pct(base, 0.95) * 1000:.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--txs", type=int, default=10_000_000)
    parser.add_argument("--batch", type=int, default=1_000_000)
    parser.add_argument("--root", type=Path, default=Path("/tmp/chainsleuth-bench/chains"))
    parser.add_argument("--reuse", action="store_true", help="keep an existing store")
    parser.add_argument("--samples", type=int, default=300)
    parser.add_argument("--baseline-samples", type=int, default=10)
    parser.add_argument("--chain", default="btc", choices=["btc", "eth"])
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    if not (args.reuse and (args.root / "chainstore.duckdb").exists()):
        load(args.root, args.txs, args.batch)
    lookups(args.root, args.samples, args.baseline_samples, args.chain)
    print(f"load average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
