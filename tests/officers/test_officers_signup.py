"""Officer sign-up: only from an official domain of a registered, active agency; the e-mail
link is random, stored hashed, expires after 24 hours and works once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from chainsleuth.audit.models import AuditEvent
from chainsleuth.core.config import Settings
from chainsleuth.core.crypto import token_hash
from chainsleuth.core.errors import Conflict, InvalidInput
from chainsleuth.core.models import utcnow
from chainsleuth.officers import domains, mail
from chainsleuth.officers import service as officer_service
from chainsleuth.officers.enums import OfficerStatus
from chainsleuth.officers.models import MailMessage, Officer, OfficerToken, VerificationFailure
from chainsleuth.officers.schemas import OfficerSignup
from chainsleuth.orgs import service as org_service
from chainsleuth.orgs.models import Agency
from chainsleuth.orgs.schemas import AgencyCreate, AgencyUpdate
from factories import SYSTEM, outbox_link

BASE = "http://portal.example"


@pytest.fixture
def agency(session: Session) -> Agency:
    return org_service.create_agency(
        session,
        actor=SYSTEM,
        data=AgencyCreate(name="Cyber Crime Unit", country="GB", email_domains=["ccu.police.uk"]),
    )


def signup(session: Session, settings: Settings, email: str, username: str = "jane.doe") -> Officer:
    return officer_service.signup(
        session,
        settings=settings,
        data=OfficerSignup(full_name="Jane Doe", email=email, username=username, title="DS"),
        base_url=BASE,
        ip="198.51.100.7",
    )


def denied(session: Session) -> list[AuditEvent]:
    return list(
        session.scalars(
            select(AuditEvent).where(
                AuditEvent.action == "officer.signup", AuditEvent.outcome == "denied"
            )
        )
    )


def test_signup_from_the_agency_domain(
    session: Session, settings: Settings, agency: Agency
) -> None:
    officer = signup(session, settings, "Jane.Doe@CCU.police.uk")
    assert officer.email == "jane.doe@ccu.police.uk"
    assert officer.agency_id == agency.id
    assert officer.status == OfficerStatus.PENDING_VERIFICATION
    assert officer.user_id is None and officer.email_verified_at is None

    # one mail in the outbox, with a link whose token is stored only as its hash
    [message] = mail.outbox(session, settings=settings)
    assert message.to == officer.email and message.template == "officer.signup"
    token = outbox_link(session, settings, officer.email, "/officers/verify")
    assert f"{BASE}/officers/verify?token={token}" in message.body
    [stored] = session.scalars(select(OfficerToken)).all()
    assert stored.token_hash == token_hash(token) and token not in stored.token_hash
    assert stored.expires_at - stored.created_at == timedelta(hours=24)
    # the body is encrypted at rest: the link is not readable in the table
    raw = session.scalar(select(MailMessage.body))
    assert raw is not None and token not in raw and "verify" not in raw
    event = session.scalar(select(AuditEvent).where(AuditEvent.action == "officer.signup"))
    assert event is not None and event.outcome == "success"


def test_signup_from_a_subdomain(session: Session, settings: Settings, agency: Agency) -> None:
    officer = signup(session, settings, "sam@fraud.ccu.police.uk", username="sam")
    assert officer.agency_id == agency.id


@pytest.mark.parametrize(
    "email", ["jane@gmail.com", "jane@yahoo.co.uk", "jane@proton.me", "jane@mail.yahoo.fr"]
)
def test_webmail_is_refused_and_audited(
    session: Session, settings: Settings, agency: Agency, email: str
) -> None:
    with pytest.raises(InvalidInput, match="free webmail"):
        signup(session, settings, email)
    assert session.scalar(select(func.count()).select_from(Officer)) == 0
    assert session.scalar(select(func.count()).select_from(MailMessage)) == 0
    [event] = denied(session)
    assert event.details and '"reason":"webmail"' in event.details.replace(" ", "")


@pytest.mark.parametrize(
    "email", ["jane@police.uk", "jane@evilccu.police.uk", "j@ccu.police.uk.evil.example"]
)
def test_unknown_and_lookalike_domains_are_refused_and_audited(
    session: Session, settings: Settings, agency: Agency, email: str
) -> None:
    with pytest.raises(InvalidInput, match="not an official e-mail domain of a registered agency"):
        signup(session, settings, email)
    assert session.scalar(select(func.count()).select_from(Officer)) == 0
    [event] = denied(session)
    assert "unknown domain" in event.details and email.split("@")[1] in event.details


def test_a_suspended_agency_takes_no_signups(
    session: Session, settings: Settings, agency: Agency
) -> None:
    org_service.update_agency(
        session, actor=SYSTEM, agency_id=agency.id, data=AgencyUpdate(status="suspended")
    )
    with pytest.raises(InvalidInput, match="not accepting sign-ups"):
        signup(session, settings, "jane@ccu.police.uk")
    assert len(denied(session)) == 1


def test_webmail_cannot_be_an_official_domain() -> None:
    assert domains.is_webmail("gmail.com") and domains.is_webmail("outlook.de")
    assert not domains.is_webmail("police.uk") and not domains.is_webmail("yahoo-police.gov")
    with pytest.raises(ValueError, match="free webmail"):
        AgencyCreate(name="Fake Agency", country="GB", email_domains=["gmail.com"])


def test_duplicates_are_refused(session: Session, settings: Settings, agency: Agency) -> None:
    first = signup(session, settings, "jane@ccu.police.uk")
    with pytest.raises(Conflict, match="username"):
        signup(session, settings, "other@ccu.police.uk", username="jane.doe")
    # signing up again before the link was used sends a fresh link; the old one stops working
    old = outbox_link(session, settings, first.email, "/officers/verify")
    again = signup(session, settings, "jane@ccu.police.uk", username="jane.d")
    assert again.id == first.id and again.username == "jane.d"
    new = outbox_link(session, settings, first.email, "/officers/verify")
    assert new != old
    with pytest.raises(InvalidInput, match="expired"):
        officer_service.verify_email(session, token=old, ip=None)
    officer_service.verify_email(session, token=new, ip=None)
    with pytest.raises(Conflict, match="exists already"):
        signup(session, settings, "jane@ccu.police.uk", username="jane.e")


def test_the_link_works_once(session: Session, settings: Settings, agency: Agency) -> None:
    officer = signup(session, settings, "jane@ccu.police.uk")
    token = outbox_link(session, settings, officer.email, "/officers/verify")
    verified = officer_service.verify_email(session, token=token, ip=None)
    assert verified.status == OfficerStatus.PENDING_APPROVAL
    assert verified.email_verified_at is not None
    assert verified.verified_until is not None
    assert verified.verified_until - verified.email_verified_at == timedelta(days=180)
    with pytest.raises(InvalidInput, match="used already"):
        officer_service.verify_email(session, token=token, ip=None)
    with pytest.raises(InvalidInput, match="not valid"):
        officer_service.verify_email(session, token="x" * 43, ip=None)
    failures = session.scalars(select(VerificationFailure)).all()
    assert [f.kind for f in failures] == ["email"]  # the unknown token names no officer
    assert (
        session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == "officer.verify_email", AuditEvent.outcome == "failure")
        )
        == 2
    )


def test_the_link_expires_after_24_hours(
    session: Session, settings: Settings, agency: Agency
) -> None:
    officer = signup(session, settings, "jane@ccu.police.uk")
    token = outbox_link(session, settings, officer.email, "/officers/verify")
    stored = session.scalar(select(OfficerToken))
    assert stored is not None
    stored.expires_at = utcnow() - timedelta(seconds=1)
    session.commit()
    with pytest.raises(InvalidInput, match="expired"):
        officer_service.verify_email(session, token=token, ip=None)
    session.refresh(officer)
    assert officer.status == OfficerStatus.PENDING_VERIFICATION
    assert officer.email_verified_at is None
