"""Helpers of the requests tests: verified officers, staff with API tokens, signed PDFs."""

from __future__ import annotations

import io
import itertools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from httpx2 import Response
from reportlab.pdfgen import canvas
from sqlalchemy.orm import Session

from chainsleuth.auth import service as user_service
from chainsleuth.auth import tokens as token_service
from chainsleuth.auth.enums import ROLE_PERMISSIONS, Role
from chainsleuth.auth.models import User
from chainsleuth.auth.schemas import UserCreate
from chainsleuth.core.config import Settings
from chainsleuth.core.models import utcnow
from chainsleuth.officers import service as officer_service
from chainsleuth.officers.enums import OfficerStatus
from chainsleuth.officers.models import Officer
from chainsleuth.orgs.models import Agency
from factories import PASSWORD, SYSTEM, Account, _enrol, bearer, make_agency, make_user

_seq = itertools.count(1)

BTC_ADDR = "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2"
ETH_ADDR = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
BTC_TX = "a1075db55d416d3ca199f55b6084e2115b9345e16c5cf302fc80e9d5fbf5d48d"


def pdf_bytes(text: str = "Order to produce records") -> bytes:
    buf = io.BytesIO()
    c = canvas.Canvas(buf)
    c.drawString(72, 720, text)
    c.showPage()
    c.save()
    return buf.getvalue()


@dataclass
class Actor:
    account: Account
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return bearer(self.token)

    @property
    def id(self) -> int:
        return self.account.user.id


def _token(session: Session, account: Account) -> str:
    issued = token_service.create(
        session,
        actor=SYSTEM,
        user=account.user,
        name="tests",
        scopes=sorted(ROLE_PERMISSIONS[account.user.role]),
        days=30,
    )
    return issued.token


def _approved_officer_record(session: Session, user: User) -> None:
    """What an approved sign-up leaves behind (the officers domain's record of it)."""
    now = utcnow()
    session.add(
        Officer(
            agency_id=user.agency_id,
            email=user.email,
            username=user.username,
            full_name=user.full_name,
            status=str(OfficerStatus.APPROVED),
            email_verified_at=now,
            verified_until=now + timedelta(days=180),
            decided_at=now,
            user_id=user.id,
        )
    )
    session.commit()


def verified_officer(
    session: Session, settings: Settings, agency: Agency | None = None, *, verified: bool = True
) -> Actor:
    """An officer signed up from the agency's domain, approved, MFA on: a verified sender."""
    agency = agency or make_agency(session)
    name = f"officer{next(_seq)}"
    user = user_service.create_user(
        session,
        actor=SYSTEM,
        data=UserCreate(
            username=name,
            email=f"{name}@{agency.email_domains[0]}",
            full_name=f"Officer {name.title()}",
            role=Role.LE_OFFICER,
            password=PASSWORD,
            agency_id=agency.id,
        ),
    )
    secret = user_service.start_mfa_enrolment(session, settings=settings, user=user)
    assert _enrol(session, settings, user, secret)
    account = Account(user=user, password=PASSWORD, totp_secret=secret)
    if verified:
        _approved_officer_record(session, user)
        assert officer_service.is_verified_sender(session, user_id=user.id)
    return Actor(account, _token(session, account))


def staff(session: Session, settings: Settings, role: Role = Role.INVESTIGATOR) -> Actor:
    account = make_user(session, settings, role=role)
    return Actor(account, _token(session, account))


def form(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "type": "information_request",
        "legal_basis": "Section 9 of the Proceeds of Crime Act",
        "jurisdiction": "England and Wales",
        "case_reference": f"CASE-{next(_seq)}",
        "deadline": (datetime.now(UTC) + timedelta(days=20)).isoformat(),
        "subjects": f"email: Alice@Example.org\nbtc: {BTC_ADDR}\n",
    }
    values.update(overrides)
    return {k: v for k, v in values.items() if v is not None}


def submit(
    client: TestClient,
    officer: Actor,
    *,
    document: bytes | None = None,
    files: dict[str, Any] | None = None,
    **fields: Any,
) -> Response:
    upload = {
        "document": ("order.pdf", pdf_bytes() if document is None else document, "application/pdf")
    }
    upload.update(files or {})
    return client.post(
        "/api/v1/requests", data=form(**fields), files=upload, headers=officer.headers
    )


def move(client: TestClient, who: Actor, request_id: int, status: str, **extra: Any) -> Response:
    return client.post(
        f"/api/v1/requests/{request_id}/transitions",
        json={"status": status, **extra},
        headers=who.headers,
    )
