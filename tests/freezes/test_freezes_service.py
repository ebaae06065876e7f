"""Freezes through the service: four-eyes for every step, the seizure's ledger trail, every
bad input of the issue refused with a reason and an audit entry (the ledger unchanged)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from chainsleuth.audit.models import AuditEvent
from chainsleuth.auth.enums import Role
from chainsleuth.cases import links as case_links
from chainsleuth.cases import service as case_service
from chainsleuth.cases.models import Case
from chainsleuth.core.config import Settings
from chainsleuth.core.errors import Conflict, InvalidInput, PermissionDenied
from chainsleuth.core.models import utcnow
from chainsleuth.freezes import reports
from chainsleuth.freezes import service as freeze_service
from chainsleuth.freezes.models import Freeze
from chainsleuth.freezes.schemas import ExtensionCreate, SeizureCreate
from chainsleuth.ledger import service as ledger
from chainsleuth.ledger.models import Posting
from factories import make_agency, make_user
from funds_helpers import (
    ETH_WALLET,
    actor_of,
    freeze_data,
    make_case,
    make_customer,
    make_order,
)

BTC = 100_000_000
WEI = 10**18


@pytest.fixture
def people(session: Session, settings: Settings) -> dict[str, object]:
    investigator = make_user(session, settings, role=Role.INVESTIGATOR, with_mfa=False)
    reviewer = make_user(session, settings, role=Role.LEGAL_REVIEWER, with_mfa=False)
    customer = make_customer(session, settings, {"BTC": 5 * BTC, "ETH": 40_000 * WEI})
    return {
        "inv": actor_of(investigator),
        "rev": actor_of(reviewer),
        "customer": customer,
        "case": make_case(session),
    }


def audit_of(session: Session, action: str) -> list[AuditEvent]:
    session.expire_all()
    return list(
        session.scalars(
            select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq)
        )
    )


def postings(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(Posting)) or 0)


def test_four_eyes_freeze_release(session: Session, people: dict) -> None:
    inv, rev, c = people["inv"], people["rev"], people["customer"]
    freeze = freeze_service.request_freeze(
        session, actor=inv, data=freeze_data(c.id, people["case"])
    )
    assert freeze.status == "pending"
    assert ledger.balances(session, f"{c.id}-BTC") == (5 * BTC, 0)  # nothing held yet
    with pytest.raises(PermissionDenied, match="second person"):
        freeze_service.approve(session, actor=inv, freeze_id=freeze.id)
    [refusal] = audit_of(session, "freeze.approve")
    assert refusal.outcome == "denied" and "second person" in refusal.details

    freeze_service.approve(session, actor=rev, freeze_id=freeze.id, note="order checked")
    session.refresh(freeze)
    assert freeze.status == "active"
    assert ledger.balances(session, f"{c.id}-BTC") == (0, 5 * BTC)
    assert ledger.balances(session, f"{c.id}-ETH") == (0, 40_000 * WEI)
    with pytest.raises(ledger.InsufficientFunds):
        ledger.withdraw(session, account_id=f"{c.id}-BTC", amount=1, actor="feed")
    session.rollback()

    freeze_service.request_release(session, actor=rev, freeze_id=freeze.id, note="order lifted")
    with pytest.raises(PermissionDenied):
        freeze_service.approve(session, actor=rev, freeze_id=freeze.id)
    freeze_service.approve(session, actor=inv, freeze_id=freeze.id)
    session.refresh(freeze)
    assert freeze.status == "released"
    assert ledger.balances(session, f"{c.id}-BTC") == (5 * BTC, 0)
    assert [e.outcome for e in audit_of(session, "freeze.release_approved")] == ["success"]
    detail = reports.detail(session, freeze)
    assert [(a.kind, a.status) for a in detail.actions] == [
        ("freeze", "approved"),
        ("release", "approved"),
    ]
    assert [j.kind for j in detail.trail] == ["hold", "hold", "release", "release"]
    assert freeze_service.check(session) == []


def test_releasing_twice_is_refused_and_audited(session: Session, people: dict) -> None:
    inv, rev, c = people["inv"], people["rev"], people["customer"]
    f = freeze_service.request_freeze(session, actor=inv, data=freeze_data(c.id, people["case"]))
    freeze_service.approve(session, actor=rev, freeze_id=f.id)
    freeze_service.request_release(session, actor=inv, freeze_id=f.id)
    with pytest.raises(Conflict, match="awaiting approval already"):
        freeze_service.request_release(session, actor=inv, freeze_id=f.id)
    freeze_service.approve(session, actor=rev, freeze_id=f.id)
    before = postings(session)
    with pytest.raises(Conflict, match="released already"):
        freeze_service.request_release(session, actor=inv, freeze_id=f.id)
    with pytest.raises(Conflict, match="nothing awaiting approval"):
        freeze_service.approve(session, actor=rev, freeze_id=f.id)
    assert postings(session) == before
    failures = [e for e in audit_of(session, "freeze.release_request") if e.outcome == "failure"]
    assert len(failures) == 2 and "released already" in failures[1].details
    assert freeze_service.check(session) == []


def test_seizure_moves_held_funds_to_the_agency_wallet(session: Session, people: dict) -> None:
    inv, rev, c = people["inv"], people["rev"], people["customer"]
    agency = make_agency(session, name="National Crime Agency")
    f = freeze_service.request_freeze(
        session,
        actor=inv,
        data=freeze_data(c.id, people["case"], scope="amount", asset="eth", amount=30_000 * WEI),
    )
    freeze_service.approve(session, actor=rev, freeze_id=f.id)
    assert ledger.balances(session, f"{c.id}-ETH") == (10_000 * WEI, 30_000 * WEI)
    assert ledger.balances(session, f"{c.id}-BTC") == (5 * BTC, 0)  # only the amount

    with pytest.raises(InvalidInput, match="holds only"):
        freeze_service.request_seizure(
            session,
            actor=inv,
            freeze_id=f.id,
            data=SeizureCreate(agency_id=agency.id, wallet_address=ETH_WALLET, amount=31_000 * WEI),
        )
    [refused] = [e for e in audit_of(session, "freeze.seize_request") if e.outcome == "failure"]
    assert "holds only" in refused.details

    freeze_service.request_seizure(
        session,
        actor=inv,
        freeze_id=f.id,
        data=SeizureCreate(agency_id=agency.id, wallet_address=ETH_WALLET, amount=20_000 * WEI),
    )
    freeze_service.approve(session, actor=rev, freeze_id=f.id)
    session.refresh(f)
    assert f.status == "active"  # 10,000 ETH still held
    freeze_service.request_seizure(
        session,
        actor=rev,
        freeze_id=f.id,
        data=SeizureCreate(agency_id=agency.id, wallet_address=ETH_WALLET.lower()),
    )
    freeze_service.approve(session, actor=inv, freeze_id=f.id)
    session.refresh(f)
    assert f.status == "seized"
    assert ledger.balances(session, f"{c.id}-ETH") == (10_000 * WEI, 0)
    detail = reports.detail(session, f)
    seizures = [j for j in detail.trail if j.kind == "seize"]
    assert len(seizures) == 2
    to_wallet = [p for j in seizures for p in j.postings if p.bucket == "seizure"]
    assert {p.wallet_address for p in to_wallet} == {ETH_WALLET.lower()}
    assert sum(p.amount for p in to_wallet) == 30_000 * WEI
    assert [a.agency for a in detail.actions if a.kind == "seize"] == ["National Crime Agency"] * 2
    assert ledger.totals(session)["ETH"]["seizure"] == 30_000 * WEI
    assert freeze_service.check(session) == []


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"case_id": None}, "exactly one legal basis"),
        ({"request_id": 1}, "exactly one legal basis"),
        ({"review_at": None, "expires_at": None}, "open-ended"),
        ({"case_id": 999_999}, "no case #999999"),
        ({"expires_at": utcnow() - timedelta(days=1)}, "future"),
        ({"scope": "amount", "asset": "BTC"}, "needs the amount"),
        ({"scope": "asset", "asset": "USDT"}, "no USDT account"),
        ({"reason": " "}, "reason"),
        ({"scope": "everything"}, "unknown scope"),
    ],
)
def test_bad_freeze_requests_are_refused_and_audited(
    session: Session, people: dict, overrides: dict, message: str
) -> None:
    c = people["customer"]
    with pytest.raises(InvalidInput, match=message):
        freeze_service.request_freeze(
            session,
            actor=people["inv"],
            data=freeze_data(c.id, **{"case_id": people["case"], **overrides}),
        )
    [event] = audit_of(session, "freeze.request")
    assert event.outcome == "failure" and message.split()[0] in event.details
    assert reports.list_freezes(session) == []


def test_freezing_more_than_available_is_refused_at_approval(
    session: Session, people: dict
) -> None:
    inv, rev, c = people["inv"], people["rev"], people["customer"]
    f = freeze_service.request_freeze(
        session,
        actor=inv,
        data=freeze_data(c.id, people["case"], scope="amount", asset="BTC", amount=6 * BTC),
    )
    before = postings(session)
    with pytest.raises(InvalidInput, match="only 500000000 available"):
        freeze_service.approve(session, actor=rev, freeze_id=f.id)
    session.refresh(f)
    assert f.status == "pending" and postings(session) == before
    freeze_service.reject(session, actor=rev, freeze_id=f.id, note="amount wrong")
    session.refresh(f)
    assert f.status == "rejected"
    assert freeze_service.check(session) == []


def test_extension_and_due_list_and_digest(session: Session, people: dict) -> None:
    inv, rev, c = people["inv"], people["rev"], people["customer"]
    now = utcnow()
    soon = freeze_service.request_freeze(
        session,
        actor=inv,
        data=freeze_data(c.id, people["case"], review_at=now + timedelta(days=3), expires_at=None),
    )
    later = freeze_service.request_freeze(
        session,
        actor=inv,
        data=freeze_data(
            c.id,
            people["case"],
            scope="asset",
            asset="ETH",
            review_at=None,
            expires_at=now + timedelta(days=60),
        ),
    )
    for f in (soon, later):
        freeze_service.approve(session, actor=rev, freeze_id=f.id)
    due = reports.due_soon(session, days=7)
    assert [(d.freeze.id, d.kind, d.overdue) for d in due] == [(soon.id, "review", False)]
    assert [d.freeze.id for d in reports.due_soon(session, days=90)] == [soon.id, later.id]
    text = reports.digest(session, days=7)
    assert f"freeze #{soon.id}" in text and f"freeze #{later.id}" not in text
    assert reports.due_soon(session, days=7, now=now + timedelta(days=4))[0].overdue
    assert "Overdue:\n  freeze" in reports.digest(session, days=7, now=now + timedelta(days=4))

    with pytest.raises(InvalidInput, match="new review date or a new expiry"):
        freeze_service.request_extension(
            session, actor=inv, freeze_id=soon.id, data=ExtensionCreate()
        )
    freeze_service.request_extension(
        session,
        actor=inv,
        freeze_id=soon.id,
        data=ExtensionCreate(review_at=now + timedelta(days=30), note="still investigating"),
    )
    assert reports.due_soon(session, days=7) != []  # not in force before approval
    freeze_service.approve(session, actor=rev, freeze_id=soon.id)
    assert reports.due_soon(session, days=7) == []
    assert [f.id for f in reports.list_freezes(session, due_within=31)] == [soon.id]
    with pytest.raises(InvalidInput, match="unknown status"):
        reports.list_freezes(session, status="frozen")


@pytest.mark.parametrize("order_type", ["freeze_order", "seizure_order"])
def test_a_request_order_is_a_legal_basis(session: Session, people: dict, order_type: str) -> None:
    order = make_order(session, make_agency(session).id, type=order_type, status="assigned")
    f = freeze_service.request_freeze(
        session,
        actor=people["inv"],
        data=freeze_data(people["customer"].id, None, request_id=order.id),
    )
    assert f.request_id == order.id and f.case_id is None


@pytest.mark.parametrize(
    ("order_type", "status", "reason"),
    [
        ("information_request", "received", "no legal basis for a freeze"),
        ("preservation", "approved", "no legal basis for a freeze"),
        ("freeze_order", "rejected", "is rejected"),
        ("seizure_order", "closed", "is closed"),
    ],
)
def test_a_request_that_allows_no_freeze_is_refused_and_audited(
    session: Session, people: dict, order_type: str, status: str, reason: str
) -> None:
    order = make_order(session, make_agency(session).id, type=order_type, status=status)
    with pytest.raises(InvalidInput, match=reason):
        freeze_service.request_freeze(
            session,
            actor=people["inv"],
            data=freeze_data(people["customer"].id, None, request_id=order.id),
        )
    [refusal] = audit_of(session, "freeze.request")
    assert refusal.outcome == "failure" and order.reference in refusal.details
    assert session.scalar(select(func.count()).select_from(Freeze)) == 0


def test_an_unknown_request_is_refused(session: Session, people: dict) -> None:
    with pytest.raises(InvalidInput, match="no law-enforcement request #999"):
        freeze_service.request_freeze(
            session,
            actor=people["inv"],
            data=freeze_data(people["customer"].id, None, request_id=999),
        )


def test_steps_of_a_freeze_on_a_case_go_on_its_timeline(session: Session, people: dict) -> None:
    inv, rev, c, case_id = people["inv"], people["rev"], people["customer"], people["case"]
    freeze = freeze_service.request_freeze(session, actor=inv, data=freeze_data(c.id, case_id))
    with pytest.raises(PermissionDenied):  # refused: nothing more on the case
        freeze_service.approve(session, actor=inv, freeze_id=freeze.id)
    freeze_service.approve(session, actor=rev, freeze_id=freeze.id)
    freeze_service.request_release(session, actor=inv, freeze_id=freeze.id, note="order lifted")

    session.expire_all()
    case = session.get(Case, case_id)
    assert case is not None
    events, total, _ = case_service.timeline(session, case)
    assert [e.summary for e in reversed(events)] == [
        f"linked freeze {freeze.id}",
        f"freeze #{freeze.id} requested: whole account of customer {c.id}",
        f"freeze #{freeze.id}: freeze approved",
        f"freeze #{freeze.id}: release requested",
    ]
    assert total == 4
    assert [e.actor for e in reversed(events)][1:3] == [inv.name, rev.name]
    assert all(e.audit_seq for e in events)  # each an entry of the audit log
    assert [(x.item_type, x.item_ref) for x in case_links.links(session, case)] == [
        ("freeze", str(freeze.id))
    ]
