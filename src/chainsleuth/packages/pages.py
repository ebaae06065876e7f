"""HTML pages: the reviewer's gathering page, a package's page and download, the request's
response section, the signing key (human and ``/.well-known``), and the request metrics.

Forms POST with their CSRF token and redirect (303) to the page with a notice; a refused
step (an unverified sender, records changed since gathering) shows its reason.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import FileResponse, PlainTextResponse, RedirectResponse, Response
from sqlalchemy import select

from chainsleuth.auth.enums import Permission
from chainsleuth.chain.views import ReaderDep
from chainsleuth.core.errors import ChainsleuthError, InvalidInput
from chainsleuth.core.models import RowId, as_utc
from chainsleuth.packages import service as package_service
from chainsleuth.packages import signing
from chainsleuth.packages import stats as stats_module
from chainsleuth.packages.enums import Category
from chainsleuth.packages.models import Gathering, Package
from chainsleuth.packages.views import (
    CanRead,
    CanStats,
    CanWork,
    GatheringDep,
    PackageDep,
    send_package,
    tracing_context,
)
from chainsleuth.requests import queries as request_queries
from chainsleuth.web.deps import Principal, SessionDep, SettingsDep
from chainsleuth.web.errors import status_for
from chainsleuth.web.templating import render

router = APIRouter()

NOTICES = {
    "gathered": "Gathered. Tick what the legal basis allows, then save.",
    "selected": "Selection saved.",
    "approved": "The package was built, signed and delivered to the agency.",
}
WELL_KNOWN = "/.well-known/chainsleuth-signing-key"


def _gathering_page(
    request: Request,
    principal: Principal,
    db: SessionDep,
    g: Gathering,
    *,
    notice: str | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    by_customer: dict[str, list[object]] = {}
    for item in g.items:
        by_customer.setdefault(item.customer_id, []).append(item)
    package = db.get(Package, _package_id(db, g)) if g.status == "approved" else None
    return render(
        request,
        "packages/gathering.html",
        {
            "g": g,
            "by_customer": by_customer,
            "labels": {str(c): c.label for c in Category},
            "package": package,
            "can_approve": principal.can(Permission.REQUESTS_APPROVE),
            "notice": notice,
            "error": error,
        },
        status_code=status_code,
    )


def _package_id(db: SessionDep, g: Gathering) -> int:
    return db.scalar(select(Package.id).where(Package.gathering_id == g.id)) or 0


@router.get("/requests/{request_id}/response")
def response_page(
    request: Request,
    principal: CanRead,
    db: SessionDep,
    request_id: Annotated[RowId, Path()],
) -> Response:
    """The request's response: its packages (officer and staff), its gatherings (staff)."""
    req = request_queries.load(db, user=principal.user, request_id=request_id)
    packages = package_service.packages_for(db, user=principal.user, request_id=req.id)
    staff = principal.can(Permission.REQUESTS_WORK)
    return render(
        request,
        "packages/response.html",
        {
            "req": req,
            "packages": packages,
            "gatherings": package_service.gatherings_of_request(db, req.id) if staff else [],
            "staff": staff,
            "expired": {p.id: package_service.expired(p) for p in packages},
        },
    )


@router.post("/requests/{request_id}/gather")
def gather(
    request: Request,
    principal: CanWork,
    db: SessionDep,
    settings: SettingsDep,
    reader: ReaderDep,
    request_id: Annotated[RowId, Path()],
) -> Response:
    req = request_queries.load(db, user=principal.user, request_id=request_id)
    src = package_service.sources(
        settings, reader=reader, tracing=tracing_context(request, settings, db)
    )
    g = package_service.gather(db, actor=principal.actor(), src=src, request=req)
    return RedirectResponse(f"/gatherings/{g.id}?done=gathered", status_code=303)


@router.get("/gatherings/{gathering_id}")
def gathering_page(
    request: Request,
    principal: CanWork,
    db: SessionDep,
    gathering: GatheringDep,
    done: Annotated[str, Query(max_length=20)] = "",
) -> Response:
    return _gathering_page(request, principal, db, gathering, notice=NOTICES.get(done))


@router.get("/gatherings/{gathering_id}/items/{item_id}")
def item_preview(
    request: Request,
    principal: CanWork,
    db: SessionDep,
    settings: SettingsDep,
    reader: ReaderDep,
    gathering: GatheringDep,
    item_id: Annotated[RowId, Path()],
) -> Response:
    """The first rows of an item (KYC masked)."""
    item = next((i for i in gathering.items if i.id == item_id), None)
    if item is None:
        raise InvalidInput(f"item {item_id} is not in gathering {gathering.id}")
    src = package_service.sources(
        settings, reader=reader, tracing=tracing_context(request, settings, db)
    )
    table = package_service.preview(db, item=item, src=src)
    return render(
        request,
        "packages/item.html",
        {"g": gathering, "item": item, "table": table, "label": Category(item.category).label},
    )


@router.post("/gatherings/{gathering_id}/selection")
async def save_selection(
    request: Request, principal: CanWork, db: SessionDep, gathering: GatheringDep
) -> Response:
    form = await request.form()
    try:
        ids = [int(str(v)) for v in form.getlist("item")]
    except ValueError:
        ids = []
    try:
        package_service.select_items(db, actor=principal.actor(), gathering=gathering, item_ids=ids)
    except ChainsleuthError as exc:
        db.rollback()
        return _gathering_page(request, principal, db, gathering, error=exc.message,
                               status_code=status_for(exc))  # fmt: skip
    return RedirectResponse(f"/gatherings/{gathering.id}?done=selected", status_code=303)


@router.post("/gatherings/{gathering_id}/approve")
def approve(
    request: Request,
    principal: CanWork,
    db: SessionDep,
    settings: SettingsDep,
    reader: ReaderDep,
    gathering: GatheringDep,
) -> Response:
    if not principal.can(Permission.REQUESTS_APPROVE):
        return _gathering_page(
            request, principal, db, gathering, status_code=403,
            error="only a legal reviewer may approve the package (needs requests:approve)",
        )  # fmt: skip
    src = package_service.sources(
        settings, reader=reader, tracing=tracing_context(request, settings, db)
    )
    try:
        package_service.approve(
            db, actor=principal.actor(), settings=settings, gathering=gathering, src=src
        )
    except ChainsleuthError as exc:
        db.rollback()
        return _gathering_page(request, principal, db, gathering, error=exc.message,
                               status_code=status_for(exc))  # fmt: skip
    return RedirectResponse(f"/gatherings/{gathering.id}?done=approved", status_code=303)


@router.get("/packages/{package_id}")
def package_page(
    request: Request, principal: CanRead, db: SessionDep, package: PackageDep
) -> Response:
    staff = principal.can(Permission.REQUESTS_WORK)
    return render(
        request,
        "packages/package.html",
        {
            "p": package,
            "expired": package_service.expired(package),
            "downloads": package_service.downloads_of(db, package) if staff else [],
            "staff": staff,
        },
    )


@router.get("/packages/{package_id}/download")
def download(
    principal: CanRead, db: SessionDep, settings: SettingsDep, package: PackageDep
) -> FileResponse:
    return send_package(db, settings=settings, principal=principal, package=package)


@router.get(WELL_KNOWN)
def well_known_key(settings: SettingsDep) -> Response:
    """The platform's public signing key (PEM), for anyone verifying a package."""
    public = signing.load_private_key(settings).public_key()
    return PlainTextResponse(
        signing.public_pem(public).decode(),
        media_type="application/x-pem-file",
        headers={"X-Key-Fingerprint": signing.fingerprint(public)},
    )


@router.get("/signing-key")
def signing_key_page(request: Request, settings: SettingsDep) -> Response:
    public = signing.load_private_key(settings).public_key()
    return render(
        request,
        "packages/signing_key.html",
        {
            "pem": signing.public_pem(public).decode(),
            "fingerprint": signing.fingerprint(public),
            "well_known": WELL_KNOWN,
        },
    )


@router.get("/requests/stats")
def stats_page(
    request: Request,
    _: CanStats,
    db: SessionDep,
    since: Annotated[str, Query(max_length=40)] = "",
    until: Annotated[str, Query(max_length=40)] = "",
) -> Response:
    error = None
    low = high = None
    try:
        low = as_utc(datetime.fromisoformat(since)) if since else None
        high = as_utc(datetime.fromisoformat(until)) if until else None
    except ValueError:
        error = "give the dates as YYYY-MM-DD"
    s = stats_module.compute(db, since=low, until=high)
    return render(
        request,
        "packages/stats.html",
        {"s": s, "since": since, "until": until, "error": error},
        status_code=422 if error else 200,
    )
