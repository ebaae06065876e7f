"""HTML page: the audit log with filters and the chain's verification status."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from chainsleuth.audit import service as audit
from chainsleuth.audit.enums import Outcome
from chainsleuth.audit.views import FilterDep
from chainsleuth.auth.enums import Permission
from chainsleuth.core.models import MAX_ROW_ID
from chainsleuth.web.deps import Principal, SessionDep, requires
from chainsleuth.web.templating import render

router = APIRouter()

CanRead = Annotated[Principal, Depends(requires(Permission.AUDIT_READ))]
PAGE = 50


@router.get("/audit")
def audit_page(
    request: Request,
    principal: CanRead,
    db: SessionDep,
    flt: FilterDep,
    before: Annotated[int | None, Query(ge=1, le=MAX_ROW_ID)] = None,
) -> Response:
    events = audit.search(db, flt=flt, limit=PAGE, before_seq=before)
    context = {
        "events": events,
        "flt": flt,
        "total": audit.count(db, flt=flt),
        "actions": audit.actions(db),
        "outcomes": list(Outcome),
        "next_url": _older_url(request, events[-1].seq) if len(events) == PAGE else None,
        "can_verify": principal.can(Permission.AUDIT_VERIFY),
    }
    # htmx swaps the table in place; a history restore (the back button) needs the whole page
    partial = request.headers.get("hx-request") and not request.headers.get(
        "hx-history-restore-request"
    )
    return render(request, "audit/_events.html" if partial else "audit/list.html", context)


def _older_url(request: Request, before: int) -> str:
    url = request.url.include_query_params(before=before)
    return f"{url.path}?{url.query}"


@router.get("/audit/verify")
def audit_verify_fragment(
    request: Request,
    _: Annotated[Principal, Depends(requires(Permission.AUDIT_VERIFY))],
    db: SessionDep,
) -> Response:
    return render(request, "audit/_verify.html", {"result": audit.verify(db)})
