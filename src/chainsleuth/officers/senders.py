"""Senders of requests: whether an officer is verified, how far to trust them, their
failures, and which agency's objects a principal may see. Used by other domains through
``chainsleuth.officers.service``, which re-exports all of it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from chainsleuth.audit import service as audit
from chainsleuth.audit.enums import Outcome
from chainsleuth.audit.service import Actor
from chainsleuth.auth.enums import Role
from chainsleuth.auth.models import User
from chainsleuth.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from chainsleuth.core.models import utcnow
from chainsleuth.officers import domains
from chainsleuth.officers.enums import ConfidenceRating, FailureKind, OfficerStatus
from chainsleuth.officers.models import Officer, VerificationFailure
from chainsleuth.orgs.enums import AgencyStatus

#: audit actions of the requests domain that count as "requests made" by a sender
REQUEST_ACTIONS = ("request.submit",)


def is_lapsed(officer: Officer, *, at: datetime | None = None) -> bool:
    return officer.verified_until is None or officer.verified_until <= (at or utcnow())


# --- the officer behind a user ---------------------------------------------------------------


def officer_for_user(session: Session, *, user_id: int) -> Officer | None:
    officer = session.scalar(select(Officer).where(Officer.user_id == user_id))
    if officer is not None:
        return officer
    # approval commits the User with the approved sign-up, then links the two: should that
    # second commit have been lost, the sign-up is found by its (unique) username and e-mail
    user = session.get(User, user_id)
    if user is None or user.role is not Role.LE_OFFICER:
        return None
    return session.scalar(
        select(Officer).where(
            Officer.user_id.is_(None),
            Officer.status == OfficerStatus.APPROVED,
            Officer.username == user.username,
            Officer.email == user.email,
        )
    )


def user_of(session: Session, officer: Officer) -> User:
    if officer.user_id is not None:
        user = session.get(User, officer.user_id)
    else:
        user = session.scalar(
            select(User).where(User.username == officer.username, User.email == officer.email)
        )
    if user is None or user.role is not Role.LE_OFFICER:
        raise Conflict("this officer has no account yet")
    return user


def login_refusal(session: Session, *, user: User) -> str | None:
    """Why a signed-up officer may not sign in now (None: they may). Users who never went
    through the sign-up (created by an administrator) are not affected."""
    officer = officer_for_user(session, user_id=user.id)
    if officer is None:
        return None
    if officer.status != OfficerStatus.APPROVED:
        return f"your officer account is {officer.status.replace('_', ' ')}"
    if officer.agency.status != AgencyStatus.ACTIVE:
        return f"access for {officer.agency.name} is suspended: contact the exchange"
    if is_lapsed(officer):
        return (
            "your e-mail verification has lapsed: ask for a new link at /officers/reverify "
            "and open it, then sign in again"
        )
    return None


def must_enrol_mfa(session: Session, *, user: User) -> bool:
    """Signed-up officers always need a second factor, in the demo world as well."""
    return user.role is Role.LE_OFFICER and officer_for_user(session, user_id=user.id) is not None


# --- what other domains use ------------------------------------------------------------------


def sender_problems(session: Session, *, user_id: int) -> list[str]:
    """Why a user is not a verified sender (empty: verified)."""
    user = session.get(User, user_id)
    if user is None:
        return ["no such user"]
    if user.role is not Role.LE_OFFICER:
        return ["not a law-enforcement officer"]
    problems = []
    if not user.is_active:
        problems.append("the account is disabled")
    officer = officer_for_user(session, user_id=user_id)
    if officer is None:
        return [*problems, "never verified through the officer sign-up"]
    if officer.status != OfficerStatus.APPROVED:
        problems.append(f"the sign-up is {officer.status.replace('_', ' ')}")
    if officer.email_verified_at is None:
        problems.append("the e-mail address is not verified")
    elif is_lapsed(officer):
        problems.append("the e-mail verification has lapsed")
    if not user.mfa_enabled:
        problems.append("no second factor (MFA)")
    if officer.agency.status != AgencyStatus.ACTIVE:
        problems.append(f"{officer.agency.name} is suspended")
    if domains.matches(domains.email_domain(user.email), officer.agency.email_domains) is None:
        problems.append("the e-mail address is not on an official domain of the agency")
    return problems


def is_verified_sender(session: Session, *, user_id: int) -> bool:
    """Approved, e-mail verified and not lapsed, MFA on, agency active, domain matching."""
    return not sender_problems(session, user_id=user_id)


@dataclass(frozen=True)
class Confidence:
    """How far a reviewer may trust a sender, and the facts the rating rests on."""

    user_id: int
    rating: ConfidenceRating
    verified_sender: bool
    account_age_days: int
    requests_made: int
    verification_failures: int
    callback_failures: int
    #: "exact", "subdomain" or "none": the address against the agency's official domains
    domain_match: str
    verified_until: datetime | None
    reasons: list[str] = field(default_factory=list)


def _failure_counts(session: Session, *, user_id: int, officer: Officer | None) -> dict[str, int]:
    who = VerificationFailure.user_id == user_id
    if officer is not None:
        who = who | (VerificationFailure.officer_id == officer.id)
    rows = session.execute(
        select(VerificationFailure.kind, func.count()).where(who).group_by(VerificationFailure.kind)
    )
    return {kind: int(n) for kind, n in rows}


def sender_confidence(
    session: Session, *, user_id: int, requests_made: int | None = None
) -> Confidence:
    """The rating shown to a reviewer beside a request.

    unverified: not a verified sender (see ``sender_problems``); low: a failed call-back,
    three or more failed verifications, or an account younger than 7 days; high: an account
    of 90 days or more with 5 or more requests, no failure and an exact domain match;
    medium otherwise. ``requests_made`` defaults to the sender's submissions in the audit
    log (``REQUEST_ACTIONS``); the requests domain may pass its own count.
    """
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"no user with id {user_id}")
    officer = officer_for_user(session, user_id=user_id)
    problems = sender_problems(session, user_id=user_id)
    since = officer.created_at if officer is not None else user.created_at
    age = max(0, (utcnow() - since).days)
    if requests_made is None:
        requests_made = sum(
            audit.count(session, flt=audit.AuditFilter(actor_id=user_id, action=a))
            for a in REQUEST_ACTIONS
        )
    failures = _failure_counts(session, user_id=user_id, officer=officer)
    callback = failures.get(str(FailureKind.CALLBACK), 0)
    total = sum(failures.values())
    agency_domains = user.agency.email_domains if user.agency is not None else []
    official = domains.matches(domains.email_domain(user.email), agency_domains)
    match = (
        "none"
        if official is None
        else ("exact" if official == domains.email_domain(user.email) else "subdomain")
    )
    reasons: list[str] = list(problems)
    if problems:
        rating = ConfidenceRating.UNVERIFIED
    elif callback or total >= 3 or age < 7:
        rating = ConfidenceRating.LOW
        if callback:
            reasons.append(f"{callback} failed call-back(s) to the agency")
        if total >= 3:
            reasons.append(f"{total} failed verifications")
        if age < 7:
            reasons.append(f"account only {age} day(s) old")
    elif age >= 90 and requests_made >= 5 and total == 0 and match == "exact":
        rating = ConfidenceRating.HIGH
        reasons.append(f"{age} days verified, {requests_made} requests, no failure")
    else:
        rating = ConfidenceRating.MEDIUM
        if total:
            reasons.append(f"{total} failed verification(s)")
        if age < 90:
            reasons.append(f"account {age} days old")
        if requests_made < 5:
            reasons.append(f"{requests_made} request(s) so far")
        if match == "subdomain":
            reasons.append("address on a subdomain of the official domain")
    return Confidence(
        user_id=user_id,
        rating=rating,
        verified_sender=not problems,
        account_age_days=age,
        requests_made=requests_made,
        verification_failures=total,
        callback_failures=callback,
        domain_match=match,
        verified_until=officer.verified_until if officer is not None else None,
        reasons=reasons,
    )


def record_verification_failure(
    session: Session, *, user_id: int, kind: FailureKind | str, actor: Actor, note: str = ""
) -> VerificationFailure:
    """Record a failed check of a sender (a call-back the agency did not confirm, ...), with
    its audit event, in the caller's transaction: the caller commits."""
    try:
        kind = FailureKind(kind)
    except ValueError as exc:
        raise InvalidInput(f"unknown verification failure kind {kind!r}") from exc
    if session.get(User, user_id) is None:
        raise NotFound(f"no user with id {user_id}")
    officer = officer_for_user(session, user_id=user_id)
    failure = VerificationFailure(
        officer_id=officer.id if officer is not None else None,
        user_id=user_id,
        kind=str(kind),
        note=note[:1000],
        recorded_by=actor.name,
        recorded_at=utcnow(),
    )
    session.add(failure)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="officer.verification_failure",
        outcome=Outcome.FAILURE,
        object_type="user",
        object_id=user_id,
        details={"kind": str(kind), "note": note[:1000]},
    )
    return failure


class HasUser(Protocol):
    @property
    def user(self) -> User: ...


def agency_scope(principal: HasUser) -> int | None:
    """The agency whose objects a principal may see: None for exchange staff (all), the
    officer's agency otherwise. Anyone else (partners, trainees without an agency) is
    refused. Callers filter by it and answer 404 for another agency's objects."""
    user = principal.user
    if user.role.is_internal:
        return None
    if user.role is Role.LE_OFFICER and user.agency_id is not None:
        return user.agency_id
    raise PermissionDenied("only exchange staff and officers of an agency may see this")


def in_scope(principal: HasUser, agency_id: int | None) -> bool:
    """Whether an object of ``agency_id`` is visible to the principal."""
    scope = agency_scope(principal)
    return scope is None or scope == agency_id
