"""One-time links sent by e-mail: a random token, of which only the SHA-256 is stored."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from chainsleuth.core.crypto import new_token, token_hash
from chainsleuth.core.models import utcnow
from chainsleuth.officers.enums import TokenPurpose
from chainsleuth.officers.models import Officer, OfficerToken

LIFETIME = {
    TokenPurpose.SIGNUP: timedelta(hours=24),
    TokenPurpose.REVERIFY: timedelta(hours=24),
    TokenPurpose.ACTIVATE: timedelta(hours=72),
}
PATHS = {
    TokenPurpose.SIGNUP: "/officers/verify",
    TokenPurpose.REVERIFY: "/officers/verify",
    TokenPurpose.ACTIVATE: "/officers/activate",
}


def issue(session: Session, *, officer: Officer, purpose: TokenPurpose) -> str:
    """A new link token; earlier unused tokens of the same purpose stop working."""
    now = utcnow()
    session.execute(
        update(OfficerToken)
        .where(
            OfficerToken.officer_id == officer.id,
            OfficerToken.purpose == str(purpose),
            OfficerToken.used_at.is_(None),
            OfficerToken.expires_at > now,
        )
        .values(expires_at=now)
    )
    token = new_token(nbytes=32)
    session.add(
        OfficerToken(
            officer_id=officer.id,
            purpose=str(purpose),
            token_hash=token_hash(token),
            created_at=now,
            expires_at=now + LIFETIME[purpose],
        )
    )
    session.flush()
    return token


def url(base_url: str, purpose: TokenPurpose, token: str) -> str:
    return f"{base_url.rstrip('/')}{PATHS[purpose]}?token={token}"


def find(session: Session, token: str) -> OfficerToken | None:
    return session.scalar(select(OfficerToken).where(OfficerToken.token_hash == token_hash(token)))


def has_live(session: Session, *, officer: Officer, purpose: TokenPurpose) -> bool:
    stmt = select(OfficerToken.id).where(
        OfficerToken.officer_id == officer.id,
        OfficerToken.purpose == str(purpose),
        OfficerToken.used_at.is_(None),
        OfficerToken.expires_at > utcnow(),
    )
    return session.scalar(stmt.limit(1)) is not None
