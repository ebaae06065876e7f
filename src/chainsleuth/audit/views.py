"""JSON API: read and verify the audit log."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BeforeValidator

from chainsleuth.audit import service as audit
from chainsleuth.audit.enums import Outcome
from chainsleuth.audit.schemas import AuditEventRead, AuditPage, VerifyRead
from chainsleuth.auth.enums import Permission
from chainsleuth.core.models import MAX_ROW_ID, as_utc
from chainsleuth.web.deps import Principal, SessionDep, requires

router = APIRouter(prefix="/audit", tags=["audit"])

CanRead = Annotated[Principal, Depends(requires(Permission.AUDIT_READ))]
CanVerify = Annotated[Principal, Depends(requires(Permission.AUDIT_VERIFY))]


def _blank_is_none(value: object) -> object:
    return None if value == "" else value


#: An HTML filter form sends every field, the empty ones as "": those mean "any".
BlankIsNone = BeforeValidator(_blank_is_none)


def audit_filter(
    actor: Annotated[str | None, Query(max_length=128)] = None,
    action: Annotated[str | None, Query(max_length=64)] = None,
    outcome: Annotated[Outcome | None, BlankIsNone] = None,
    object_type: Annotated[str | None, Query(max_length=64)] = None,
    object_id: Annotated[str | None, Query(max_length=128)] = None,
    since: Annotated[datetime | None, BlankIsNone] = None,
    until: Annotated[datetime | None, BlankIsNone] = None,
) -> audit.AuditFilter:
    return audit.AuditFilter(
        actor=actor or None,
        action=action or None,
        outcome=outcome,
        object_type=object_type or None,
        object_id=object_id or None,
        since=as_utc(since),
        until=as_utc(until),
    )


FilterDep = Annotated[audit.AuditFilter, Depends(audit_filter)]


@router.get("/events")
def list_events(
    _: CanRead,
    db: SessionDep,
    flt: FilterDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    before: Annotated[int | None, Query(ge=1, le=MAX_ROW_ID)] = None,
) -> AuditPage:
    events = audit.search(db, flt=flt, limit=limit, before_seq=before)
    return AuditPage(
        events=[AuditEventRead.model_validate(ev) for ev in events],
        next_before=events[-1].seq if len(events) == limit else None,
    )


@router.get("/verify")
def verify(_: CanVerify, db: SessionDep) -> VerifyRead:
    return VerifyRead(**audit.verify(db).as_dict())
