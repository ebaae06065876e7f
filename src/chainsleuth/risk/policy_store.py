"""Risk policy versions in the database: the active one, history, new versions.

``active(session)`` is the policy in force; on first use (no row yet) it writes the
default body (``riskpolicy.default_body``) as version 1, audited as done by the system.
``save(session, actor=..., body=..., comment=...)`` validates a body and writes it as the
next version, made active, with its audit event, in the caller's transaction (the caller
commits). Versions are never changed once written.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ScalarSelect, Table, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from chainsleuth.audit import service as audit_service
from chainsleuth.audit.service import Actor
from chainsleuth.core.db import database_key
from chainsleuth.core.errors import InvalidInput, NotFound
from chainsleuth.core.models import Base
from chainsleuth.risk.riskpolicy import RiskPolicyBody, body_json, default_body, diff, parse_body
from chainsleuth.risk.screening_models import RiskPolicy

MAX_COMMENT = 500


@dataclass(frozen=True)
class PolicyVersion:
    version: int
    body: RiskPolicyBody
    row: RiskPolicy


def _latest(session: Session) -> int:
    return int(session.scalar(select(func.max(RiskPolicy.version))) or 0)


def _active_row(session: Session) -> RiskPolicy | None:
    return session.scalars(
        select(RiskPolicy).where(RiskPolicy.is_active.is_(True)).order_by(RiskPolicy.version.desc())
    ).first()


_PARSED: dict[int, RiskPolicyBody] = {}


def _parsed(row: RiskPolicy) -> RiskPolicyBody:
    """Versions never change: each is parsed once per process."""
    found = _PARSED.get(row.id)
    if found is None or body_json(found) != row.body:
        found = _PARSED[row.id] = parse_body(row.body)
    return found


#: the active version as last seen, by database: (row id, version) -> the parsed version
#: with a detached copy of its row (versions never change once written)
_ACTIVE: dict[tuple[str, int, int, str], PolicyVersion] = {}


def _copy(row: RiskPolicy) -> RiskPolicy:
    return RiskPolicy(
        id=row.id, version=row.version, created_at=row.created_at, created_by=row.created_by,
        user_id=row.user_id, comment=row.comment, body=copy.deepcopy(row.body),
        is_active=row.is_active,
    )  # fmt: skip


_POLICIES: Table = Base.metadata.tables["risk_policies"]
_HEAD_COLUMNS = (_POLICIES.c.id, _POLICIES.c.version, _POLICIES.c.created_at)
_HEAD = (
    select(*_HEAD_COLUMNS)
    .where(_POLICIES.c.is_active.is_(True))
    .order_by(_POLICIES.c.version.desc())
    .limit(1)
)


def head_columns() -> tuple[ScalarSelect[Any], ...]:
    """What ``active`` reads first (the active version's id, version and time), as scalar
    subqueries for a hot path's query: give the three values to ``active(head=...)``."""
    return tuple(
        select(c).where(_POLICIES.c.is_active.is_(True))
        .order_by(_POLICIES.c.version.desc()).limit(1).scalar_subquery()
        for c in _HEAD_COLUMNS
    )  # fmt: skip


def active(session: Session, *, head: Sequence[Any] | None = None) -> PolicyVersion:
    """The policy in force. On first use the default is written as version 1 and
    committed at once (call this before any other write of the transaction).

    One small query tells which version is active (or ``head``: ``head_columns`` as read
    in the caller's transaction); its parsed body is kept per process, so a new version
    (``save``, from any process) is seen by the next call."""
    if head is None or head[0] is None:
        head = session.connection().execute(_HEAD).first()
    if head is not None:
        key = (database_key(session), int(head[0]), int(head[1]), str(head[2]))
        found = _ACTIVE.get(key)
        if found is not None:
            return found
    row = _active_row(session)
    if row is None:
        row = _create_default(session)
    found = PolicyVersion(row.version, _parsed(row), _copy(row))
    if len(_ACTIVE) > 64:
        _ACTIVE.clear()
    _ACTIVE[(database_key(session), row.id, row.version, str(row.created_at))] = found
    return found


def _create_default(session: Session) -> RiskPolicy:
    body = body_json(default_body())
    row = RiskPolicy(
        version=1, created_by="system", comment="default policy", body=body, is_active=True
    )
    try:
        session.add(row)
        session.flush()
        audit_service.record(
            session,
            actor=Actor.system("risk"),
            action="risk.policy.create",
            object_type="risk_policy",
            object_id=1,
            details={"version": 1, "default": True},
        )
        session.commit()
    except IntegrityError:  # another process wrote version 1 meanwhile
        session.rollback()
        found = _active_row(session)
        if found is None:
            raise
        return found
    return row


def get(session: Session, version: int) -> PolicyVersion:
    row = session.scalars(select(RiskPolicy).where(RiskPolicy.version == version)).first()
    if row is None:
        raise NotFound(f"there is no risk policy version {version}")
    return PolicyVersion(row.version, _parsed(row), row)


def versions(session: Session) -> list[RiskPolicy]:
    active(session)
    return list(session.scalars(select(RiskPolicy).order_by(RiskPolicy.version.desc())))


def save(
    session: Session, *, actor: Actor, body: dict[str, Any] | RiskPolicyBody, comment: str = ""
) -> PolicyVersion:
    """Validate ``body`` and write it as the next version, active; audited. The caller
    commits."""
    parsed = body if isinstance(body, RiskPolicyBody) else parse_body(body)
    comment = (comment or "").strip()
    if len(comment) > MAX_COMMENT:
        raise InvalidInput(f"the comment is longer than {MAX_COMMENT} characters")
    current = active(session)
    data = body_json(parsed)
    if data == current.row.body:
        raise InvalidInput(f"nothing changed: this is version {current.version} already")
    version = _latest(session) + 1
    session.execute(
        update(RiskPolicy).where(RiskPolicy.is_active.is_(True)).values(is_active=False)
    )
    row = RiskPolicy(
        version=version,
        created_by=actor.name,
        user_id=actor.user_id,
        comment=comment or None,
        body=data,
        is_active=True,
    )
    session.add(row)
    session.flush()
    audit_service.record(
        session,
        actor=actor,
        action="risk.policy.update",
        object_type="risk_policy",
        object_id=version,
        details={
            "version": version,
            "previous": current.version,
            "comment": comment,
            "diff": diff(
                current.row.body, data, old_name=f"v{current.version}", new_name=f"v{version}"
            )[:20_000],
        },
    )
    return PolicyVersion(version, parsed, row)


def version_diff(session: Session, old: int, new: int) -> str:
    a, b = get(session, old), get(session, new)
    return diff(a.row.body, b.row.body, old_name=f"v{a.version}", new_name=f"v{b.version}")
