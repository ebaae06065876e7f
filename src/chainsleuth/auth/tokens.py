"""Personal API tokens: scoped to a subset of the owner's permissions, expiring, revocable."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, Table, bindparam, select
from sqlalchemy.orm import Session

from chainsleuth.audit import service as audit
from chainsleuth.audit.service import Actor
from chainsleuth.auth.enums import ROLE_PERMISSIONS, Permission, Role
from chainsleuth.auth.models import ApiToken, User
from chainsleuth.core.crypto import new_token, token_hash
from chainsleuth.core.errors import InvalidInput, NotAuthenticated, NotFound
from chainsleuth.core.hotsql import HotStatement
from chainsleuth.core.models import Base, utcnow

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


def _refusal(
    revoked_at: datetime | None, expires_at: datetime, user_active: bool, now: datetime
) -> str | None:
    """Why a found token is refused (None: it is good)."""
    if revoked_at is not None:
        return "this API token has been revoked"
    if expires_at <= now:
        return "this API token has expired"
    if not user_active:
        return "this account is disabled"
    return None


def authenticate(session: Session, *, token: str) -> ApiToken:
    record = None
    if token.startswith(TOKEN_PREFIX):
        record = session.scalar(select(ApiToken).where(ApiToken.token_hash == token_hash(token)))
    if record is None:
        raise NotAuthenticated("invalid API token")
    now = utcnow()
    why = _refusal(record.revoked_at, record.expires_at, record.user.is_active, now)
    if why is not None:
        raise NotAuthenticated(why)
    if record.last_used_at is None or now - record.last_used_at >= TOUCH_EVERY:
        record.last_used_at = now
        session.commit()
    return record


@dataclass(frozen=True)
class Bearer:
    """Who a good token speaks for, read without the ORM (``check``): what an API call's
    actor and label visibility need (``labels.service.Viewer``)."""

    token_id: int
    id: int  # the user's
    username: str
    role: Role
    organisation_id: int | None
    agency_id: int | None
    permissions: frozenset[Permission]
    #: the values of the extra columns of ``check_statement``, read in the same query
    extra: tuple[Any, ...] = ()


_T: Table = Base.metadata.tables["api_tokens"]
_U: Table = Base.metadata.tables["users"]
_CHECK = (
    select(
        _T.c.id,
        _T.c.scopes,
        _T.c.expires_at,
        _T.c.last_used_at,
        _T.c.revoked_at,
        _U.c.id,
        _U.c.username,
        _U.c.role,
        _U.c.organisation_id,
        _U.c.agency_id,
        _U.c.is_active,
    )  # fmt: skip
    .join(_U, _U.c.id == _T.c.user_id)
    .where(_T.c.token_hash == bindparam("hash"))
)


#: ``check``'s statements, run on the driver's cursor (``core.hotsql``)
_HOT: dict[Select[Any], HotStatement] = {}


def check_statement(*extra: ColumnElement[Any]) -> Select[Any]:
    """``check``'s query with ``extra`` columns (scalar subqueries: what else a hot path
    must read, in the same round trip); build it once and give it to ``check``."""
    return _CHECK.add_columns(*extra)


def check(
    session: Session,
    *,
    token: str,
    statement: Select[Any] | None = None,
    params: dict[str, Any] | None = None,
) -> Bearer | None:
    """``authenticate``'s rules in one Core query (the screening hot path): the bearer of
    a good token, or None for any token ``authenticate`` refuses (the caller then takes
    the full path, which says why). Touches ``last_used_at`` as ``authenticate`` does, in
    the caller's transaction. With a ``check_statement``, the bearer's ``extra`` holds
    its extra columns (``params``: the values of their bound parameters)."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    query = _CHECK if statement is None else statement
    hot = _HOT.get(query)
    if hot is None:
        hot = _HOT[query] = HotStatement(query)
    row = hot.first(session, {**(params or {}), "hash": token_hash(token)})
    if row is None:
        return None
    token_id, scopes, expires_at, last_used, revoked_at = row[:5]
    user_id, username, role, organisation_id, agency_id, active = row[5:11]
    now = utcnow()
    if _refusal(revoked_at, expires_at, bool(active), now) is not None:
        return None
    if last_used is None or now - last_used >= TOUCH_EVERY:
        session.connection().execute(
            _T.update().where(_T.c.id == token_id).values(last_used_at=now)
        )
    role = Role(role)
    return Bearer(
        token_id=int(token_id), id=int(user_id), username=str(username), role=role,
        organisation_id=organisation_id, agency_id=agency_id,
        permissions=frozenset(p for p in ROLE_PERMISSIONS[role] if str(p) in scopes),
        extra=tuple(row[11:]),
    )  # fmt: skip


def granted(record: ApiToken) -> frozenset[Permission]:
    """The token's scopes that its owner's role still has."""
    role_perms = ROLE_PERMISSIONS[record.user.role]
    return frozenset(p for p in role_perms if str(p) in record.scopes)
