"""The double-entry ledger: opening balances, every movement balanced, held funds unspendable,
no bucket negative, nothing created or lost; a refused movement writes nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from chainsleuth.core.config import Settings
from chainsleuth.core.errors import InvalidInput, NotFound
from chainsleuth.ledger import service as ledger
from chainsleuth.ledger.enums import Bucket
from chainsleuth.ledger.models import Journal, Posting
from factories import make_agency
from funds_helpers import make_customer

BTC = 100_000_000
WEI = 10**18


def test_opening_balances_come_from_the_exchange_and_open_once(
    session: Session, settings: Settings
) -> None:
    c = make_customer(session, settings, {"BTC": 3 * BTC, "ETH": 50_000 * WEI})
    make_customer(session, settings, {"USDT": 0})
    assert ledger.open_all(session) == 3
    assert ledger.open_all(session) == 0  # idempotent
    session.commit()
    assert ledger.balances(session, f"{c.id}-BTC") == (3 * BTC, 0)
    # wei beyond 64 bits survive exactly on every backend
    assert ledger.balances(session, f"{c.id}-ETH") == (50_000 * WEI, 0)
    totals = ledger.totals(session)
    assert totals["ETH"] == {"opening": -50_000 * WEI, "available": 50_000 * WEI}
    # a zero balance opens accounts but writes no journal
    assert session.scalar(select(func.count()).select_from(Journal)) == 2
    assert ledger.check(session) == []


def test_movements_balance_and_held_funds_cannot_be_spent(
    session: Session, settings: Settings
) -> None:
    c = make_customer(session, settings, {"BTC": 10 * BTC})
    acct = f"{c.id}-BTC"
    ledger.deposit(session, account_id=acct, amount=2 * BTC, actor="feed", reference="D1")
    ledger.trade(session, account_id=acct, amount=-1 * BTC, actor="feed", reference="T1")
    ledger.hold(session, account_id=acct, amount=6 * BTC, actor="test", reference="freeze:1")
    ledger.withdraw(session, account_id=acct, amount=5 * BTC, actor="feed", reference="W1")
    session.commit()
    assert ledger.balances(session, acct) == (0, 6 * BTC)
    with pytest.raises(ledger.InsufficientFunds, match="0 BTC units available"):
        ledger.withdraw(session, account_id=acct, amount=1, actor="feed")
    session.rollback()
    with pytest.raises(ledger.InsufficientFunds):
        ledger.trade(session, account_id=acct, amount=-1, actor="feed")
    session.rollback()
    with pytest.raises(ledger.InsufficientFunds, match="held"):
        ledger.release(session, account_id=acct, amount=7 * BTC, actor="test")
    session.rollback()
    ledger.release(session, account_id=acct, amount=2 * BTC, actor="test", reference="freeze:1")
    ledger.seize(
        session,
        account_id=acct,
        amount=4 * BTC,
        agency_id=make_agency(session).id,
        wallet="bc1qwallet",
        actor="test",
        reference="freeze:1",
    )
    session.commit()
    assert ledger.balances(session, acct) == (2 * BTC, 0)
    totals = ledger.totals(session)["BTC"]
    assert totals["seizure"] == 4 * BTC
    assert totals["external"] == -2 * BTC + 5 * BTC
    assert sum(totals.values()) == 0
    trail = ledger.trail(session, "freeze:1")
    assert [t.journal.kind for t in trail] == ["hold", "release", "seize"]
    assert all(sum(a for _, a in t.postings) == 0 for t in trail)
    assert ledger.check(session) == []


def test_a_refused_movement_writes_nothing(session: Session, settings: Settings) -> None:
    c = make_customer(session, settings, {"ETH": 5 * WEI})
    acct = f"{c.id}-ETH"
    ledger.open_all(session)
    session.commit()
    before = session.scalar(select(func.count()).select_from(Posting))
    for bad in (0, -5, 1.5, True):
        with pytest.raises(InvalidInput):
            ledger.withdraw(session, account_id=acct, amount=bad, actor="feed")  # type: ignore[arg-type]
        session.rollback()
    with pytest.raises(NotFound):
        ledger.deposit(session, account_id="C-NOPE-BTC", amount=1, actor="feed")
    session.rollback()
    assert session.scalar(select(func.count()).select_from(Posting)) == before
    assert ledger.balances(session, acct) == (5 * WEI, 0)


def test_check_finds_a_tampered_ledger(session: Session, settings: Settings) -> None:
    c = make_customer(session, settings, {"BTC": BTC})
    ledger.deposit(session, account_id=f"{c.id}-BTC", amount=5, actor="feed")
    session.commit()
    buckets = ledger.ensure_open(session, f"{c.id}-BTC")
    buckets.available.balance = buckets.available.balance + 1  # a coin from nowhere
    session.add(Posting(journal_id=1, account_id=buckets.held.id, amount=-3))
    session.commit()
    problems = ledger.check(session)
    assert any("postings sum to" in p for p in problems)
    assert any("does not balance" in p for p in problems)
    assert any("created or lost" in p for p in problems)
    assert any("negative" in p for p in problems)
    assert Bucket.HELD.is_customer and not Bucket.SEIZURE.is_customer
