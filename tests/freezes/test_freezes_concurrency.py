"""Property-based tests: many freezes, releases, seizures, deposits and withdrawals at once
(threads, each with its own session: real concurrent transactions on PostgreSQL, queued
writers on SQLite), then every invariant of the ledger and the freezes is checked.

A step may be refused (not enough available, a release already pending, ...); nothing else
may go wrong, and after every run: every journal balances, no bucket is negative, held funds
are exactly what the active freezes hold, and per asset nothing was created or lost.
"""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from chainsleuth.audit.service import Actor
from chainsleuth.auth.enums import Role
from chainsleuth.core.config import Settings
from chainsleuth.core.db import Database
from chainsleuth.core.errors import Conflict, InvalidInput
from chainsleuth.freezes import service as freeze_service
from chainsleuth.freezes.models import Freeze
from chainsleuth.freezes.schemas import SeizureCreate
from chainsleuth.ledger import service as ledger
from factories import make_agency, make_user
from funds_helpers import BTC_WALLET, actor_of, freeze_data, make_case, make_customer

CUSTOMERS = 3
START = 1_000_000
THREADS = 6


@dataclass
class World:
    db: Database
    inv: Actor
    rev: Actor
    case_id: int
    agency_id: int
    accounts: list[str]
    customers: list[str]


@pytest.fixture
def world(database: Database, settings: Settings) -> World:
    with database.session() as s:
        inv = actor_of(make_user(s, settings, role=Role.INVESTIGATOR, with_mfa=False))
        rev = actor_of(make_user(s, settings, role=Role.LEGAL_REVIEWER, with_mfa=False))
        customers = [make_customer(s, settings, {"BTC": START}).id for _ in range(CUSTOMERS)]
        world = World(
            database,
            inv,
            rev,
            make_case(s),
            make_agency(s).id,
            [f"{c}-BTC" for c in customers],
            customers,
        )
        ledger.open_all(s)
        s.commit()
    return world


amounts = st.integers(min_value=1, max_value=START // 3)
who = st.integers(min_value=0, max_value=CUSTOMERS - 1)
slot = st.integers(min_value=0, max_value=20)
operation = st.one_of(
    st.tuples(st.just("deposit"), who, amounts),
    st.tuples(st.just("withdraw"), who, amounts),
    st.tuples(st.just("trade"), who, st.integers(min_value=-START // 3, max_value=START // 3)),
    st.tuples(st.just("freeze"), who, st.none() | amounts),
    st.tuples(st.just("release"), slot, st.none()),
    st.tuples(st.just("seize"), slot, st.none() | amounts),
)


def run(world: World, freezes: list[int], op: tuple[str, int, Any]) -> str:
    kind, n, amount = op
    with world.db.session() as s:
        try:
            if kind in ("deposit", "withdraw", "trade"):
                if kind == "trade" and amount == 0:
                    return "refused"
                getattr(ledger, kind)(s, account_id=world.accounts[n], amount=amount, actor="feed")
                s.commit()
            elif kind == "freeze":
                scope = {"scope": "amount", "asset": "BTC", "amount": amount} if amount else {}
                f = freeze_service.request_freeze(
                    s, actor=world.inv, data=freeze_data(world.customers[n], world.case_id, **scope)
                )
                freeze_service.approve(s, actor=world.rev, freeze_id=f.id)
            elif kind == "release":
                fid = freezes[n % len(freezes)]
                freeze_service.request_release(s, actor=world.inv, freeze_id=fid)
                freeze_service.approve(s, actor=world.rev, freeze_id=fid)
            else:
                fid = freezes[n % len(freezes)]
                data = SeizureCreate(
                    agency_id=world.agency_id, wallet_address=BTC_WALLET, amount=amount
                )
                freeze_service.request_seizure(s, actor=world.inv, freeze_id=fid, data=data)
                freeze_service.approve(s, actor=world.rev, freeze_id=fid)
        except (InvalidInput, Conflict):
            s.rollback()
            return "refused"
    return "done"


def prepare(world: World, sizes: list[int]) -> list[int]:
    """Active freezes to release and seize from, made one after the other."""
    ids = []
    with world.db.session() as s:
        for i, size in enumerate(sizes):
            n = i % CUSTOMERS
            # a whole-account freeze left active by an earlier example holds every deposit
            for fid in s.scalars(
                select(Freeze.id).where(
                    Freeze.customer_id == world.customers[n],
                    Freeze.scope == "account",
                    Freeze.status == "active",
                )
            ).all():
                if freeze_service.pending_action(s, fid) is not None:  # a seizure left over
                    freeze_service.reject(s, actor=world.rev, freeze_id=fid, note="cleared")
                freeze_service.request_release(s, actor=world.inv, freeze_id=fid)
                freeze_service.approve(s, actor=world.rev, freeze_id=fid)
            available, _held = ledger.balances(s, world.accounts[n])
            if available < size:
                ledger.deposit(s, account_id=world.accounts[n], amount=size, actor="feed")
                s.commit()
            f = freeze_service.request_freeze(
                s,
                actor=world.inv,
                data=freeze_data(
                    world.customers[n], world.case_id, scope="amount", asset="BTC", amount=size
                ),
            )
            freeze_service.approve(s, actor=world.rev, freeze_id=f.id)
            ids.append(f.id)
    return ids


def assert_sound(world: World) -> None:
    with world.db.session() as s:
        assert freeze_service.check(s) == []
        totals = ledger.totals(s)["BTC"]
        assert sum(totals.values()) == 0
        for f in s.scalars(select(Freeze)):
            assert f.status in ("pending", "active", "released", "seized", "rejected")
        s.rollback()


@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    sizes=st.lists(st.integers(min_value=1, max_value=START // 4), min_size=1, max_size=3),
    ops=st.lists(operation, min_size=4, max_size=14),
)
def test_concurrent_operations_keep_every_invariant(
    world: World, sizes: list[int], ops: list[tuple[str, int, Any]]
) -> None:
    freezes = prepare(world, sizes)
    with ThreadPoolExecutor(THREADS) as pool:
        outcomes = list(pool.map(lambda op: run(world, freezes, op), ops))
    assert set(outcomes) <= {"done", "refused"}
    assert_sound(world)


def test_racing_releases_and_withdrawals(world: World) -> None:
    """Many threads release the same freezes and withdraw everything they can at once: each
    freeze is released once, and no withdrawal ever touches held funds."""
    freezes = prepare(world, [START // 2, START // 2, START // 2])
    ops: list[tuple[str, int, Any]] = []
    for i in range(len(freezes)):
        ops += [("release", i, None)] * 3 + [("withdraw", i, START // 4)] * 3
    ops += [("seize", 0, None)] * 2
    with ThreadPoolExecutor(THREADS) as pool:
        outcomes = Counter(pool.map(lambda op: run(world, freezes, op), ops))
    assert outcomes["done"] >= len(freezes)
    assert_sound(world)
    with world.db.session() as s:
        statuses = [freeze_service.get(s, fid).status for fid in freezes]
        assert all(st in ("released", "seized") for st in statuses)
        s.rollback()
