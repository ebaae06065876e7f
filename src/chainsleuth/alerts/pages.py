"""HTML pages of alerts and the watch list.

``/alerts``: the queue with filters, paging and bulk actions on the selected alerts;
``/alerts/{id}``: reasons, details, the linked screening, comments, the workflow's forms and
the history; ``/alerts/stats``: the team lead's figures; ``/watchlist``: add and remove
entries. Forms carry their CSRF token; a change redirects back with a notice (one of a fixed
set, never text from the query), a refusal shows the page again with the reason and a 4xx.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from chainsleuth.alerts import service as alert_service
from chainsleuth.alerts import stats as alert_stats
from chainsleuth.alerts import watch as watch_service
from chainsleuth.alerts.enums import (
    AlertSource,
    AlertStatus,
    Disposition,
    Severity,
    WatchKind,
)
from chainsleuth.alerts.models import Alert
from chainsleuth.alerts.schemas import WatchEntryCreate
from chainsleuth.auth.enums import Permission
from chainsleuth.chain import service as chain_service
from chainsleuth.chain.chains import CHAINS
from chainsleuth.core.errors import ChainsleuthError, InvalidInput, NotFound
from chainsleuth.core.models import RowId, as_utc
from chainsleuth.web.deps import Principal, SessionDep, SettingsDep, requires
from chainsleuth.web.errors import status_for
from chainsleuth.web.forms import parse
from chainsleuth.web.templating import render

router = APIRouter()

CanRead = Annotated[Principal, Depends(requires(Permission.ALERTS_READ))]
CanWork = Annotated[Principal, Depends(requires(Permission.ALERTS_WORK))]
CanWatch = Annotated[Principal, Depends(requires(Permission.WATCHLIST_MANAGE))]

PAGE = 50
FILTERS = ("status", "severity", "source", "assignee", "since", "until", "subject")
NOTICES = {
    "assigned": "The alert was assigned.",
    "moved": "The alert's status was changed.",
    "closed": "The alert was closed.",
    "reopened": "The alert was re-opened.",
    "commented": "Your comment was added.",
    "bulk": "The selected alerts were updated.",
    "watched": "The entry was put on the watch list.",
    "unwatched": "The entry was taken off the watch list.",
}


def _notice(done: str | None) -> str | None:
    return NOTICES.get(done or "")


def _date(value: str, what: str) -> datetime | None:
    text = value.strip()
    if not text:
        return None
    try:
        return as_utc(datetime.fromisoformat(text))
    except ValueError:
        raise InvalidInput(f"{what}: {value!r} is not a date (YYYY-MM-DD)") from None


def _choices(values: list[str], parser: Any) -> list[Any]:
    return [parser(v) for v in values if v.strip()]


@router.get("/alerts")
def queue_page(
    request: Request,
    principal: CanRead,
    db: SessionDep,
    status: Annotated[list[str] | None, Query(max_length=16)] = None,
    severity: Annotated[list[str] | None, Query(max_length=16)] = None,
    source: Annotated[list[str] | None, Query(max_length=16)] = None,
    assignee: Annotated[str, Query(max_length=64)] = "",
    since: Annotated[str, Query(max_length=32)] = "",
    until: Annotated[str, Query(max_length=32)] = "",
    subject: Annotated[str, Query(max_length=200)] = "",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    done: Annotated[str | None, Query(max_length=32)] = None,
) -> Response:
    chosen: dict[str, Any] = {
        "status": [s for s in status or [] if s],
        "severity": [s for s in severity or [] if s],
        "source": [s for s in source or [] if s],
        "assignee": assignee.strip(),
        "since": since.strip(),
        "until": until.strip(),
        "subject": subject.strip(),
    }
    return _queue(request, principal, db, chosen, page=page, notice=_notice(done))


def _queue(
    request: Request,
    principal: Principal,
    db: Session,
    chosen: dict[str, Any],
    *,
    page: int = 1,
    notice: str | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    items: list[Alert] = []
    total = 0
    try:
        flt = alert_service.AlertFilter(
            status=_choices(chosen.get("status", []), alert_service.parse_status),
            severity=_choices(chosen.get("severity", []), alert_service.parse_severity),
            source=_choices(chosen.get("source", []), alert_service.parse_source),
            assignee=chosen.get("assignee") or None,
            since=_date(chosen.get("since", ""), "since"),
            until=_date(chosen.get("until", ""), "until"),
            subject=chosen.get("subject") or None,
            # by default the queue shows what is still to do
            open_only=not chosen.get("status"),
        )
        found, total = alert_service.list_alerts(db, flt=flt, limit=PAGE, offset=(page - 1) * PAGE)
        items = list(found)
    except InvalidInput as exc:
        error, status_code = exc.message, 422
    query = [(k, v) for k, vs in chosen.items() for v in (vs if isinstance(vs, list) else [vs])]
    query = [(k, v) for k, v in query if v]
    return render(
        request,
        "alerts/queue.html",
        {
            "alerts": items,
            "total": total,
            "page": page,
            "pages": max(1, -(-total // PAGE)),
            "query": urlencode(query),
            "chosen": chosen,
            "statuses": list(AlertStatus),
            "severities": list(Severity),
            "sources": list(AlertSource),
            "dispositions": list(Disposition),
            "workers": alert_service.workers(db),
            "can_work": principal.can(Permission.ALERTS_WORK),
            "error": error,
            "notice": notice,
        },
        status_code=status_code,
    )


@router.post("/alerts/bulk")
def bulk_submit(
    request: Request,
    principal: CanWork,
    db: SessionDep,
    ids: Annotated[list[int] | None, Form()] = None,
    action: Annotated[str, Form(max_length=16)] = "",
    assignee: Annotated[str, Form(max_length=64)] = "",
    disposition: Annotated[str, Form(max_length=32)] = "",
    note: Annotated[str, Form(max_length=10_000)] = "",
    back: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    # the queue's filters, to return to them (re-encoded: only ever a query string)
    kept = [(k, v) for k, v in parse_qsl(back) if k in FILTERS]
    try:
        alert_service.bulk(
            db,
            actor=principal.actor(),
            alert_ids=ids or [],
            action=action,
            assignee=assignee.strip() or None,
            disposition=disposition.strip() or None,
            note=note,
        )
        db.commit()
    except ChainsleuthError as exc:
        db.rollback()
        chosen: dict[str, Any] = {k: [] for k in ("status", "severity", "source")}
        for k, v in kept:
            if isinstance(chosen.get(k), list):
                chosen[k].append(v)
            else:
                chosen[k] = v
        return _queue(
            request, principal, db, chosen, error=exc.message, status_code=status_for(exc)
        )
    return RedirectResponse("/alerts?" + urlencode([*kept, ("done", "bulk")]), status_code=303)


@router.get("/alerts/stats")
def stats_page(
    request: Request,
    principal: CanRead,
    db: SessionDep,
    days: Annotated[int, Query(ge=1, le=alert_stats.MAX_DAYS)] = 30,
) -> Response:
    figures = alert_stats.stats(db, days=days)
    peak = max((d.count for d in figures.per_day), default=0)
    return render(
        request,
        "alerts/stats.html",
        {"figures": figures, "days": days, "peak": peak},
    )


def _detail(
    request: Request,
    principal: Principal,
    db: Session,
    alert: Alert,
    *,
    notice: str | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    history = [
        {"ts": e.ts, "actor": e.actor, "action": e.action, "details": json.loads(e.details)}
        for e in alert_service.history(db, alert)
    ]
    hits = watch_service.entry_hits(db, alert_id=alert.id) if alert.source == "watchlist" else []
    screening = None
    if alert.screening_id is not None and principal.can(Permission.RISK_READ):
        from chainsleuth.risk import screening as screening_service  # noqa: PLC0415

        try:
            screening = screening_service.get(db, alert.screening_id)
        except NotFound:
            screening = None
    return render(
        request,
        "alerts/detail.html",
        {
            "alert": alert,
            "history": history,
            "hits": hits,
            "workers": alert_service.workers(db),
            "dispositions": list(Disposition),
            "can_work": principal.can(Permission.ALERTS_WORK),
            "screening": screening,
            "notice": notice,
            "error": error,
        },
        status_code=status_code,
    )


@router.get("/alerts/{alert_id}")
def detail_page(
    request: Request,
    alert_id: RowId,
    principal: CanRead,
    db: SessionDep,
    done: Annotated[str | None, Query(max_length=32)] = None,
) -> Response:
    alert = alert_service.get_alert(db, alert_id)
    return _detail(request, principal, db, alert, notice=_notice(done))


def _change(
    request: Request,
    principal: Principal,
    db: Session,
    alert_id: int,
    done: str,
    change: Any,
) -> Response:
    alert = alert_service.get_alert(db, alert_id)
    try:
        result = change(alert)
        db.commit()
    except ChainsleuthError as exc:
        db.rollback()
        alert = alert_service.get_alert(db, alert_id)
        return _detail(
            request, principal, db, alert, error=exc.message, status_code=status_for(exc)
        )
    return RedirectResponse(f"/alerts/{alert_id}?done={result or done}", status_code=303)


@router.post("/alerts/{alert_id}/status")
def status_submit(
    request: Request,
    alert_id: RowId,
    principal: CanWork,
    db: SessionDep,
    status: Annotated[str, Form(max_length=16)] = "",
    disposition: Annotated[str, Form(max_length=32)] = "",
    note: Annotated[str, Form(max_length=10_000)] = "",
    reopen: Annotated[bool, Form()] = False,
) -> Response:
    def change(alert: Alert) -> str:
        was_closed = alert.status == AlertStatus.CLOSED
        alert_service.set_status(
            db,
            actor=principal.actor(),
            alert=alert,
            status=status or "",
            disposition=disposition.strip() or None,
            note=note,
            reopen=reopen,
        )
        if alert.status == AlertStatus.CLOSED:
            return "closed"
        return "reopened" if was_closed else "moved"

    return _change(request, principal, db, alert_id, "moved", change)


@router.post("/alerts/{alert_id}/assign")
def assign_submit(
    request: Request,
    alert_id: RowId,
    principal: CanWork,
    db: SessionDep,
    assignee: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    def change(alert: Alert) -> None:
        alert_service.assign(
            db, actor=principal.actor(), alert=alert, assignee=assignee.strip() or None
        )

    return _change(request, principal, db, alert_id, "assigned", change)


@router.post("/alerts/{alert_id}/comments")
def comment_submit(
    request: Request,
    alert_id: RowId,
    principal: CanWork,
    db: SessionDep,
    body: Annotated[str, Form(max_length=10_000)] = "",
) -> Response:
    def change(alert: Alert) -> None:
        alert_service.add_comment(db, actor=principal.actor(), alert=alert, body=body)

    return _change(request, principal, db, alert_id, "commented", change)


# -- the watch list -----------------------------------------------------------------------


def _watch_page(
    request: Request,
    db: Session,
    *,
    notice: str | None = None,
    error: str | None = None,
    form: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "alerts/watchlist.html",
        {
            "entries": watch_service.list_entries(db),
            "chains": sorted(CHAINS),
            "kinds": list(WatchKind),
            "severities": list(Severity),
            "scanned": {c: watch_service.next_height(db, c) for c in sorted(CHAINS)},
            "form": form or {},
            "notice": notice,
            "error": error,
        },
        status_code=status_code,
    )


@router.get("/watchlist")
def watchlist_page(
    request: Request,
    principal: CanWatch,
    db: SessionDep,
    done: Annotated[str | None, Query(max_length=32)] = None,
) -> Response:
    return _watch_page(request, db, notice=_notice(done))


@router.post("/watchlist")
def watch_submit(
    request: Request,
    principal: CanWatch,
    db: SessionDep,
    settings: SettingsDep,
    kind: Annotated[str, Form(max_length=16)] = "address",
    chain: Annotated[str, Form(max_length=16)] = "",
    value: Annotated[str, Form(max_length=200)] = "",
    reason: Annotated[str, Form(max_length=2000)] = "",
    severity: Annotated[str, Form(max_length=16)] = "high",
    expires: Annotated[str, Form(max_length=32)] = "",
) -> Response:
    form = {
        "kind": kind,
        "chain": chain,
        "value": value,
        "reason": reason,
        "severity": severity,
        "expires": expires,
    }
    try:
        data = parse(
            WatchEntryCreate,
            kind=kind,
            chain=chain,
            value=value,
            reason=reason,
            severity=severity,
            expires_at=_date(expires, "expires"),
        )
        watch_service.add_entry(
            db, actor=principal.actor(), data=data, store_root=chain_service.store_root(settings)
        )
        db.commit()
    except ChainsleuthError as exc:
        db.rollback()
        return _watch_page(request, db, error=exc.message, form=form, status_code=status_for(exc))
    return RedirectResponse("/watchlist?done=watched", status_code=303)


@router.post("/watchlist/{entry_id}/remove")
def unwatch_submit(
    request: Request, entry_id: RowId, principal: CanWatch, db: SessionDep
) -> Response:
    try:
        watch_service.remove_entry(db, actor=principal.actor(), entry_id=entry_id)
        db.commit()
    except ChainsleuthError as exc:
        db.rollback()
        return _watch_page(request, db, error=exc.message, status_code=status_for(exc))
    return RedirectResponse("/watchlist?done=unwatched", status_code=303)
