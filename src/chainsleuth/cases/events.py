"""A case's timeline: every change of a case is one timeline entry and one audit entry,
written together in the caller's transaction by :func:`record_event`."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from chainsleuth.audit import service as audit
from chainsleuth.audit.enums import Outcome
from chainsleuth.audit.service import Actor
from chainsleuth.cases.enums import EventKind
from chainsleuth.cases.models import Case, CaseEvent


def record_event(
    session: Session,
    *,
    actor: Actor,
    case: Case,
    kind: EventKind,
    summary: str,
    details: dict[str, Any] | None = None,
    outcome: Outcome = Outcome.SUCCESS,
    object_type: str = "case",
    object_id: int | None = None,
) -> CaseEvent:
    """The one helper for every change of a case: its timeline entry and its audit entry,
    in the caller's transaction (the caller commits)."""
    details = dict(details or {})
    entry = audit.record(
        session,
        actor=actor,
        action=f"case.{kind.value}",
        outcome=outcome,
        object_type=object_type,
        object_id=case.id if object_id is None else object_id,
        details={"case_id": case.id, "summary": summary, **details},
    )
    event = CaseEvent(
        case_id=case.id,
        ts=entry.ts,
        actor_id=actor.user_id,
        actor=actor.name,
        kind=kind.value,
        summary=summary[:500],
        details=details,
        audit_seq=entry.seq,
    )
    session.add(event)
    case.updated_at = entry.ts
    return event
