"""HTML pages of cases: the list with filters and saved views (``/cases``), a case's page
with its tabs (``/cases/{id}?tab=...``), and "open a case / add to case" for any item
(``/cases/add?item_type=address&item_ref=btc:...``, linked from the address, trace, alert
and request pages). Forms carry their CSRF token; a change redirects back with a notice,
a refusal shows the page again with the reason.
"""

from __future__ import annotations

import json
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from chainsleuth.auth.enums import Permission
from chainsleuth.cases import reads
from chainsleuth.cases import saved as case_saved
from chainsleuth.cases import service as case_service
from chainsleuth.cases.case_pages import router as case_page_router
from chainsleuth.cases.enums import (
    ItemType,
)
from chainsleuth.cases.page_common import (
    NOTICES,
    PAGE,
    SUBJECT_TYPES,
    CanRead,
    CanWork,
    FormText,
    back,
    enum_options,
)
from chainsleuth.cases.schemas import (
    CaseCreate,
    CaseFilter,
    LinkCreate,
)
from chainsleuth.cases.views import CaseId, filters
from chainsleuth.core.errors import ChainsleuthError, InvalidInput
from chainsleuth.core.models import RowId
from chainsleuth.web.deps import Principal, SessionDep
from chainsleuth.web.errors import status_for
from chainsleuth.web.forms import parse
from chainsleuth.web.templating import render

router = APIRouter()


# --- the list ---------------------------------------------------------------------------


def _list_page(
    request: Request,
    principal: Principal,
    db: SessionDep,
    flt: CaseFilter,
    *,
    view_id: int | None = None,
    error: str | None = None,
    notice: str | None = None,
    status_code: int = 200,
    offset: int = 0,
) -> Response:
    rows, total = case_service.list_cases(
        db, actor=principal.actor(), flt=flt, limit=PAGE, offset=offset
    )
    query = {k: v for k, v in request.query_params.items() if k not in ("offset", "notice")}
    more = offset + PAGE < total
    return render(
        request,
        "cases/list.html",
        {
            "cases": reads.case_reads(db, rows),
            "total": total,
            "flt": flt,
            "view_id": view_id,
            "views": case_saved.views(db, user_id=principal.user.id),
            "filters_json": json.dumps(flt.model_dump(mode="json")),
            "next_url": f"/cases?{urlencode({**query, 'offset': offset + PAGE})}" if more else None,
            "can_work": principal.can(Permission.CASES_WORK),
            "error": error,
            "notice": notice,
            **enum_options(),
        },
        status_code=status_code,
    )


@router.get("/cases")
def cases_page(
    request: Request,
    principal: CanRead,
    db: SessionDep,
    flt: Annotated[CaseFilter, Depends(filters)],
    view: Annotated[RowId | None, Query()] = None,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    notice: Annotated[str | None, Query(max_length=32)] = None,
) -> Response:
    if view is not None:
        flt = CaseFilter.model_validate(
            case_saved.get_view(db, actor=principal.actor(), view_id=view).filters
        )
    return _list_page(
        request, principal, db, flt, view_id=view, offset=offset, notice=NOTICES.get(notice or "")
    )


@router.post("/cases/views")
def save_view_form(
    request: Request,
    principal: CanRead,
    db: SessionDep,
    name: Annotated[str, Form(max_length=100)] = "",
    filters_json: Annotated[str, Form(max_length=5000)] = "{}",
) -> Response:
    try:
        flt = CaseFilter.model_validate(json.loads(filters_json or "{}"))
    except ValueError:
        flt = CaseFilter()
    try:
        view = case_saved.save_view(db, actor=principal.actor(), name=name, flt=flt)
    except ChainsleuthError as exc:
        db.rollback()
        return _list_page(
            request, principal, db, flt, error=exc.message, status_code=status_for(exc)
        )
    return RedirectResponse(f"/cases?view={view.id}&notice=view", 303)


@router.post("/cases/views/{view_id}/delete")
def delete_view_form(principal: CanRead, db: SessionDep, view_id: CaseId) -> Response:
    case_saved.delete_view(db, actor=principal.actor(), view_id=view_id)
    return RedirectResponse("/cases", 303)


# --- open a case, add to a case ---------------------------------------------------------


@router.get("/cases/add")
def add_page(
    request: Request,
    principal: CanWork,
    db: SessionDep,
    item_type: Annotated[ItemType | None, Query()] = None,
    item_ref: Annotated[str, Query(max_length=200)] = "",
    title: Annotated[str, Query(max_length=300)] = "",
) -> Response:
    """Open a case for an item, or add the item to one of the open cases."""
    return _add_page(request, principal, db, item_type=item_type, item_ref=item_ref, title=title)


def _add_page(
    request: Request,
    principal: Principal,
    db: SessionDep,
    *,
    item_type: ItemType | None,
    item_ref: str,
    title: str = "",
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    rows, _ = case_service.list_cases(
        db, actor=principal.actor(), flt=CaseFilter(include_closed=False), limit=200
    )
    return render(
        request,
        "cases/add.html",
        {
            "cases": reads.case_reads(db, rows),
            "item_type": item_type,
            "item_ref": item_ref,
            "title": title,
            "error": error,
            **enum_options(),
        },
        status_code=status_code,
    )


@router.post("/cases/new")
def open_case_form(
    request: Request,
    principal: CanWork,
    db: SessionDep,
    title: Annotated[str, Form(max_length=300)] = "",
    type_: Annotated[str, Form(alias="type", max_length=32)] = "",
    severity: Annotated[str, Form(max_length=16)] = "medium",
    summary: FormText = "",
    restricted: Annotated[bool, Form()] = False,
    item_type: Annotated[str, Form(max_length=16)] = "",
    item_ref: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    links = [{"item_type": item_type, "item_ref": item_ref}] if item_type and item_ref else []
    try:
        data = parse(
            CaseCreate,
            title=title,
            type=type_,
            severity=severity,
            summary=summary,
            restricted=restricted,
            links=links,
        )
        case = case_service.create_case(db, actor=principal.actor(), data=data)
    except ChainsleuthError as exc:
        db.rollback()
        kind = ItemType(item_type) if item_type in set(ItemType) else None
        return _add_page(
            request,
            principal,
            db,
            item_type=kind,
            item_ref=item_ref,
            title=title,
            error=exc.message,
            status_code=status_for(exc),
        )
    return back(case.id, "subjects" if links else "summary", "opened")


@router.post("/cases/add-link")
def add_to_case_form(
    request: Request,
    principal: CanWork,
    db: SessionDep,
    case_id: Annotated[str, Form(max_length=20)] = "",
    item_type: Annotated[str, Form(max_length=16)] = "",
    item_ref: Annotated[str, Form(max_length=200)] = "",
    note: FormText = "",
) -> Response:
    try:
        if not case_id.strip().isdigit():
            raise InvalidInput("choose a case")
        data = parse(LinkCreate, item_type=item_type, item_ref=item_ref, note=note or None)
        case = case_service.get_case(db, int(case_id), actor=principal.actor())
        case_service.add_link(
            db,
            actor=principal.actor(),
            case_id=case.id,
            item_type=data.item_type,
            item_ref=data.item_ref,
            note=data.note,
        )
    except ChainsleuthError as exc:
        db.rollback()
        kind = ItemType(item_type) if item_type in set(ItemType) else None
        return _add_page(
            request,
            principal,
            db,
            item_type=kind,
            item_ref=item_ref,
            error=exc.message,
            status_code=status_for(exc),
        )
    tab = "subjects" if data.item_type in SUBJECT_TYPES else "links"
    return back(case.id, tab, "link")


router.include_router(case_page_router)
