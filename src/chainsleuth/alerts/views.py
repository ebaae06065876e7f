"""JSON API of alerts and the watch list.

Reading alerts needs ``alerts:read``, working them (status, assignment, comments, bulk)
``alerts:work``, the watch list ``watchlist:manage``. Invalid transitions are 409 (closed
alert re-opened without ``reopen``, a move the workflow does not allow) or 422 (closing
without a disposition or note, an unknown assignee), with the reason.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, status
from sqlalchemy.orm import Session

from chainsleuth.alerts import service as alert_service
from chainsleuth.alerts import stats as alert_stats
from chainsleuth.alerts import watch as watch_service
from chainsleuth.alerts.enums import AlertSource, AlertStatus, Severity
from chainsleuth.alerts.models import Alert, WatchlistEntry, WatchlistHit
from chainsleuth.alerts.schemas import (
    AlertDetail,
    AlertPage,
    AlertRead,
    AlertStats,
    AlertUpdate,
    BulkAction,
    BulkResult,
    CommentCreate,
    CommentRead,
    HistoryEntry,
    WatchEntryCreate,
    WatchEntryRead,
    WatchHitRead,
)
from chainsleuth.auth.enums import Permission
from chainsleuth.chain import service as chain_service
from chainsleuth.core.models import RowId, as_utc
from chainsleuth.web.deps import Principal, SessionDep, SettingsDep, requires

router = APIRouter(tags=["alerts"])

CanRead = Annotated[Principal, Depends(requires(Permission.ALERTS_READ))]
CanWork = Annotated[Principal, Depends(requires(Permission.ALERTS_WORK))]
CanWatch = Annotated[Principal, Depends(requires(Permission.WATCHLIST_MANAGE))]


def alert_read(alert: Alert) -> AlertRead:
    return AlertRead(
        id=alert.id,
        severity=alert.severity,
        subject_type=alert.subject_type,
        subject=alert.subject,
        chain=alert.chain,
        reasons=list(alert.reasons),
        source=alert.source,
        screening_id=alert.screening_id,
        details=dict(alert.details),
        status=alert.status,
        assignee=alert.assignee.username if alert.assignee else None,
        occurrences=alert.occurrences,
        first_seen=alert.first_seen,
        last_seen=alert.last_seen,
        disposition=alert.disposition,
        disposition_note=alert.disposition_note,
        closed_at=alert.closed_at,
        closed_by=alert.closed_by.username if alert.closed_by else None,
    )


def alert_detail(session: Session, alert: Alert) -> AlertDetail:
    history = [
        HistoryEntry(
            seq=e.seq, ts=e.ts, actor=e.actor, action=e.action, details=json.loads(e.details)
        )
        for e in alert_service.history(session, alert)
    ]
    return AlertDetail(
        **alert_read(alert).model_dump(),
        comments=[CommentRead.model_validate(c) for c in alert.comments],
        history=history,
    )


def filter_from(
    *,
    status_: list[AlertStatus] | None,
    severity: list[Severity] | None,
    source: list[AlertSource] | None,
    assignee: str | None,
    since: datetime | None,
    until: datetime | None,
    subject: str | None,
    open_only: bool = False,
) -> alert_service.AlertFilter:
    return alert_service.AlertFilter(
        status=status_ or (),
        severity=severity or (),
        source=source or (),
        assignee=assignee or None,
        since=as_utc(since),
        until=as_utc(until),
        subject=subject or None,
        open_only=open_only,
    )


Text64 = Annotated[str | None, Query(max_length=64)]


@router.get("/alerts")
def list_alerts(
    principal: CanRead,
    db: SessionDep,
    status_: Annotated[list[AlertStatus] | None, Query(alias="status")] = None,
    severity: Annotated[list[Severity] | None, Query()] = None,
    source: Annotated[list[AlertSource] | None, Query()] = None,
    assignee: Text64 = None,
    since: datetime | None = None,
    until: datetime | None = None,
    subject: Annotated[str | None, Query(max_length=200)] = None,
    open_only: bool = False,
    limit: Annotated[int, Query(ge=1, le=alert_service.MAX_PAGE)] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> AlertPage:
    """Alerts, worst and newest first; filter by status, severity, source, assignee
    (a username, or ``none``), first seen (``since``/``until``) and subject."""
    flt = filter_from(
        status_=status_,
        severity=severity,
        source=source,
        assignee=assignee,
        since=since,
        until=until,
        subject=subject,
        open_only=open_only,
    )
    items, total = alert_service.list_alerts(db, flt=flt, limit=limit, offset=offset)
    return AlertPage(items=[alert_read(a) for a in items], total=total, limit=limit, offset=offset)


@router.get("/alerts/stats")
def get_stats(
    principal: CanRead,
    db: SessionDep,
    days: Annotated[int, Query(ge=1, le=alert_stats.MAX_DAYS)] = 30,
) -> AlertStats:
    """Alerts per day, median time to disposition, share closed as false positive."""
    return alert_stats.stats(db, days=days)


@router.get("/alerts/{alert_id}")
def get_alert(alert_id: RowId, principal: CanRead, db: SessionDep) -> AlertDetail:
    """One alert with its reasons, comments and history."""
    return alert_detail(db, alert_service.get_alert(db, alert_id))


@router.patch("/alerts/{alert_id}")
def update_alert(
    alert_id: RowId, data: AlertUpdate, principal: CanWork, db: SessionDep
) -> AlertDetail:
    """Change the status (closing: ``disposition`` and ``note``; a closed alert only with
    ``reopen``) and/or the assignee (null unassigns), in one transaction."""
    alert = alert_service.get_alert(db, alert_id)
    actor = principal.actor()
    assigning = "assignee" in data.model_fields_set
    # a closed alert is re-opened before it is assigned; others are assigned, then moved
    reopening = data.status is not None and AlertStatus(alert.status) is AlertStatus.CLOSED
    if assigning and not reopening:
        alert_service.assign(db, actor=actor, alert=alert, assignee=data.assignee)
    _status(db, principal, alert, data)
    if assigning and reopening:
        alert_service.assign(db, actor=actor, alert=alert, assignee=data.assignee)
    db.commit()
    return alert_detail(db, alert)


def _status(db: Session, principal: Principal, alert: Alert, data: AlertUpdate) -> None:
    if data.status is None:
        if data.disposition is not None:
            alert_service.set_status(
                db,
                actor=principal.actor(),
                alert=alert,
                status=AlertStatus.CLOSED.value,
                disposition=data.disposition.value,
                note=data.note,
            )
        return
    alert_service.set_status(
        db,
        actor=principal.actor(),
        alert=alert,
        status=data.status.value,
        disposition=data.disposition.value if data.disposition else None,
        note=data.note,
        reopen=data.reopen,
    )


@router.post("/alerts/{alert_id}/comments", status_code=status.HTTP_201_CREATED)
def add_comment(
    alert_id: RowId, data: CommentCreate, principal: CanWork, db: SessionDep
) -> CommentRead:
    alert = alert_service.get_alert(db, alert_id)
    comment = alert_service.add_comment(db, actor=principal.actor(), alert=alert, body=data.body)
    db.commit()
    return CommentRead.model_validate(comment)


@router.post("/alerts/bulk")
def bulk(data: BulkAction, principal: CanWork, db: SessionDep) -> BulkResult:
    """Assign, close, escalate or review many alerts at once: all of them or none."""
    alerts = alert_service.bulk(
        db,
        actor=principal.actor(),
        alert_ids=data.ids,
        action=data.action,
        assignee=data.assignee,
        disposition=data.disposition.value if data.disposition else None,
        note=data.note,
    )
    db.commit()
    return BulkResult(action=data.action, updated=[a.id for a in alerts])


# -- the watch list -----------------------------------------------------------------------


def entry_read(entry: WatchlistEntry, hits: int = 0) -> WatchEntryRead:
    read = WatchEntryRead.model_validate(entry)
    read.hits = hits
    return read


def hit_read(hit: WatchlistHit) -> WatchHitRead:
    return WatchHitRead(
        id=hit.id,
        entry_id=hit.entry_id,
        alert_id=hit.alert_id,
        chain=hit.chain,
        tx_hash=hit.tx_hash,
        height=hit.height,
        from_address=hit.from_address,
        deposit_address=hit.deposit_address,
        customer_id=hit.customer_id,
        asset=hit.asset,
        amount=str(hit.amount),
        hops=hit.hops,
    )


@router.get("/watchlist")
def list_watchlist(
    principal: CanWatch,
    db: SessionDep,
    include_removed: bool = False,
    chain: Annotated[str | None, Query(max_length=16)] = None,
) -> list[WatchEntryRead]:
    return [
        entry_read(e, n)
        for e, n in watch_service.list_entries(db, include_removed=include_removed, chain=chain)
    ]


@router.post("/watchlist", status_code=status.HTTP_201_CREATED)
def add_watch(
    data: WatchEntryCreate, principal: CanWatch, db: SessionDep, settings: SettingsDep
) -> WatchEntryRead:
    """Put an address or an entity under watch: funds from it reaching one of our deposit
    addresses raise an alert as the blocks arrive."""
    entry = watch_service.add_entry(
        db, actor=principal.actor(), data=data, store_root=chain_service.store_root(settings)
    )
    db.commit()
    return entry_read(entry)


@router.get("/watchlist/{entry_id}/hits")
def list_hits(entry_id: RowId, principal: CanWatch, db: SessionDep) -> list[WatchHitRead]:
    watch_service.get_entry(db, entry_id)
    return [hit_read(h) for h in watch_service.entry_hits(db, entry_id=entry_id)]


@router.delete("/watchlist/{entry_id}")
def remove_watch(entry_id: RowId, principal: CanWatch, db: SessionDep) -> WatchEntryRead:
    entry = watch_service.remove_entry(db, actor=principal.actor(), entry_id=entry_id)
    db.commit()
    return entry_read(entry)
