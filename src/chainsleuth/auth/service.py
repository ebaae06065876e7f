"""Users: creation, listing, disabling, MFA reset and enrolment. Each write is audited."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from chainsleuth.audit import service as audit
from chainsleuth.audit.enums import Outcome
from chainsleuth.audit.service import Actor
from chainsleuth.auth import mfa
from chainsleuth.auth.enums import Role
from chainsleuth.auth.models import User
from chainsleuth.auth.passwords import check_policy, hash_password
from chainsleuth.auth.schemas import UserCreate
from chainsleuth.auth.scoping import ensure_visible, scoped
from chainsleuth.core.config import Settings
from chainsleuth.core.crypto import FieldCipher
from chainsleuth.core.errors import Conflict, InvalidInput, NotFound
from chainsleuth.core.models import utcnow
from chainsleuth.orgs import service as org_service

MFA_PURPOSE = "mfa-secret"


def mfa_cipher(settings: Settings) -> FieldCipher:
    return FieldCipher(settings.secret, MFA_PURPOSE)


def get_by_username(session: Session, username: str) -> User | None:
    return session.scalar(select(User).where(User.username == username.strip().lower()))


def require_by_username(session: Session, username: str) -> User:
    user = get_by_username(session, username)
    if user is None:
        raise NotFound(f"no user named {username!r}")
    return user


def get_visible(session: Session, *, viewer: User, user_id: int) -> User:
    return ensure_visible(viewer, session.get(User, user_id), what="user")


def list_visible(
    session: Session,
    *,
    viewer: User,
    role: Role | None = None,
    active: bool | None = None,
    q: str | None = None,
) -> Sequence[User]:
    stmt = scoped(viewer, select(User), User)
    if role is not None:
        stmt = stmt.where(User.role == role)
    if active is not None:
        stmt = stmt.where(User.is_active == active)
    if q:
        like = f"%{q.strip().lower()}%"
        stmt = stmt.where(
            func.lower(User.username).like(like)
            | func.lower(User.email).like(like)
            | func.lower(User.full_name).like(like)
        )
    return session.scalars(stmt.order_by(User.username)).all()


def role_counts(session: Session) -> dict[Role, int]:
    rows = session.execute(select(User.role, func.count()).group_by(User.role))
    return {role: int(n) for role, n in rows}


def locked_users(session: Session) -> Sequence[User]:
    now = utcnow()
    return session.scalars(
        select(User).where(User.locked_until.is_not(None), User.locked_until > now)
    ).all()


def count_missing_mfa(session: Session) -> int:
    """Active accounts that need a second factor and have none yet."""
    stmt = (
        select(func.count())
        .select_from(User)
        .where(User.mfa_secret.is_(None), User.is_active.is_(True), User.role != Role.TRAINEE)
    )
    return int(session.scalar(stmt) or 0)


def create_user(session: Session, *, actor: Actor, data: UserCreate) -> User:
    check_policy(data.password, username=data.username)
    if data.role is Role.LE_OFFICER and data.agency_id is None:
        raise InvalidInput("a law-enforcement officer must belong to an agency")
    if data.role is Role.PARTNER and data.organisation_id is None:
        raise InvalidInput("a partner analyst must belong to an organisation")
    if data.agency_id is not None and data.role not in (Role.LE_OFFICER, Role.TRAINEE):
        raise InvalidInput("only officers and trainees belong to an agency")
    if data.organisation_id is not None and data.role is not Role.PARTNER:
        raise InvalidInput("only partner analysts belong to an organisation")
    if data.agency_id is not None:
        org_service.require_agency(session, data.agency_id)
    if data.organisation_id is not None:
        org_service.require_organisation(session, data.organisation_id)
    email = str(data.email).lower()
    if get_by_username(session, data.username) is not None:
        raise Conflict(f"the username {data.username!r} is taken")
    if session.scalar(select(User.id).where(User.email == email)) is not None:
        raise Conflict(f"a user with the e-mail {email!r} exists already")
    user = User(
        username=data.username,
        email=email,
        full_name=data.full_name,
        role=data.role,
        agency_id=data.agency_id,
        organisation_id=data.organisation_id,
        password_hash=hash_password(data.password),
    )
    session.add(user)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="user.create",
        object_type="user",
        object_id=user.id,
        details={"username": user.username, "role": str(user.role)},
    )
    session.commit()
    return user


def set_active(session: Session, *, actor: Actor, user: User, active: bool) -> User:
    if actor.user_id == user.id and not active:
        raise InvalidInput("you cannot disable your own account")
    user.is_active = active
    if not active:
        from chainsleuth.auth import sessions as session_service

        session_service.revoke_all(session, user=user)
    audit.record(
        session,
        actor=actor,
        action="user.enable" if active else "user.disable",
        object_type="user",
        object_id=user.id,
        details={"username": user.username},
    )
    session.commit()
    return user


def unlock(session: Session, *, actor: Actor, user: User) -> User:
    user.failed_logins = 0
    user.locked_until = None
    audit.record(session, actor=actor, action="user.unlock", object_type="user", object_id=user.id)
    session.commit()
    return user


def reset_mfa(session: Session, *, actor: Actor, user: User) -> User:
    """Remove the user's second factor; the user must enrol again at the next login."""
    user.mfa_secret = None
    user.mfa_pending_secret = None
    user.mfa_enabled_at = None
    user.mfa_last_step = None
    from chainsleuth.auth import sessions as session_service

    session_service.revoke_all(session, user=user)
    audit.record(
        session,
        actor=actor,
        action="user.mfa_reset",
        object_type="user",
        object_id=user.id,
        details={"username": user.username},
    )
    session.commit()
    return user


def set_password(session: Session, *, actor: Actor, user: User, password: str) -> None:
    check_policy(password, username=user.username)
    user.password_hash = hash_password(password)
    user.password_changed_at = utcnow()
    audit.record(
        session, actor=actor, action="user.password_set", object_type="user", object_id=user.id
    )
    session.commit()


def start_mfa_enrolment(session: Session, *, settings: Settings, user: User) -> str:
    """A fresh TOTP secret kept pending until the user proves it with a code."""
    secret = mfa.new_secret()
    user.mfa_pending_secret = mfa_cipher(settings).encrypt(secret)
    session.commit()
    return secret


def pending_mfa_secret(settings: Settings, user: User) -> str | None:
    if user.mfa_pending_secret is None:
        return None
    return mfa_cipher(settings).decrypt(user.mfa_pending_secret)


def confirm_mfa_enrolment(
    session: Session, *, settings: Settings, actor: Actor, user: User, code: str
) -> bool:
    secret = pending_mfa_secret(settings, user)
    if secret is None:
        raise InvalidInput("start the enrolment first")
    step = mfa.matching_step(secret, code)
    if step is None:
        audit.record(
            session,
            actor=actor,
            action="auth.mfa_enrol",
            outcome=Outcome.FAILURE,
            object_type="user",
            object_id=user.id,
            details={"reason": "wrong code"},
        )
        session.commit()
        return False
    user.mfa_secret = user.mfa_pending_secret
    user.mfa_pending_secret = None
    user.mfa_enabled_at = utcnow()
    user.mfa_last_step = step
    audit.record(
        session, actor=actor, action="auth.mfa_enrol", object_type="user", object_id=user.id
    )
    session.commit()
    return True


def is_locked(user: User) -> bool:
    return user.locked_until is not None and user.locked_until > utcnow()


def register_failure(session: Session, *, settings: Settings, user: User) -> bool:
    """Count a failed password or code; returns True when this failure locks the account."""
    user.failed_logins += 1
    if user.failed_logins >= settings.lockout_threshold:
        user.locked_until = utcnow() + timedelta(minutes=settings.lockout_minutes)
        user.failed_logins = 0
        return True
    return False
