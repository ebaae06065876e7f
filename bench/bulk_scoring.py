"""Benchmark of bulk risk scoring: ``chainsleuth risk precompute`` over a whole world.

Generates (or, with ``--world``, reuses) a world of ``--txs`` transactions and prepares a
data folder beside it (``--data``, default a temporary folder): the store, entities, the
tracing services, an SQLite database with the world's public labels. Then:

* **ours**: the precompute (exposure per address, direction, hop and category with the
  compiled loop on ``--threads`` threads, the feature matrix and typology counts, the
  model when one is trained): addresses per second and the total;
* **baseline**, in the same run: the naive way, one ``tracing.service.exposure`` call per
  address (incoming and outgoing, the same hops) on ``--sample`` random addresses, timed
  and extrapolated to every address.

    .venv/bin/python bench/bulk_scoring.py                   # 1,000,000 transactions
    .venv/bin/python bench/bulk_scoring.py --txs 10000000    # the target's size
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

from chainsleuth.chain import storage
from chainsleuth.chain.lookups import ChainReader
from chainsleuth.core.config import Environment, Settings
from chainsleuth.core.db import Database


def prepare(
    world: Path | None, txs: int, data: Path, database_url: str | None = None
) -> tuple[Settings, Database, Path]:
    """A data folder for ``world`` (generated when None): store, entities, services, a
    migrated SQLite database with the world's labels. Reused when it is there already."""
    from chainsleuth.audit.service import Actor
    from chainsleuth.entities import service as entity_service
    from chainsleuth.labels import service as label_service
    from chainsleuth.labels.enums import ImportFormat
    from chainsleuth.labels.importers import parse
    from chainsleuth.labels.imports import file_sha256
    from chainsleuth.tracing.config import save_services, services_from_world
    from chainsleuth.world.generate import generate_world
    from chainsleuth.world.load import load_world
    from chainsleuth.world.presets import params_for

    data.mkdir(parents=True, exist_ok=True)
    if world is None:
        world = data / "world"
        if not (world / "world.json").exists():
            t0 = time.perf_counter()
            generate_world(world, params_for(txs=txs, seed=7))
            print(f"world: {txs:,} transactions generated in {time.perf_counter() - t0:.0f} s")
    extra = {"database_url": database_url} if database_url else {}
    settings = Settings(env=Environment.DEVELOPMENT, data_dir=data, **extra)  # type: ignore[arg-type]
    db = Database.from_settings(settings)
    if not (data / "chains" / storage.DB_FILE).exists():
        t0 = time.perf_counter()
        load_world(world, store_root=data / "chains")
        entity_service.build(data / "chains", "all")
        save_services(services_from_world(world), data / "tracing.yaml")
        print(f"world: loaded and clustered in {time.perf_counter() - t0:.0f} s")
    db.upgrade()
    with db.session() as session:
        if not label_service.sources(session):
            for fmt, rel, name in (
                (ImportFormat.ACTORPACK, "labels/world.actorpack.yaml", "world-actorpack"),
                (ImportFormat.TAGPACK, "labels/world.tagpack.yaml", "world-tagpack"),
                (ImportFormat.OFAC_XML, "labels/sdn_advanced.xml", "world-sdn"),
            ):
                parts = [(Path(rel).name, (world / rel).read_bytes())]
                label_service.import_parsed(
                    session, parsed=parse(fmt, parts), sha256=file_sha256(parts),
                    file_name=parts[0][0], actor=Actor.system("bench"), source_name=name,
                )  # fmt: skip
    return settings, db, world


def cpu_seconds() -> float:
    """CPU seconds of this process, all threads (wall clock is noisy on a shared box)."""
    used = resource.getrusage(resource.RUSAGE_SELF)
    return used.ru_utime + used.ru_stime


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--txs", type=int, default=1_000_000)
    ap.add_argument("--world", type=Path, help="reuse a generated world folder")
    ap.add_argument("--data", type=Path, help="the data folder (kept; default: temporary)")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--sample", type=int, default=200, help="addresses for the baseline")
    args = ap.parse_args()
    data = args.data or Path(tempfile.mkdtemp(prefix="bench-scoring-"))
    settings, db, _ = prepare(args.world, args.txs, data)

    from chainsleuth.risk.facts import precompute_tables
    from chainsleuth.tracing import service as tracing_service
    from chainsleuth.tracing.graph import load_graph

    root = data / "chains"
    with db.session() as session, ChainReader(storage.connect(root, read_only=True), root) as r:
        ctx = tracing_service.context_for(settings, session=session)
        t0 = time.perf_counter()
        graph = load_graph(r, ctx.services)
        print(f"flow graph: {graph.n_nodes:,} nodes, {graph.n_edges:,} edges, "
              f"{time.perf_counter() - t0:.1f} s (cached for both runs)")  # fmt: skip
        t0, c0 = time.perf_counter(), cpu_seconds()
        seen: set[str] = set()

        def step(what: str, done: int, total: int) -> None:
            if what not in seen:  # one line per stage, as it starts
                seen.add(what)
                print(f"  .. {what}: {time.perf_counter() - t0:.0f} s wall, "
                      f"{cpu_seconds() - c0:.0f} CPU-s", flush=True)  # fmt: skip

        stats = precompute_tables(settings, session, r, threads=args.threads, progress=step)
        total_s, total_cpu = time.perf_counter() - t0, cpu_seconds() - c0
        n = sum(s.addresses for s in stats)
        for s in stats:
            parts = ", ".join(f"{k} {v:.1f} s" for k, v in s.parts.items())
            print(f"  {s.chain}: {s.addresses:,} addresses in {s.seconds:.1f} s ({parts})")
        print(f"ours: precompute of {n:,} addresses in {total_s:.1f} s wall, "
              f"{total_cpu:.1f} CPU-s ({n / total_s:,.0f} addresses/s, "
              f"{args.threads} threads)")  # fmt: skip

        # the baseline: one exposure service call per address, extrapolated
        rng = random.Random(7)
        chain = "btc"
        count = next(s.addresses for s in stats if s.chain == chain)
        texts = storage.FlatFiles(root / chain).addresses(
            sorted(rng.sample(range(count), min(args.sample, count)))
        )
        hops = 4
        t0, c0 = time.perf_counter(), cpu_seconds()
        done = 0
        for text in texts:
            try:
                tracing_service.exposure(r, chain, [text], ctx, hops=hops)
            except Exception:  # noqa: BLE001 - an address without flows is skipped, as ours
                continue
            done += 1
        per = (time.perf_counter() - t0) / max(done, 1)
        per_cpu = (cpu_seconds() - c0) / max(done, 1)
        print(f"baseline: tracing.service.exposure per address, {done} sampled: "
              f"{per * 1000:.1f} ms each -> {per * n:,.0f} s wall, {per_cpu * n:,.0f} CPU-s "
              f"for every address ({1 / per:,.0f} addresses/s)")  # fmt: skip
        print(f"speed-up: {per * n / total_s:,.0f}x wall, {per_cpu * n / total_cpu:,.0f}x CPU")
        print(f"load average: {os.getloadavg()}")
    db.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
