"""Personal API tokens: scoped to a subset of the owner's permissions, expiring, revocable."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from chainsleuth.audit import service as audit
from chainsleuth.audit.service import Actor
from chainsleuth.auth.enums import ROLE_PERMISSIONS, Permission
from chainsleuth.auth.models import ApiToken, User
from chainsleuth.core.crypto import new_token, token_hash
from chainsleuth.core.errors import InvalidInput, NotAuthenticated, NotFound
from chainsleuth.core.models import utcnow

TOKEN_PREFIX = "cs_"
TOUCH_EVERY = timedelta(seconds=60)


@dataclass
class IssuedToken:
    token: str
    record: ApiToken


def create(
    session: Session,
    *,
    actor: Actor,
    user: User,
    name: str,
    scopes: Sequence[Permission],
    days: int,
) -> IssuedToken:
    allowed = ROLE_PERMISSIONS[user.role]
    refused = sorted(str(s) for s in scopes if s not in allowed)
    if refused:
        raise InvalidInput(f"your role cannot grant these scopes: {', '.join(refused)}")
    if not scopes:
        raise InvalidInput("a token needs at least one scope")
    token = new_token(TOKEN_PREFIX)
    now = utcnow()
    record = ApiToken(
        user_id=user.id,
        name=name.strip(),
        prefix=token[: len(TOKEN_PREFIX) + 6],
        token_hash=token_hash(token),
        scopes=sorted({str(s) for s in scopes}),
        created_at=now,
        expires_at=now + timedelta(days=days),
    )
    session.add(record)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="token.create",
        object_type="api_token",
        object_id=record.id,
        details={"name": record.name, "scopes": record.scopes, "days": days},
    )
    session.commit()
    return IssuedToken(token=token, record=record)


def list_for(session: Session, *, user: User) -> Sequence[ApiToken]:
    return session.scalars(
        select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.created_at.desc())
    ).all()


def revoke(session: Session, *, actor: Actor, user: User, token_id: int) -> ApiToken:
    record = session.get(ApiToken, token_id)
    if record is None or record.user_id != user.id:
        raise NotFound("no such token")
    if record.revoked_at is None:
        record.revoked_at = utcnow()
        audit.record(
            session,
            actor=actor,
            action="token.revoke",
            object_type="api_token",
            object_id=record.id,
            details={"name": record.name},
        )
        session.commit()
    return record


def authenticate(session: Session, *, token: str) -> ApiToken:
    record = None
    if token.startswith(TOKEN_PREFIX):
        record = session.scalar(select(ApiToken).where(ApiToken.token_hash == token_hash(token)))
    if record is None:
        raise NotAuthenticated("invalid API token")
    now = utcnow()
    if record.revoked_at is not None:
        raise NotAuthenticated("this API token has been revoked")
    if record.expires_at <= now:
        raise NotAuthenticated("this API token has expired")
    if not record.user.is_active:
        raise NotAuthenticated("this account is disabled")
    if record.last_used_at is None or now - record.last_used_at >= TOUCH_EVERY:
        record.last_used_at = now
        session.commit()
    return record


def granted(record: ApiToken) -> frozenset[Permission]:
    """The token's scopes that its owner's role still has."""
    role_perms = ROLE_PERMISSIONS[record.user.role]
    return frozenset(p for p in role_perms if str(p) in record.scopes)
