"""Benchmark: what the watch list costs the ingest, per new block.

After each stored block range the ingest calls ``watch.after_append``, which looks for funds
from watched addresses reaching one of our deposit addresses in the new blocks
(``watch.scan_range``). This times that check per ingest batch (``--range`` blocks, 100 like
the ingest's default batch; ``--range 1`` for block by block), over the last ``--blocks``
blocks of the chain, with ``--watched`` addresses under watch (the world's
cash-out senders first, then other active addresses).

The baseline, in the same run on the same store and database: the straightforward check,
which reads every transaction of the new blocks (``ChainReader.block`` and ``tx``) and looks
at its inputs and outputs in Python. Both must find the same transactions (checked).

    .venv/bin/python bench/alerts.py                        # a 20,000-transaction world
    .venv/bin/python bench/alerts.py --range 1 --blocks 150       # block by block
    .venv/bin/python bench/alerts.py --world data/world --chain eth --blocks 5000 --watched 500
"""

from __future__ import annotations

import argparse
import csv
import statistics
import tempfile
import time
from pathlib import Path

import pyarrow.parquet as pq
from sqlalchemy import select

from chainsleuth.alerts import watch
from chainsleuth.alerts.enums import WatchKind
from chainsleuth.alerts.schemas import WatchEntryCreate
from chainsleuth.audit.service import Actor
from chainsleuth.chain import storage
from chainsleuth.chain.addresses import canonical_address
from chainsleuth.chain.lookups import ChainReader
from chainsleuth.core.config import Environment, Settings
from chainsleuth.core.db import Database
from chainsleuth.exchange import service as exchange_service
from chainsleuth.exchange.importer import import_export
from chainsleuth.exchange.models import DepositAddress
from chainsleuth.world.generate import generate_world
from chainsleuth.world.load import load_world
from chainsleuth.world.presets import params_for

ACTOR = Actor.system("bench")


def summary(name: str, ms: list[float]) -> str:
    ordered = sorted(ms)
    p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
    return f"{name:<52} median {statistics.median(ms):8.2f} ms   p95 {p95:8.2f} ms"


def watched_addresses(world: Path, reader: ChainReader, chain: str, n: int) -> list[str]:
    hops = pq.read_table(world / "truth" / "scheme_hops.parquet").to_pylist()
    chosen: list[str] = []
    for hop in hops:
        if hop["chain"] == chain and hop.get("cash_out_customer"):
            chosen += [a for a in hop["from_addresses"] or [] if a not in chosen]
    # then other active addresses: senders of the chain's deposits
    with (world / "exchange" / "deposits.csv").open(newline="") as fh:
        for row in csv.DictReader(fh):
            if len(chosen) >= n:
                break
            if row["chain"] != chain:
                continue
            tx = reader.tx(chain, row["tx_hash"])
            senders = (
                [tx.from_address]
                if tx.from_address
                else [i.address for i in tx.inputs if i.address]
            )
            chosen += [a for a in senders if a and a not in chosen]
    canonical = [canonical_address(chain, a) for a in chosen]
    return list(dict.fromkeys(canonical))[:n]


def baseline_block(
    reader: ChainReader, chain: str, height: int, watched: set[str], deposits: set[str]
) -> set[str]:
    """Every transaction of the block read and checked in Python."""
    found: set[str] = set()
    after = -1
    while True:
        block = reader.block(chain, height, limit=500, after=after)
        for btx in block.txs:
            tx = reader.tx(chain, btx.hash)
            if chain == "eth":
                if tx.status == 0:  # failed: moved nothing
                    continue
                payers = {canonical_address(chain, tx.from_address)} if tx.from_address else set()
                payees = {canonical_address(chain, tx.to_address)} if tx.to_address else set()
                payees |= {
                    canonical_address(chain, t.to_address)
                    for t in getattr(tx, "token_transfers", [])
                    if t.to_address
                }
            else:
                payers = {canonical_address(chain, i.address) for i in tx.inputs if i.address}
                payees = {canonical_address(chain, o.address) for o in tx.outputs if o.address}
            if payers & watched and payees & deposits and (payees & deposits) - payers:
                found.add(tx.hash)
        if block.next_after is None:
            return found
        after = block.next_after


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--world", type=Path, help="A generated world (default: make one).")
    parser.add_argument("--txs", type=int, default=20_000)
    parser.add_argument("--chain", default="btc", choices=["btc", "eth"])
    parser.add_argument("--blocks", type=int, default=1000)
    parser.add_argument(
        "--range", type=int, default=100, help="Blocks per check (the ingest's batch: 100)."
    )
    parser.add_argument("--watched", type=int, default=200)
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="bench-alerts-"))
    world = args.world
    if world is None:
        world = tmp / "world"
        print(f"generating a {args.txs:,}-transaction world ...", flush=True)
        generate_world(world, params_for(txs=args.txs, seed=7), jobs=1)
    store = tmp / "chains"
    print("loading it into a chain store ...", flush=True)
    load_world(world, store_root=store)
    settings = Settings(
        env=Environment.TEST,
        data_dir=tmp / "data",
        database_url=f"sqlite:///{tmp / 'bench.db'}",
        secret_key="bench-secret-key-" + "x" * 40,
    )
    db = Database.from_settings(settings)
    db.upgrade()
    with db.session() as session:
        import_export(
            session,
            directory=world / "exchange",
            keys=exchange_service.keys_for(settings),
            actor=ACTOR,
        )
        session.commit()

    chain = args.chain
    with ChainReader(storage.connect(store, read_only=True), store) as reader:
        addresses = watched_addresses(world, reader, chain, args.watched)
        with db.session() as session:
            for a in addresses:
                watch.add_entry(
                    session,
                    actor=ACTOR,
                    data=WatchEntryCreate(
                        kind=WatchKind.ADDRESS, chain=chain, value=a, reason="bench"
                    ),
                )
            session.commit()
            deposits = set(
                session.scalars(select(DepositAddress.address).where(DepositAddress.chain == chain))
            )
        bounds = watch.chain_bounds(reader, chain)
        assert bounds is not None
        last = bounds[1]
        heights = list(range(max(bounds[0], last - args.blocks + 1), last + 1))
        print(
            f"{chain}: {len(addresses)} watched addresses, {len(deposits)} deposit addresses, "
            f"blocks {heights[0]}-{heights[-1]}",
            flush=True,
        )

        ours_ms: list[float] = []
        ours_found: set[str] = set()
        ranges = [
            (a, min(a + args.range - 1, heights[-1]))
            for a in range(heights[0], heights[-1] + 1, args.range)
        ]
        for a, b in ranges:
            with db.session() as session:
                t0 = time.perf_counter()
                watch.scan_range(
                    session, reader, root=store, chain=chain, first=a, last=b, actor=ACTOR
                )
                session.commit()
                ours_ms.append((time.perf_counter() - t0) * 1000)
        with db.session() as session:
            ours_found = {h.tx_hash for h in watch.entry_hits(session, limit=10**9)}

        base_ms: list[float] = []
        base_found: set[str] = set()
        watched = set(addresses)
        for a, b in ranges:
            t0 = time.perf_counter()
            for h in range(a, b + 1):
                base_found |= baseline_block(reader, chain, h, watched, deposits)
            base_ms.append((time.perf_counter() - t0) * 1000)

    db.dispose()
    per = f"{args.range} block{'s' if args.range > 1 else ''}"
    print(summary(f"ours: watch.scan_range of {per} (+ its commit)", ours_ms))
    print(summary(f"baseline: every tx of {per} read and checked", base_ms))
    print(f"hits: ours {len(ours_found)}, baseline {len(base_found)}")
    if ours_found != base_found:
        raise SystemExit(
            f"the two disagree: only ours {sorted(ours_found - base_found)[:5]}, "
            f"only the baseline's {sorted(base_found - ours_found)[:5]}"
        )


if __name__ == "__main__":
    main()
