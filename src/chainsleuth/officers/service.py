"""Officers: sign-up, e-mail verification, approval, re-verification; sender confidence.

The life of an officer::

    sign-up (official domain of an active agency; webmail and unknown domains refused and
    audited) -> e-mail link (24 h, single use) -> pending approval -> approved by an
    administrator (the User is created, role le_officer) -> activation link: the officer
    chooses a password -> first sign-in enrols MFA -> every VERIFIED_DAYS the e-mail
    address is verified again (``chainsleuth officers due``).

Each state change is written with its audit event and its mail (outbox) in one transaction.
Other domains use ``is_verified_sender``, ``sender_confidence``,
``record_verification_failure`` and ``agency_scope``.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from chainsleuth.audit import service as audit
from chainsleuth.audit.enums import Outcome
from chainsleuth.audit.service import Actor
from chainsleuth.auth import service as user_service
from chainsleuth.auth.enums import Role
from chainsleuth.auth.models import User
from chainsleuth.auth.schemas import UserCreate
from chainsleuth.core.config import Settings
from chainsleuth.core.errors import Conflict, InvalidInput, NotFound
from chainsleuth.core.models import utcnow
from chainsleuth.officers import domains, links, mail
from chainsleuth.officers.enums import FailureKind, OfficerStatus, TokenPurpose
from chainsleuth.officers.models import Officer, VerificationFailure
from chainsleuth.officers.schemas import OfficerSignup
from chainsleuth.officers.senders import (
    Confidence,
    agency_scope,
    in_scope,
    is_lapsed,
    is_verified_sender,
    login_refusal,
    must_enrol_mfa,
    officer_for_user,
    record_verification_failure,
    sender_confidence,
    sender_problems,
    user_of,
)
from chainsleuth.orgs import service as org_service
from chainsleuth.orgs.enums import AgencyStatus
from chainsleuth.orgs.models import Agency

__all__ = [
    "Confidence",
    "activate",
    "agency_for_domain",
    "agency_scope",
    "approve",
    "due",
    "in_scope",
    "is_lapsed",
    "is_verified_sender",
    "list_officers",
    "login_refusal",
    "must_enrol_mfa",
    "officer_for_user",
    "record_verification_failure",
    "reject",
    "request_reverification",
    "require_officer",
    "send_due_reverifications",
    "send_reverification",
    "sender_confidence",
    "sender_problems",
    "signup",
    "verify_email",
]

#: how long a verified e-mail address counts as verified
VERIFIED_DAYS = 180


# --- sign-up ---------------------------------------------------------------------------------


def agency_for_domain(session: Session, domain: str) -> tuple[Agency, str] | None:
    """The registered agency whose official domain ``domain`` is (or is under), with that
    domain; the longest official domain wins (``cyber.police.example`` over ``police.example``)."""
    best: tuple[Agency, str] | None = None
    for agency in org_service.list_agencies(session):
        official = domains.matches(domain, agency.email_domains)
        if official is not None and (best is None or len(official) > len(best[1])):
            best = (agency, official)
    return best


def _refuse_signup(
    session: Session, *, actor: Actor, email: str, reason: str, message: str
) -> InvalidInput:
    audit.record(
        session,
        actor=actor,
        action="officer.signup",
        outcome=Outcome.DENIED,
        object_type="officer",
        details={"email": email, "domain": domains.email_domain(email), "reason": reason},
    )
    session.commit()
    return InvalidInput(message)


def signup(
    session: Session,
    *,
    settings: Settings,
    data: OfficerSignup,
    base_url: str,
    ip: str | None,
) -> Officer:
    """Register a sign-up and send the verification link; refused sign-ups are audited."""
    actor = Actor.anonymous(ip=ip)
    email = str(data.email).lower()
    domain = domains.email_domain(email)
    if domains.is_webmail(domain):
        raise _refuse_signup(
            session,
            actor=actor,
            email=email,
            reason="webmail",
            message=f"{domain} is a free webmail provider: sign up with the official e-mail "
            "address your agency gave you",
        )
    found = agency_for_domain(session, domain)
    if found is None:
        raise _refuse_signup(
            session,
            actor=actor,
            email=email,
            reason="unknown domain",
            message=f"{domain} is not an official e-mail domain of a registered agency: ask the "
            "exchange to register your agency first",
        )
    agency, _official = found
    if agency.status != AgencyStatus.ACTIVE:
        raise _refuse_signup(
            session,
            actor=actor,
            email=email,
            reason="agency suspended",
            message=f"{agency.name} is not accepting sign-ups at present",
        )
    officer = session.scalar(select(Officer).where(Officer.email == email))
    if officer is not None and officer.status != OfficerStatus.PENDING_VERIFICATION:
        raise Conflict("a sign-up for this e-mail address exists already")
    if session.scalar(select(User.id).where(User.email == email)) is not None:
        raise Conflict("an account with this e-mail address exists already")
    taken = session.scalar(select(Officer.id).where(Officer.username == data.username))
    if (taken is not None and (officer is None or taken != officer.id)) or (
        user_service.get_by_username(session, data.username) is not None
    ):
        raise Conflict(f"the username {data.username!r} is taken")
    again = officer is not None
    if officer is None:
        officer = Officer(email=email, status=str(OfficerStatus.PENDING_VERIFICATION))
        session.add(officer)
    officer.agency_id = agency.id
    officer.agency = agency
    officer.username = data.username
    officer.full_name = data.full_name
    officer.title = data.title
    officer.phone = data.phone
    officer.signup_ip = ip
    session.flush()
    token = links.issue(session, officer=officer, purpose=TokenPurpose.SIGNUP)
    _mail_link(
        session,
        settings,
        officer,
        TokenPurpose.SIGNUP,
        links.url(base_url, TokenPurpose.SIGNUP, token),
    )
    audit.record(
        session,
        actor=actor,
        action="officer.signup",
        object_type="officer",
        object_id=officer.id,
        details={"email": email, "agency_id": agency.id, "repeated": again},
    )
    session.commit()
    return officer


_MAILS = {
    TokenPurpose.SIGNUP: (
        "Confirm your e-mail address for chainsleuth",
        "You asked for an officer account for {agency}. Open this link within 24 hours to "
        "confirm your address; an administrator then reviews your sign-up:\n\n{url}\n",
    ),
    TokenPurpose.REVERIFY: (
        "Verify your e-mail address again for chainsleuth",
        "Officers verify their official e-mail address every {days} days. Open this link "
        "within 24 hours to go on sending requests for {agency}:\n\n{url}\n",
    ),
    TokenPurpose.ACTIVATE: (
        "Your chainsleuth officer account is approved",
        "Your officer account for {agency} is approved. Open this link within 72 hours to "
        "choose your password; at your first sign-in you set up a second factor:\n\n{url}\n",
    ),
}


def _mail_link(
    session: Session, settings: Settings, officer: Officer, purpose: TokenPurpose, url: str
) -> None:
    subject, body = _MAILS[purpose]
    mail.queue(
        session,
        settings=settings,
        to=officer.email,
        subject=subject,
        body=f"Dear {officer.full_name},\n\n"
        + body.format(agency=officer.agency.name, url=url, days=VERIFIED_DAYS),
        template=f"officer.{purpose}",
    )


# --- links: verification and activation ------------------------------------------------------


def _failure(
    session: Session,
    *,
    actor: Actor,
    officer: Officer | None,
    action: str,
    reason: str,
    kind: FailureKind = FailureKind.EMAIL,
) -> None:
    if officer is not None:
        session.add(
            VerificationFailure(
                officer_id=officer.id,
                user_id=officer.user_id,
                kind=str(kind),
                note=reason,
                recorded_by=actor.name,
                recorded_at=utcnow(),
            )
        )
    audit.record(
        session,
        actor=actor,
        action=action,
        outcome=Outcome.FAILURE,
        object_type="officer" if officer else None,
        object_id=officer.id if officer else None,
        details={"reason": reason},
    )
    session.commit()


def check_link(session: Session, *, token: str, purposes: Sequence[TokenPurpose]) -> Officer:
    """The officer a live link belongs to, without using it (for the confirmation page)."""
    record = links.find(session, token)
    if record is None or record.purpose not in {str(p) for p in purposes}:
        raise InvalidInput("this link is not valid")
    if record.used_at is not None:
        raise InvalidInput("this link has been used already")
    if record.expires_at <= utcnow():
        raise InvalidInput("this link has expired: ask for a new one")
    return record.officer


def _use_link(
    session: Session, *, token: str, purposes: Sequence[TokenPurpose], actor: Actor, action: str
) -> tuple[Officer, TokenPurpose]:
    record = links.find(session, token)
    officer = record.officer if record is not None else None
    try:
        officer = check_link(session, token=token, purposes=purposes)
    except InvalidInput as exc:
        _failure(session, actor=actor, officer=officer, action=action, reason=exc.message)
        raise
    assert record is not None
    record.used_at = utcnow()
    return officer, TokenPurpose(record.purpose)


def verify_email(session: Session, *, token: str, ip: str | None) -> Officer:
    """Use a sign-up or re-verification link: the address is verified for VERIFIED_DAYS."""
    actor = Actor.anonymous(ip=ip)
    officer, purpose = _use_link(
        session,
        token=token,
        purposes=(TokenPurpose.SIGNUP, TokenPurpose.REVERIFY),
        actor=actor,
        action="officer.verify_email",
    )
    agency = officer.agency
    if agency.status != AgencyStatus.ACTIVE or (
        domains.matches(domains.email_domain(officer.email), agency.email_domains) is None
    ):
        session.rollback()
        _failure(
            session,
            actor=actor,
            officer=officer,
            action="officer.verify_email",
            reason="the address is no longer on an official domain of an active agency",
            kind=FailureKind.DOMAIN,
        )
        raise InvalidInput(
            "your address is no longer on an official domain of an active agency: contact "
            "the exchange"
        )
    now = utcnow()
    officer.email_verified_at = now
    officer.verified_until = now + timedelta(days=VERIFIED_DAYS)
    if purpose is TokenPurpose.SIGNUP and officer.status == OfficerStatus.PENDING_VERIFICATION:
        officer.status = str(OfficerStatus.PENDING_APPROVAL)
    audit.record(
        session,
        actor=Actor(user_id=officer.user_id, name=officer.username, ip=ip),
        action="officer.verify_email" if purpose is TokenPurpose.SIGNUP else "officer.reverify",
        object_type="officer",
        object_id=officer.id,
        details={"verified_until": officer.verified_until.isoformat()},
    )
    session.commit()
    return officer


def activate(session: Session, *, token: str, password: str, ip: str | None) -> Officer:
    """Use the activation link: the approved officer chooses a password."""
    actor = Actor.anonymous(ip=ip)
    officer = check_link(session, token=token, purposes=(TokenPurpose.ACTIVATE,))
    user = user_of(session, officer)
    # the policy first: a weak password leaves the link usable for a better one
    from chainsleuth.auth.passwords import check_policy

    check_policy(password, username=officer.username)
    officer, _ = _use_link(
        session,
        token=token,
        purposes=(TokenPurpose.ACTIVATE,),
        actor=actor,
        action="officer.activate",
    )
    user_service.set_password(  # commits the link's use with the password
        session,
        actor=Actor(user_id=user.id, name=user.username, ip=ip),
        user=user,
        password=password,
    )
    return officer


# --- administration --------------------------------------------------------------------------


def require_officer(session: Session, officer_id: int) -> Officer:
    officer = session.get(Officer, officer_id)
    if officer is None:
        raise NotFound(f"no officer sign-up with id {officer_id}")
    return officer


def list_officers(
    session: Session, *, status: str | None = None, agency_id: int | None = None
) -> Sequence[Officer]:
    stmt = select(Officer).order_by(Officer.created_at.desc(), Officer.id.desc())
    if status:
        stmt = stmt.where(Officer.status == status)
    if agency_id is not None:
        stmt = stmt.where(Officer.agency_id == agency_id)
    return session.scalars(stmt).all()


def _random_password(username: str) -> str:
    while True:
        candidate = secrets.token_urlsafe(32)
        if username.lower() not in candidate.lower():
            return candidate


def approve(
    session: Session,
    *,
    settings: Settings,
    actor: Actor,
    officer_id: int,
    base_url: str,
    note: str = "",
) -> Officer:
    """Approve a verified sign-up: the User (role le_officer) is created and an activation
    link sent. The sign-up's approval, its mail and the new User commit together."""
    officer = require_officer(session, officer_id)
    if officer.status != OfficerStatus.PENDING_APPROVAL:
        raise Conflict(
            f"this sign-up is {officer.status.replace('_', ' ')}, not waiting for approval"
        )
    if officer.agency.status != AgencyStatus.ACTIVE:
        raise Conflict(f"{officer.agency.name} is suspended: its officers cannot be approved")
    now = utcnow()
    officer.status = str(OfficerStatus.APPROVED)
    officer.decided_at = now
    officer.decided_by = actor.user_id
    officer.decision_note = note or None
    token = links.issue(session, officer=officer, purpose=TokenPurpose.ACTIVATE)
    _mail_link(
        session,
        settings,
        officer,
        TokenPurpose.ACTIVATE,
        links.url(base_url, TokenPurpose.ACTIVATE, token),
    )
    audit.record(
        session,
        actor=actor,
        action="officer.approve",
        object_type="officer",
        object_id=officer.id,
        details={"username": officer.username, "agency_id": officer.agency_id, "note": note},
    )
    # create_user flushes the User, audits it and commits everything above with it
    user = user_service.create_user(
        session,
        actor=actor,
        data=UserCreate(
            username=officer.username,
            email=officer.email,
            full_name=officer.full_name,
            role=Role.LE_OFFICER,
            password=_random_password(officer.username),
            agency_id=officer.agency_id,
        ),
    )
    officer.user_id = user.id
    session.commit()
    return officer


def reject(
    session: Session, *, settings: Settings, actor: Actor, officer_id: int, note: str
) -> Officer:
    officer = require_officer(session, officer_id)
    if officer.status not in (OfficerStatus.PENDING_APPROVAL, OfficerStatus.PENDING_VERIFICATION):
        raise Conflict(f"this sign-up is {officer.status.replace('_', ' ')}: it cannot be rejected")
    if not note.strip():
        raise InvalidInput("give the reason for the rejection")
    officer.status = str(OfficerStatus.REJECTED)
    officer.decided_at = utcnow()
    officer.decided_by = actor.user_id
    officer.decision_note = note.strip()
    mail.queue(
        session,
        settings=settings,
        to=officer.email,
        subject="Your chainsleuth officer sign-up",
        body=f"Dear {officer.full_name},\n\nyour sign-up for {officer.agency.name} was not "
        f"approved: {officer.decision_note}\n",
        template="officer.rejected",
    )
    audit.record(
        session,
        actor=actor,
        action="officer.reject",
        object_type="officer",
        object_id=officer.id,
        details={"note": officer.decision_note},
    )
    session.commit()
    return officer


# --- re-verification -------------------------------------------------------------------------


def due(session: Session, *, within_days: int = 14) -> Sequence[Officer]:
    """Approved officers whose verification has lapsed or lapses within ``within_days``."""
    horizon = utcnow() + timedelta(days=within_days)
    stmt = (
        select(Officer)
        .where(Officer.status == OfficerStatus.APPROVED, Officer.verified_until <= horizon)
        .order_by(Officer.verified_until, Officer.id)
    )
    return session.scalars(stmt).all()


def send_reverification(
    session: Session, *, settings: Settings, actor: Actor, officer: Officer, base_url: str
) -> None:
    """Mail a new verification link to an approved officer (the caller commits)."""
    token = links.issue(session, officer=officer, purpose=TokenPurpose.REVERIFY)
    _mail_link(
        session,
        settings,
        officer,
        TokenPurpose.REVERIFY,
        links.url(base_url, TokenPurpose.REVERIFY, token),
    )
    audit.record(
        session,
        actor=actor,
        action="officer.reverify_requested",
        object_type="officer",
        object_id=officer.id,
        details={
            "verified_until": officer.verified_until.isoformat() if officer.verified_until else None
        },
    )


def send_due_reverifications(
    session: Session, *, settings: Settings, actor: Actor, base_url: str, within_days: int = 14
) -> list[Officer]:
    """One link to each officer due who has no live link yet; one transaction."""
    sent = []
    for officer in due(session, within_days=within_days):
        if links.has_live(session, officer=officer, purpose=TokenPurpose.REVERIFY):
            continue
        send_reverification(
            session, settings=settings, actor=actor, officer=officer, base_url=base_url
        )
        sent.append(officer)
    session.commit()
    return sent


def request_reverification(
    session: Session, *, settings: Settings, email: str, base_url: str, ip: str | None
) -> None:
    """The public "send me a new link" form. It says the same whatever the address (no
    enumeration of officers); a link goes only to an approved officer."""
    actor = Actor.anonymous(ip=ip)
    officer = session.scalar(select(Officer).where(Officer.email == email.strip().lower()))
    if officer is None or officer.status != OfficerStatus.APPROVED:
        audit.record(
            session,
            actor=actor,
            action="officer.reverify_requested",
            outcome=Outcome.FAILURE,
            details={"email": email.strip().lower()[:254], "reason": "no approved officer"},
        )
    else:
        send_reverification(
            session, settings=settings, actor=actor, officer=officer, base_url=base_url
        )
    session.commit()


def officer_summary(officer: Officer) -> dict[str, Any]:
    return {
        "id": officer.id,
        "username": officer.username,
        "email": officer.email,
        "agency": officer.agency.name,
        "status": officer.status,
        "verified_until": officer.verified_until,
    }
