"""Helpers of the ledger and freeze tests: customers with asset accounts and opening
balances (as an exchange import leaves them), a case as a freeze's legal basis, and actors."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from chainsleuth.audit.service import Actor
from chainsleuth.cases.models import Case
from chainsleuth.core.config import Settings
from chainsleuth.core.models import utcnow
from chainsleuth.exchange.kyc import KycKeys, mask
from chainsleuth.exchange.models import Account, Balance, Customer
from chainsleuth.freezes.schemas import FreezeCreate
from chainsleuth.requests.enums import (
    SLA_WARNING_SHARE,
    NotificationState,
    RequestStatus,
    RequestType,
    VerificationState,
)
from chainsleuth.requests.models import LeRequest
from factories import Account as UserAccount

_seq = itertools.count(100)

#: a valid Ethereum and Bitcoin address (agency wallets in seizures)
ETH_WALLET = "0x52908400098527886E0F7030069857D2E4169EE7"
BTC_WALLET = "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"


def make_customer(
    session: Session,
    settings: Settings,
    balances: dict[str, int],
    *,
    customer_id: str | None = None,
) -> Customer:
    """A customer with one account per asset and its balance in ``exchange_balances``."""
    cid = customer_id or f"C{next(_seq):09d}"
    record = {
        "first_name": "Mallory",
        "last_name": f"Mule{cid[-3:]}",
        "date_of_birth": "1990-01-01",
        "email": f"{cid.lower()}@example.org",
        "phone": "+44 7700 900123",
    }
    token, version = KycKeys.from_settings(settings).encrypt(record)
    customer = Customer(
        id=cid,
        customer_type="individual",
        residence_country="GB",
        kyc_level=2,
        kyc_status="verified",
        risk_rating="high",
        registered_at=datetime(2024, 1, 1, tzinfo=UTC),
        kyc=token,
        kyc_key_version=version,
        masked=mask(record),
        source_digest="0" * 64,
    )
    session.add(customer)
    session.flush()
    for asset, balance in balances.items():
        account_id = f"{cid}-{asset}"
        session.add(Account(id=account_id, customer_id=cid, asset=asset, status="active"))
        session.flush()
        session.add(
            Balance(
                account_id=account_id,
                customer_id=cid,
                asset=asset,
                balance=balance,
                as_of=utcnow(),
            )
        )
    session.commit()
    return customer


def make_case(session: Session, *, title: str = "Mule ring") -> int:
    case = Case(title=title, type="money_mule", severity="high", status="open", summary="")
    session.add(case)
    session.commit()
    return case.id


def make_order(
    session: Session,
    agency_id: int,
    *,
    type: str = "freeze_order",
    status: str = "received",
) -> LeRequest:
    """A law-enforcement request as the requests domain files it (type and status chosen)."""
    now = utcnow()
    kind = RequestType(type)
    order = LeRequest(
        reference=f"LER-T-{next(_seq):06d}",
        agency_id=agency_id,
        type=str(kind),
        status=str(RequestStatus(status)),
        is_open=RequestStatus(status).is_open,
        legal_basis="Proceeds of Crime Act 2002 s.303Z",
        jurisdiction="England and Wales",
        case_reference="NCA/123",
        subjects_digest="0" * 64,
        received_at=now,
        sla_due_at=now + kind.sla,
        sla_warn_at=now + kind.sla * SLA_WARNING_SHARE,
        verification_state=str(VerificationState.CONFIRMED),
        notification_state=str(NotificationState.QUEUED),
    )
    session.add(order)
    session.commit()
    return order


def actor_of(account: UserAccount) -> Actor:
    return Actor(user_id=account.user.id, name=account.username)


def freeze_data(customer_id: str, case_id: int | None, **overrides: object) -> FreezeCreate:
    """A freeze request on a case decision (``overrides`` may change anything, the basis too)."""
    values: dict[str, object] = {
        "customer_id": customer_id,
        "scope": "account",
        "case_id": case_id,
        "reason": "funds from the ransomware payment",
        "review_at": utcnow() + timedelta(days=30),
        "expires_at": utcnow() + timedelta(days=90),
    }
    values.update(overrides)
    return FreezeCreate.model_validate(values)
