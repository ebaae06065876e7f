"""Funds arriving under an active freeze of the whole account or of one asset are held at once
(deposits and bought trade legs), so that they cannot be spent, and are released or seized
with the rest; a freeze of an amount holds only its amount."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from chainsleuth.auth.enums import Role
from chainsleuth.core.config import Settings
from chainsleuth.exchange.models import Account
from chainsleuth.freezes import service as freeze_service
from chainsleuth.freezes.models import FreezeHold
from chainsleuth.freezes.schemas import SeizureCreate
from chainsleuth.ledger import service as ledger
from factories import make_agency, make_user
from funds_helpers import ETH_WALLET, actor_of, freeze_data, make_case, make_customer

BTC = 100_000_000
WEI = 10**18


@pytest.fixture
def people(session: Session, settings: Settings) -> dict[str, object]:
    investigator = make_user(session, settings, role=Role.INVESTIGATOR, with_mfa=False)
    reviewer = make_user(session, settings, role=Role.LEGAL_REVIEWER, with_mfa=False)
    customer = make_customer(session, settings, {"BTC": 5 * BTC, "ETH": 40 * WEI})
    return {
        "inv": actor_of(investigator),
        "rev": actor_of(reviewer),
        "customer": customer,
        "case": make_case(session),
    }


def active_freeze(session: Session, people: dict, **overrides: object) -> int:
    freeze = freeze_service.request_freeze(
        session,
        actor=people["inv"],
        data=freeze_data(people["customer"].id, people["case"], **overrides),
    )
    freeze_service.approve(session, actor=people["rev"], freeze_id=freeze.id)
    return freeze.id


def hold_of(session: Session, freeze_id: int, account_id: str) -> tuple[int, int]:
    session.expire_all()
    hold = session.scalar(
        select(FreezeHold).where(
            FreezeHold.freeze_id == freeze_id, FreezeHold.exchange_account_id == account_id
        )
    )
    assert hold is not None
    return hold.held, hold.placed


def test_deposits_and_buys_under_a_whole_account_freeze_are_held_and_released(
    session: Session, people: dict
) -> None:
    c = people["customer"]
    btc, eth = f"{c.id}-BTC", f"{c.id}-ETH"
    freeze_id = active_freeze(session, people)
    ledger.deposit(session, account_id=btc, amount=2 * BTC, actor="feed", reference="D1")
    ledger.trade(session, account_id=eth, amount=3 * WEI, actor="feed", reference="T1")
    session.commit()
    assert ledger.balances(session, btc) == (0, 7 * BTC)
    assert ledger.balances(session, eth) == (0, 43 * WEI)
    assert hold_of(session, freeze_id, btc) == (7 * BTC, 7 * BTC)
    with pytest.raises(ledger.InsufficientFunds):
        ledger.withdraw(session, account_id=btc, amount=1, actor="feed")
    session.rollback()
    with pytest.raises(ledger.InsufficientFunds):
        ledger.trade(session, account_id=eth, amount=-1, actor="feed")
    session.rollback()
    assert freeze_service.check(session) == []

    freeze_service.request_release(session, actor=people["inv"], freeze_id=freeze_id, note="x")
    freeze_service.approve(session, actor=people["rev"], freeze_id=freeze_id)
    assert ledger.balances(session, btc) == (7 * BTC, 0)
    assert ledger.balances(session, eth) == (43 * WEI, 0)
    # after the release arrivals are the customer's again
    ledger.deposit(session, account_id=btc, amount=1, actor="feed")
    session.commit()
    assert ledger.balances(session, btc) == (7 * BTC + 1, 0)
    assert freeze_service.check(session) == []


def test_an_account_opened_after_a_whole_account_freeze_is_held_too(
    session: Session, people: dict
) -> None:
    c = people["customer"]
    freeze_id = active_freeze(session, people)
    session.add(Account(id=f"{c.id}-USDT", customer_id=c.id, asset="USDT", status="active"))
    session.commit()
    ledger.deposit(session, account_id=f"{c.id}-USDT", amount=500, actor="feed")
    session.commit()
    assert ledger.balances(session, f"{c.id}-USDT") == (0, 500)
    assert hold_of(session, freeze_id, f"{c.id}-USDT") == (500, 500)
    assert freeze_service.check(session) == []


def test_an_asset_freeze_holds_arrivals_of_that_asset_only_and_they_can_be_seized(
    session: Session, people: dict
) -> None:
    c = people["customer"]
    eth, btc = f"{c.id}-ETH", f"{c.id}-BTC"
    freeze_id = active_freeze(session, people, scope="asset", asset="ETH")
    ledger.deposit(session, account_id=eth, amount=2 * WEI, actor="feed")
    ledger.deposit(session, account_id=btc, amount=1 * BTC, actor="feed")
    session.commit()
    assert ledger.balances(session, eth) == (0, 42 * WEI)
    assert ledger.balances(session, btc) == (6 * BTC, 0)
    ledger.withdraw(session, account_id=btc, amount=6 * BTC, actor="feed")  # not frozen
    session.commit()

    agency = make_agency(session)
    seizure = SeizureCreate(agency_id=agency.id, wallet_address=ETH_WALLET, note="order")
    freeze_service.request_seizure(session, actor=people["inv"], freeze_id=freeze_id, data=seizure)
    freeze_service.approve(session, actor=people["rev"], freeze_id=freeze_id)
    assert ledger.balances(session, eth) == (0, 0)
    assert hold_of(session, freeze_id, eth) == (0, 42 * WEI)
    session.expire_all()
    assert freeze_service.get(session, freeze_id).status == "seized"
    # the freeze is closed: what arrives now is the customer's
    ledger.deposit(session, account_id=eth, amount=1, actor="feed")
    session.commit()
    assert ledger.balances(session, eth) == (1, 0)
    assert freeze_service.check(session) == []


def test_an_amount_freeze_does_not_hold_arrivals(session: Session, people: dict) -> None:
    c = people["customer"]
    btc = f"{c.id}-BTC"
    active_freeze(session, people, scope="amount", asset="BTC", amount=1 * BTC)
    ledger.deposit(session, account_id=btc, amount=1 * BTC, actor="feed")
    session.commit()
    assert ledger.balances(session, btc) == (5 * BTC, 1 * BTC)
    assert freeze_service.check(session) == []


def test_a_pending_freeze_holds_no_arrival_but_its_approval_holds_them(
    session: Session, people: dict
) -> None:
    c = people["customer"]
    btc = f"{c.id}-BTC"
    freeze = freeze_service.request_freeze(
        session, actor=people["inv"], data=freeze_data(c.id, people["case"])
    )
    ledger.deposit(session, account_id=btc, amount=1 * BTC, actor="feed")
    session.commit()
    assert ledger.balances(session, btc) == (6 * BTC, 0)
    freeze_service.approve(session, actor=people["rev"], freeze_id=freeze.id)
    assert ledger.balances(session, btc) == (0, 6 * BTC)
    assert freeze_service.check(session) == []
