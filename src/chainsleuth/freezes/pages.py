"""HTML pages of freezes: the register (filters: status, due), a freeze with its approvals and
ledger trail and the forms of each four-eyes step, and the "freeze account" form reached from
a customer's page. Amounts are typed in the asset's unit (``0.5`` BTC) and stored in its
smallest unit; dates are days (the start of the day, UTC)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from chainsleuth.auth.enums import Permission
from chainsleuth.core.errors import ChainsleuthError, InvalidInput
from chainsleuth.core.models import MAX_ROW_ID, RowId
from chainsleuth.exchange import service as exchange_service
from chainsleuth.exchange.parse import ASSETS, RowError, units
from chainsleuth.freezes import reports
from chainsleuth.freezes import service as freeze_service
from chainsleuth.freezes.enums import FreezeStatus, Scope
from chainsleuth.freezes.schemas import ExtensionCreate, FreezeCreate, SeizureCreate
from chainsleuth.orgs import service as org_service
from chainsleuth.web.deps import Principal, SessionDep, requires
from chainsleuth.web.errors import status_for
from chainsleuth.web.forms import parse
from chainsleuth.web.templating import render

router = APIRouter()

CanRead = Annotated[Principal, Depends(requires(Permission.FREEZES_READ))]
CanRequest = Annotated[
    Principal, Depends(requires(Permission.FREEZES_READ, Permission.FREEZES_REQUEST))
]
CanApprove = Annotated[
    Principal, Depends(requires(Permission.FREEZES_READ, Permission.FREEZES_APPROVE))
]
Text = Annotated[str, Form(max_length=2000)]
Short = Annotated[str, Form(max_length=100)]

#: what a step's redirect says (a fixed message per outcome, nothing reflected)
NOTICES = {
    "requested": "Freeze requested: it takes effect when a second person approves it.",
    "approved": "Approved: the step has taken effect.",
    "rejected": "Rejected.",
    "release": "Release requested: it takes effect when a second person approves it.",
    "extend": "Extension requested: it takes effect when a second person approves it.",
    "seize": "Seizure requested: it takes effect when a second person approves it.",
}


def _day(value: str, what: str) -> datetime | None:
    if not value.strip():
        return None
    try:
        return datetime.combine(date.fromisoformat(value.strip()), time(), tzinfo=UTC)
    except ValueError:
        raise InvalidInput(f"the {what} is not a date (YYYY-MM-DD)") from None


def _int(value: str, what: str) -> int | None:
    if not value.strip():
        return None
    if not value.strip().isdigit() or len(value.strip()) > 18:
        raise InvalidInput(f"the {what} is a number like 42")
    return int(value.strip())


def _units(value: str, asset: str | None) -> int | None:
    if not value.strip():
        return None
    if asset is None or asset not in ASSETS:
        raise InvalidInput("an amount needs its asset account")
    try:
        amount = units(value.strip(), asset)
    except RowError as exc:
        raise InvalidInput(f"the amount: {exc}") from None
    if amount <= 0:
        raise InvalidInput("the amount must be more than zero")
    return amount


@router.get("/freezes")
def register(
    request: Request,
    _: CanRead,
    db: SessionDep,
    status: Annotated[str, Query(max_length=16)] = "",
    due: Annotated[str, Query(max_length=4)] = "",
    customer: Annotated[str, Query(max_length=32)] = "",
) -> Response:
    error = None
    rows: list[Any] = []
    try:
        days = _int(due, "number of days")
        rows = reports.reads(db, reports.list_freezes(db, status=status or None, due_within=days))
    except InvalidInput as exc:
        error = exc.message
    return render(
        request,
        "freezes/register.html",
        {
            "rows": rows,
            "status": status,
            "due": due,
            "customer": customer,
            "statuses": list(FreezeStatus),
            "error": error,
        },
        status_code=422 if error else 200,
    )


def _new_page(
    request: Request,
    db: SessionDep,
    customer_id: str,
    *,
    error: str | None = None,
    form: dict[str, str] | None = None,
) -> Response:
    customer = exchange_service.get_customer(db, customer_id)
    detail = exchange_service.customer_read(db, customer, shown=0)
    return render(
        request,
        "freezes/new.html",
        {"c": detail, "scopes": list(Scope), "error": error, "form": form or {}},
        status_code=422 if error else 200,
    )


@router.get("/freezes/new")
def new_freeze(
    request: Request,
    _: CanRequest,
    db: SessionDep,
    customer: Annotated[str, Query(min_length=1, max_length=32)],
    case: Annotated[int | None, Query(ge=1, le=MAX_ROW_ID)] = None,
) -> Response:
    """The form; ``case`` (from a case's "freeze account") fills in the case as legal basis."""
    return _new_page(request, db, customer, form={"case_id": str(case)} if case else None)


@router.post("/freezes")
def create_freeze(
    request: Request,
    principal: CanRequest,
    db: SessionDep,
    customer_id: Annotated[str, Form(max_length=32)] = "",
    scope: Annotated[str, Form(max_length=16)] = "account",
    exchange_account_id: Annotated[str, Form(max_length=48)] = "",
    amount: Short = "",
    request_id: Short = "",
    case_id: Short = "",
    review_at: Short = "",
    expires_at: Short = "",
    reason: Text = "",
) -> Response:
    form = {k: v for k, v in locals().items() if isinstance(v, str)}
    try:
        asset = exchange_account_id.rsplit("-", 1)[-1].upper() if exchange_account_id else None
        data = parse(
            FreezeCreate,
            customer_id=customer_id,
            scope=scope,
            exchange_account_id=exchange_account_id or None,
            amount=_units(amount, asset) if scope == Scope.AMOUNT else None,
            request_id=_int(request_id, "request number"),
            case_id=_int(case_id, "case number"),
            review_at=_day(review_at, "review date"),
            expires_at=_day(expires_at, "expiry"),
            reason=reason,
        )
        freeze = freeze_service.request_freeze(db, actor=principal.actor(), data=data)
    except ChainsleuthError as exc:
        if not customer_id:
            raise
        return _new_page(request, db, customer_id, error=exc.message, form=form)
    return RedirectResponse(f"/freezes/{freeze.id}?done=requested", status_code=303)


def _freeze_page(
    request: Request,
    principal: Principal,
    db: SessionDep,
    freeze_id: int,
    *,
    error: str | None = None,
    notice: str | None = None,
    status_code: int = 200,
) -> Response:
    freeze = freeze_service.get(db, freeze_id)
    detail = reports.detail(db, freeze)
    pending = next((a for a in detail.actions if a.status == "pending"), None)
    own = pending is not None and pending.requested_by == principal.user.username
    return render(
        request,
        "freezes/freeze.html",
        {
            "f": detail,
            "pending": pending,
            "can_decide": principal.can(Permission.FREEZES_APPROVE) and pending and not own,
            "own_pending": own,
            "can_request": principal.can(Permission.FREEZES_REQUEST)
            and detail.status == FreezeStatus.ACTIVE
            and pending is None,
            "agencies": org_service.list_agencies(db),
            "error": error,
            "notice": notice,
        },
        status_code=status_code,
    )


@router.get("/freezes/{freeze_id}")
def freeze_page(
    request: Request,
    principal: CanRead,
    db: SessionDep,
    freeze_id: RowId,
    done: Annotated[str, Query(max_length=16)] = "",
) -> Response:
    return _freeze_page(request, principal, db, freeze_id, notice=NOTICES.get(done))


def _step(
    request: Request, principal: Principal, db: SessionDep, freeze_id: int, done: str, fn: Any
) -> Response:
    try:
        fn()
    except ChainsleuthError as exc:
        if status_for(exc) == 404:
            raise
        return _freeze_page(
            request, principal, db, freeze_id, error=exc.message, status_code=status_for(exc)
        )
    return RedirectResponse(f"/freezes/{freeze_id}?done={done}", status_code=303)


@router.post("/freezes/{freeze_id}/approve")
def approve(
    request: Request, principal: CanApprove, db: SessionDep, freeze_id: RowId, note: Text = ""
) -> Response:
    actor = principal.actor()
    return _step(
        request,
        principal,
        db,
        freeze_id,
        "approved",
        lambda: freeze_service.approve(db, actor=actor, freeze_id=freeze_id, note=note),
    )


@router.post("/freezes/{freeze_id}/reject")
def reject(
    request: Request, principal: CanApprove, db: SessionDep, freeze_id: RowId, note: Text = ""
) -> Response:
    actor = principal.actor()
    return _step(
        request,
        principal,
        db,
        freeze_id,
        "rejected",
        lambda: freeze_service.reject(db, actor=actor, freeze_id=freeze_id, note=note),
    )


@router.post("/freezes/{freeze_id}/release")
def release(
    request: Request, principal: CanRequest, db: SessionDep, freeze_id: RowId, note: Text = ""
) -> Response:
    actor = principal.actor()
    return _step(
        request,
        principal,
        db,
        freeze_id,
        "release",
        lambda: freeze_service.request_release(db, actor=actor, freeze_id=freeze_id, note=note),
    )


@router.post("/freezes/{freeze_id}/extend")
def extend(
    request: Request,
    principal: CanRequest,
    db: SessionDep,
    freeze_id: RowId,
    review_at: Short = "",
    expires_at: Short = "",
    note: Text = "",
) -> Response:
    actor = principal.actor()

    def run() -> None:
        data = ExtensionCreate(
            review_at=_day(review_at, "new review date"),
            expires_at=_day(expires_at, "new expiry"),
            note=note,
        )
        freeze_service.request_extension(db, actor=actor, freeze_id=freeze_id, data=data)

    return _step(request, principal, db, freeze_id, "extend", run)


@router.post("/freezes/{freeze_id}/seize")
def seize(
    request: Request,
    principal: CanRequest,
    db: SessionDep,
    freeze_id: RowId,
    agency_id: Short = "",
    wallet_address: Short = "",
    exchange_account_id: Annotated[str, Form(max_length=48)] = "",
    amount: Short = "",
    note: Text = "",
) -> Response:
    actor = principal.actor()

    def run() -> None:
        asset = exchange_account_id.rsplit("-", 1)[-1].upper() if exchange_account_id else None
        if amount.strip() and asset is None:
            asset = freeze_service.get(db, freeze_id).asset
        data = parse(
            SeizureCreate,
            agency_id=_int(agency_id, "agency") or 0,
            wallet_address=wallet_address,
            exchange_account_id=exchange_account_id or None,
            amount=_units(amount, asset),
            note=note,
        )
        freeze_service.request_seizure(db, actor=actor, freeze_id=freeze_id, data=data)

    return _step(request, principal, db, freeze_id, "seize", run)
