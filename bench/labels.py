"""Benchmark of attribution: importing labels and looking them up in bulk.

Imports ``--labels`` synthetic labels (a CSV of valid Bitcoin addresses, categories and
confidences) into a fresh SQLite database, imports the same file again (the idempotent
no-op), then times ``labels_for`` on batches of ``--batch`` addresses (half labelled, half
not), as a trace or a screening job asks it.

Baselines measured in the same run: the import through the ORM unit of work (one object per
label and per history row, the obvious way), and the lookup one address at a time (one
query per address).

    .venv/bin/python bench/labels.py                    # 100,000 labels
    .venv/bin/python bench/labels.py --labels 20000     # quicker
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import tempfile
import time
from pathlib import Path

import base58
from sqlalchemy import select

from chainsleuth.audit.service import Actor
from chainsleuth.core.db import Database
from chainsleuth.labels import service as label_service
from chainsleuth.labels.enums import ImportFormat
from chainsleuth.labels.importers import parse
from chainsleuth.labels.imports import file_sha256
from chainsleuth.labels.models import Label, LabelHistory, LabelSource

CATEGORIES = ["exchange", "mixer", "ransomware", "scam", "darknet_market", "gambling"]


def address(i: int) -> str:
    return base58.b58encode_check(
        b"\x00" + hashlib.sha256(i.to_bytes(8, "big")).digest()[:20]
    ).decode()


def csv_body(n: int) -> bytes:
    lines = ["chain,address,category,label,confidence"]
    for i in range(n):
        cat = CATEGORIES[i % len(CATEGORIES)]
        lines.append(f"btc,{address(i)},{cat},{cat} {i % 97},{(i * 7) % 101}")
    return ("\n".join(lines) + "\n").encode()


def timed(fn, *args, **kwargs):  # type: ignore[no-untyped-def]
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - t0


def orm_baseline(db: Database, parsed, n: int) -> float:  # type: ignore[no-untyped-def]
    """The same labels and history rows, one ORM object each, one flush."""
    with db.session() as s:
        t0 = time.perf_counter()
        source = LabelSource(name="orm-baseline", kind="csv", format="csv")
        s.add(source)
        s.flush()
        rows = []
        for d in parsed.labels:
            row = Label(
                source_id=source.id,
                key=d.key,
                chain=d.chain,
                address=d.address,
                scope=str(d.scope),
                category=str(d.category),
                label=d.label,
                confidence=d.confidence,
                confidence_name=d.confidence_name,
                tlp="AMBER",
                created_by="bench",
                details=d.details,
            )
            s.add(row)
            rows.append(row)
        s.flush()
        s.add_all(LabelHistory(label_id=r.id, action="add", by="bench", changes={}) for r in rows)
        s.commit()
        return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--labels", type=int, default=100_000)
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=20)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(f"sqlite:///{Path(tmp) / 'bench.db'}")
        db.upgrade()
        body, gen_s = timed(csv_body, args.labels)
        parts = [("bench.csv", body)]
        parsed, parse_s = timed(parse, ImportFormat.CSV, parts)
        actor = Actor.system("bench")
        with db.session() as s:
            result, import_s = timed(
                label_service.import_parsed,
                s,
                parsed=parsed,
                sha256=file_sha256(parts),
                file_name="bench.csv",
                actor=actor,
            )
        with db.session() as s:
            again, reimport_s = timed(
                label_service.import_parsed,
                s,
                parsed=parsed,
                sha256=file_sha256(parts),
                file_name="bench.csv",
                actor=actor,
            )
        assert result.added == args.labels and again.unchanged == args.labels
        orm_s = orm_baseline(db, parsed, args.labels)
        print(f"labels: {args.labels:,} (generated in {gen_s:.1f} s)")
        print(f"parse (CSV, addresses validated): {parse_s:.2f} s, {args.labels / parse_s:,.0f}/s")
        rate = args.labels / import_s
        print(f"import (bulk insert + history + audit): {import_s:.2f} s, {rate:,.0f}/s")
        print(f"  baseline, ORM unit of work:        {orm_s:.2f} s, {args.labels / orm_s:,.0f}/s")
        print(f"re-import, nothing changed:          {reimport_s:.2f} s")
        batch_times, single_times = [], []
        with db.session() as s:
            known = list(
                s.scalars(
                    select(Label.address)
                    .where(Label.source_id == result.source_id)
                    .limit(args.batch // 2)
                )
            )
        for r in range(args.rounds):
            unknown = [
                address(10_000_000 + r * args.batch + i) for i in range(args.batch - len(known))
            ]
            wanted = known + unknown
            with db.session() as s:
                found, t = timed(label_service.labels_for, s, chain="btc", addresses=wanted)
                batch_times.append(t)
                assert sum(1 for v in found.values() if v) == len(known)
                t0 = time.perf_counter()
                for a in wanted[:100]:
                    label_service.labels_for(s, chain="btc", addresses=[a])
                single_times.append((time.perf_counter() - t0) / 100 * len(wanted))
        batch_ms = statistics.median(batch_times) * 1000
        single_ms = statistics.median(single_times) * 1000
        print(f"labels_for, {args.batch} addresses per call: median {batch_ms:.1f} ms")
        print(f"  baseline, one query per address:  median {single_ms:.1f} ms")
        db.dispose()


if __name__ == "__main__":
    main()
