"""JSON API of freezes (``/api/v1/freezes``).

Reading needs ``freezes:read``; requesting a freeze, a release, an extension or a seizure
needs ``freezes:request``; approving or rejecting the pending step needs ``freezes:approve``
and another person than the one who asked. Officers, partners and trainees get 403; a
freeze that does not exist is 404; a refused step is 409 (conflict), 422 (bad input) or 403
(one's own request), each audited.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, status

from chainsleuth.auth.enums import Permission
from chainsleuth.core.models import RowId
from chainsleuth.freezes import reports
from chainsleuth.freezes import service as freeze_service
from chainsleuth.freezes.models import Freeze
from chainsleuth.freezes.schemas import (
    ActionRead,
    Decision,
    DueRead,
    ExtensionCreate,
    FreezeCreate,
    FreezeDetail,
    FreezeRead,
    ReleaseCreate,
    SeizureCreate,
)
from chainsleuth.web.deps import Principal, SessionDep, requires

router = APIRouter(prefix="/freezes", tags=["freezes"])

CanRead = Annotated[Principal, Depends(requires(Permission.FREEZES_READ))]
CanRequest = Annotated[
    Principal, Depends(requires(Permission.FREEZES_READ, Permission.FREEZES_REQUEST))
]
CanApprove = Annotated[
    Principal, Depends(requires(Permission.FREEZES_READ, Permission.FREEZES_APPROVE))
]


def load_freeze(freeze_id: RowId, _: CanRead, db: SessionDep) -> Freeze:
    return freeze_service.get(db, freeze_id)


FreezeDep = Annotated[Freeze, Depends(load_freeze)]


def _action(db: SessionDep, freeze_id: int, action_id: int) -> ActionRead:
    detail = reports.detail(db, freeze_service.get(db, freeze_id))
    return next(a for a in detail.actions if a.id == action_id)


@router.get("")
def list_freezes(
    _: CanRead,
    db: SessionDep,
    status_: Annotated[str | None, Query(alias="status", max_length=16)] = None,
    due: Annotated[int | None, Query(ge=0, le=reports.MAX_DAYS)] = None,
    customer: Annotated[str | None, Query(max_length=32)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 200,
) -> list[FreezeRead]:
    """The freeze register, newest first; ``due=N``: active freezes whose review date or
    expiry falls within N days (or has passed)."""
    freezes = reports.list_freezes(
        db, status=status_, due_within=due, customer_id=customer, limit=limit
    )
    return reports.reads(db, freezes)


@router.get("/due")
def due(
    _: CanRead, db: SessionDep, days: Annotated[int, Query(ge=0, le=reports.MAX_DAYS)] = 7
) -> list[DueRead]:
    """Reviews and expiries of active freezes within ``days`` (overdue ones first)."""
    return [d.read() for d in reports.due_soon(db, days=days)]


@router.post("", status_code=status.HTTP_201_CREATED)
def create(principal: CanRequest, db: SessionDep, data: FreezeCreate) -> FreezeDetail:
    """Request a freeze; nothing is held until a second person approves it."""
    freeze = freeze_service.request_freeze(db, actor=principal.actor(), data=data)
    return reports.detail(db, freeze)


@router.get("/{freeze_id}")
def get_freeze(freeze: FreezeDep, db: SessionDep) -> FreezeDetail:
    """A freeze with what it holds, its four-eyes steps and its ledger trail."""
    return reports.detail(db, freeze)


@router.post("/{freeze_id}/approve")
def approve(
    freeze_id: RowId, principal: CanApprove, db: SessionDep, data: Decision | None = None
) -> ActionRead:
    """Approve the freeze's pending step (freeze, release, extension or seizure)."""
    action = freeze_service.approve(
        db, actor=principal.actor(), freeze_id=freeze_id, note=data.note if data else ""
    )
    return _action(db, freeze_id, action.id)


@router.post("/{freeze_id}/reject")
def reject(freeze_id: RowId, principal: CanApprove, db: SessionDep, data: Decision) -> ActionRead:
    """Reject the freeze's pending step (the reason is required)."""
    action = freeze_service.reject(db, actor=principal.actor(), freeze_id=freeze_id, note=data.note)
    return _action(db, freeze_id, action.id)


@router.post("/{freeze_id}/release", status_code=status.HTTP_201_CREATED)
def release(
    freeze_id: RowId, principal: CanRequest, db: SessionDep, data: ReleaseCreate | None = None
) -> ActionRead:
    """Request the release of everything the freeze holds (takes effect when approved)."""
    action = freeze_service.request_release(
        db, actor=principal.actor(), freeze_id=freeze_id, note=data.note if data else ""
    )
    return _action(db, freeze_id, action.id)


@router.post("/{freeze_id}/extend", status_code=status.HTTP_201_CREATED)
def extend(
    freeze_id: RowId, principal: CanRequest, db: SessionDep, data: ExtensionCreate
) -> ActionRead:
    """Request a new review date or a later expiry (takes effect when approved)."""
    action = freeze_service.request_extension(
        db, actor=principal.actor(), freeze_id=freeze_id, data=data
    )
    return _action(db, freeze_id, action.id)


@router.post("/{freeze_id}/seize", status_code=status.HTTP_201_CREATED)
def seize(
    freeze_id: RowId, principal: CanRequest, db: SessionDep, data: SeizureCreate
) -> ActionRead:
    """Request a seizure of held funds to an agency's wallet (takes effect when approved)."""
    action = freeze_service.request_seizure(
        db, actor=principal.actor(), freeze_id=freeze_id, data=data
    )
    return _action(db, freeze_id, action.id)
