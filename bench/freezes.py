"""Benchmark of freezes on PostgreSQL: 1,000 concurrent freeze, withdraw and release operations
complete with every invariant intact.

A throwaway PostgreSQL server is started (``tests/harness/postgres.py``). Customers with BTC
balances are created and the ledger opened; some freezes are put in force beforehand (to be
released). Then the operations run on ``--threads`` threads, each with its own session
(real concurrent transactions):

* freeze: an investigator requests a freeze of an amount, a legal reviewer approves it
  (two transactions, the approval locks the freeze and the customer's ledger rows);
* withdraw: a withdrawal from the available balance (refused when it would touch held funds);
* release: a release of one of the freezes in force, requested and approved.

The baseline, measured in the same run: the same operations, one after the other on one
thread, on a fresh database. After each run every invariant is checked (every journal
balances, no bucket negative, held funds are what the freezes hold, nothing created or lost).

    .venv/bin/python bench/freezes.py                     # 1,000 operations, 8 threads
    .venv/bin/python bench/freezes.py --ops 200 --threads 4
"""

from __future__ import annotations

import argparse
import random
import sys
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from chainsleuth.audit.service import Actor
from chainsleuth.auth import service as user_service
from chainsleuth.auth.enums import Role
from chainsleuth.auth.schemas import UserCreate
from chainsleuth.cases.models import Case
from chainsleuth.core.db import Database
from chainsleuth.core.errors import Conflict, InvalidInput
from chainsleuth.core.models import utcnow
from chainsleuth.exchange.models import Account, Balance, Customer
from chainsleuth.freezes import service as freeze_service
from chainsleuth.freezes.schemas import FreezeCreate
from chainsleuth.ledger import service as ledger

ROOT = Path(__file__).resolve().parent.parent
SYSTEM = Actor.system("bench")
START = 10 * 100_000_000  # 10 BTC per customer


def seed(db: Database, customers: int) -> tuple[Actor, Actor, int, list[str]]:
    with db.session() as s:
        people = []
        for role, name in ((Role.INVESTIGATOR, "ivan"), (Role.LEGAL_REVIEWER, "lena")):
            user = user_service.create_user(
                s,
                actor=SYSTEM,
                data=UserCreate(
                    username=name,
                    email=f"{name}@example.org",
                    full_name=f"Bench {name}",
                    role=role,
                    password="bench-password-" + uuid.uuid4().hex,
                ),
            )
            people.append(Actor(user_id=user.id, name=name))
        case = Case(title="bench", type="fraud", severity="high", status="open", summary="")
        s.add(case)
        ids = []
        for i in range(customers):
            cid = f"C{i:09d}"
            s.add(
                Customer(
                    id=cid,
                    customer_type="individual",
                    kyc="-",
                    kyc_key_version=1,
                    masked={},
                    source_digest="0" * 64,
                )
            )
            s.flush()
            s.add(Account(id=f"{cid}-BTC", customer_id=cid, asset="BTC", status="active"))
            s.flush()
            s.add(
                Balance(
                    account_id=f"{cid}-BTC",
                    customer_id=cid,
                    asset="BTC",
                    balance=START,
                    as_of=datetime.now(UTC),
                )
            )
            ids.append(cid)
        s.commit()
        ledger.open_all(s, actor="bench")
        s.commit()
        return people[0], people[1], case.id, ids


def request(cid: str, case_id: int, amount: int) -> FreezeCreate:
    return FreezeCreate(
        customer_id=cid,
        scope="amount",
        asset="BTC",
        amount=amount,
        case_id=case_id,
        reason="bench",
        expires_at=utcnow() + timedelta(days=30),
    )


def plan(n: int, customers: list[str], seed_: int) -> tuple[list[tuple[str, int]], list[int]]:
    """The operations (kind, customer index or pre-made freeze slot) and the pre-made
    freezes' amounts (one release each)."""
    rng = random.Random(seed_)
    releases = n * 3 // 10
    kinds = ["release"] * releases + ["freeze"] * ((n - releases) // 2)
    kinds += ["withdraw"] * (n - len(kinds))
    rng.shuffle(kinds)
    ops, slot = [], 0
    for kind in kinds:
        if kind == "release":
            ops.append((kind, slot))
            slot += 1
        else:
            ops.append((kind, rng.randrange(len(customers))))
    return ops, [rng.randrange(1, START // 20) for _ in range(releases)]


def run(
    db: Database, ops: list[tuple[str, int]], amounts: list[int], threads: int, customers_: int
) -> dict[str, Any]:
    inv, rev, case_id, customers = seed(db, customers_)
    premade = []
    with db.session() as s:
        for i, amount in enumerate(amounts):
            f = freeze_service.request_freeze(
                s, actor=inv, data=request(customers[i % len(customers)], case_id, amount)
            )
            freeze_service.approve(s, actor=rev, freeze_id=f.id)
            premade.append(f.id)
    rng = random.Random(7)
    sizes = [rng.randrange(1, START // 40) for _ in ops]

    def one(i: int) -> str:
        kind, n = ops[i]
        with db.session() as s:
            try:
                if kind == "withdraw":
                    ledger.withdraw(
                        s, account_id=f"{customers[n]}-BTC", amount=sizes[i], actor="bench"
                    )
                    s.commit()
                elif kind == "freeze":
                    f = freeze_service.request_freeze(
                        s, actor=inv, data=request(customers[n], case_id, sizes[i])
                    )
                    freeze_service.approve(s, actor=rev, freeze_id=f.id)
                else:
                    freeze_service.request_release(s, actor=inv, freeze_id=premade[n])
                    freeze_service.approve(s, actor=rev, freeze_id=premade[n])
            except (InvalidInput, Conflict):
                s.rollback()
                return f"{kind} refused"
        return kind

    t0 = time.perf_counter()
    if threads == 1:
        outcomes = Counter(one(i) for i in range(len(ops)))
    else:
        with ThreadPoolExecutor(threads) as pool:
            outcomes = Counter(pool.map(one, range(len(ops))))
    elapsed = time.perf_counter() - t0
    with db.session() as s:
        problems = freeze_service.check(s)
        totals: dict[str, Any] = ledger.totals(s)["BTC"]
    return {"elapsed": elapsed, "outcomes": outcomes, "problems": problems, "totals": totals}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ops", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--customers", type=int, default=50)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT / "tests"))
    from harness.postgres import PostgresServer  # noqa: PLC0415

    ops, amounts = plan(args.ops, [f"C{i:09d}" for i in range(args.customers)], args.seed)
    results: dict[str, dict[str, Any]] = {}
    with PostgresServer() as server:
        for label, threads in (("concurrent", args.threads), ("serial (baseline)", 1)):
            name = f"bench_{uuid.uuid4().hex[:8]}"
            server.create_database(name)
            db = Database(server.url(name))
            db.upgrade()
            results[label] = run(db, ops, amounts, threads, args.customers)
            db.dispose()
    ok = True
    print(f"{args.ops} operations ({dict(Counter(k for k, _ in ops))}), {args.customers} customers")
    for label, r in results.items():
        rate = args.ops / r["elapsed"]
        print(
            f"{label:>18}: {r['elapsed']:6.2f} s  {rate:7.1f} ops/s  "
            f"outcomes {dict(sorted(r['outcomes'].items()))}"
        )
        total = sum(r["totals"].values())
        print(
            f"{'':>18}  invariants: {'intact' if not r['problems'] else r['problems'][:3]}; "
            f"BTC accounts sum to {total}; buckets {r['totals']}"
        )
        ok = ok and not r["problems"] and total == 0
    speedup = results["serial (baseline)"]["elapsed"] / results["concurrent"]["elapsed"]
    print(f"concurrent vs serial: {speedup:.2f}x")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
