"""Logging in and out: password, second factor, lockout and browser sessions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from chainsleuth.audit import service as audit
from chainsleuth.audit.enums import Outcome
from chainsleuth.audit.service import Actor
from chainsleuth.auth import mfa
from chainsleuth.auth import service as user_service
from chainsleuth.auth.enums import Role
from chainsleuth.auth.models import User, WebSession
from chainsleuth.auth.passwords import hash_password, needs_rehash, verify_password
from chainsleuth.core.config import Settings
from chainsleuth.core.crypto import new_token, token_hash
from chainsleuth.core.errors import AccountLocked, LoginFailed, NotAuthenticated
from chainsleuth.core.models import utcnow

#: last_seen_at is written at most this often, to spare the database a write per request
TOUCH_EVERY = timedelta(seconds=60)
LOGIN_FAILED = "wrong username or password"


@dataclass
class NewSession:
    """A session just opened: the cookie value is known only here."""

    token: str
    record: WebSession


def mfa_required(settings: Settings, user: User) -> bool:
    """Whether this user must give a second factor (enrolling first if need be)."""
    if user.mfa_enabled:
        return True
    return settings.mfa_enforced and user.role is not Role.TRAINEE


def login(
    session: Session,
    *,
    settings: Settings,
    username: str,
    password: str,
    ip: str | None,
    user_agent: str | None,
) -> NewSession:
    """Check a password; opens a session that still needs MFA when the user has or needs it."""
    actor = Actor.anonymous(ip=ip)
    user = user_service.get_by_username(session, username)
    password_ok = verify_password(user.password_hash if user else None, password)
    if user is None:
        audit.record(
            session,
            actor=actor,
            action="auth.login",
            outcome=Outcome.FAILURE,
            details={"username": username[:64], "reason": "unknown user"},
        )
        session.commit()
        raise LoginFailed(LOGIN_FAILED)
    actor = Actor(user_id=user.id, name=user.username, ip=ip)
    if user_service.is_locked(user):
        audit.record(
            session,
            actor=actor,
            action="auth.login",
            outcome=Outcome.DENIED,
            object_type="user",
            object_id=user.id,
            details={"reason": "account locked"},
        )
        session.commit()
        raise AccountLocked("too many failed attempts: the account is locked, try again later")
    if not password_ok or not user.is_active:
        locked = password_ok is False and user_service.register_failure(
            session, settings=settings, user=user
        )
        reason = "wrong password" if not password_ok else "account disabled"
        audit.record(
            session,
            actor=actor,
            action="auth.login",
            outcome=Outcome.FAILURE,
            object_type="user",
            object_id=user.id,
            details={"reason": reason, "locked": locked},
        )
        session.commit()
        raise LoginFailed(LOGIN_FAILED)
    officer_mfa = False
    if user.role is Role.LE_OFFICER:
        # signed-up officers: not before approval, nor with a lapsed verification or a
        # suspended agency (chainsleuth.officers); they always need a second factor
        from chainsleuth.officers import service as officer_service

        refusal = officer_service.login_refusal(session, user=user)
        if refusal is not None:
            audit.record(
                session,
                actor=actor,
                action="auth.login",
                outcome=Outcome.DENIED,
                object_type="user",
                object_id=user.id,
                details={"reason": refusal},
            )
            session.commit()
            raise LoginFailed(refusal)
        officer_mfa = officer_service.must_enrol_mfa(session, user=user)
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    needs_mfa = mfa_required(settings, user) or officer_mfa
    if not needs_mfa:
        _logged_in(user)
    new = _open(session, settings=settings, user=user, ip=ip, user_agent=user_agent)
    new.record.mfa_passed = not needs_mfa
    audit.record(
        session,
        actor=actor,
        action="auth.login",
        object_type="user",
        object_id=user.id,
        details={"stage": "password", "mfa_pending": needs_mfa},
    )
    session.commit()
    return new


def _logged_in(user: User) -> None:
    user.failed_logins = 0
    user.last_login_at = utcnow()


def _open(
    session: Session,
    *,
    settings: Settings,
    user: User,
    ip: str | None,
    user_agent: str | None,
) -> NewSession:
    token = new_token()
    now = utcnow()
    record = WebSession(
        token_hash=token_hash(token),
        user_id=user.id,
        csrf_token=new_token(nbytes=24),
        created_at=now,
        last_seen_at=now,
        expires_at=now + timedelta(hours=settings.session_max_hours),
        ip=ip,
        user_agent=(user_agent or "")[:255] or None,
    )
    record.user = user
    session.add(record)
    session.flush()
    return NewSession(token=token, record=record)


def verify_second_factor(
    session: Session, *, settings: Settings, web_session: WebSession, code: str, ip: str | None
) -> NewSession:
    """Check a TOTP code for a password-only session; success opens a fresh full session."""
    user = web_session.user
    actor = Actor(user_id=user.id, name=user.username, ip=ip)
    if user_service.is_locked(user):
        _revoke(web_session)
        audit.record(
            session,
            actor=actor,
            action="auth.mfa",
            outcome=Outcome.DENIED,
            object_type="user",
            object_id=user.id,
            details={"reason": "account locked"},
        )
        session.commit()
        raise AccountLocked("too many failed attempts: the account is locked, try again later")
    if user.mfa_secret is None:
        raise NotAuthenticated("this account has no second factor yet: enrol first")
    secret = user_service.mfa_cipher(settings).decrypt(user.mfa_secret)
    step = mfa.matching_step(secret, code)
    replayed = step is not None and user.mfa_last_step is not None and step <= user.mfa_last_step
    if step is None or replayed:
        locked = user_service.register_failure(session, settings=settings, user=user)
        if locked:
            _revoke(web_session)
        audit.record(
            session,
            actor=actor,
            action="auth.mfa",
            outcome=Outcome.FAILURE,
            object_type="user",
            object_id=user.id,
            details={"reason": "code reused" if replayed else "wrong code", "locked": locked},
        )
        session.commit()
        if locked:
            raise AccountLocked("too many failed attempts: the account is locked, try again later")
        raise LoginFailed("wrong or expired code")
    user.mfa_last_step = step
    return complete(session, settings=settings, web_session=web_session, ip=ip, action="auth.mfa")


def complete(
    session: Session, *, settings: Settings, web_session: WebSession, ip: str | None, action: str
) -> NewSession:
    """The second factor is done (given or just enrolled): swap in a fresh full session."""
    user = web_session.user
    _revoke(web_session)
    _logged_in(user)
    new = _open(session, settings=settings, user=user, ip=ip, user_agent=web_session.user_agent)
    new.record.mfa_passed = True
    audit.record(
        session,
        actor=Actor(user_id=user.id, name=user.username, ip=ip),
        action=action,
        object_type="user",
        object_id=user.id,
    )
    session.commit()
    return new


def _revoke(web_session: WebSession) -> None:
    if web_session.revoked_at is None:
        web_session.revoked_at = utcnow()


def load(session: Session, *, settings: Settings, token: str) -> WebSession:
    """The live session for a cookie; raises NotAuthenticated when it is gone or expired."""
    record = session.scalar(select(WebSession).where(WebSession.token_hash == token_hash(token)))
    if record is None or record.revoked_at is not None:
        raise NotAuthenticated("you are not signed in")
    now = utcnow()
    idle_limit = record.last_seen_at + timedelta(minutes=settings.session_idle_minutes)
    if now >= record.expires_at or now >= idle_limit:
        raise NotAuthenticated("your session has expired: please sign in again")
    if not record.user.is_active:
        raise NotAuthenticated("this account is disabled")
    if now - record.last_seen_at >= TOUCH_EVERY:
        record.last_seen_at = now
        session.commit()
    return record


def logout(session: Session, *, web_session: WebSession, ip: str | None) -> None:
    _revoke(web_session)
    user = web_session.user
    audit.record(
        session,
        actor=Actor(user_id=user.id, name=user.username, ip=ip),
        action="auth.logout",
        object_type="user",
        object_id=user.id,
    )
    session.commit()


def revoke_all(session: Session, *, user: User) -> None:
    """End every open session of a user (the caller commits)."""
    session.execute(
        update(WebSession)
        .where(WebSession.user_id == user.id, WebSession.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
