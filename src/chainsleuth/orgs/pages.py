"""HTML page: agencies and partner organisations, for administrators."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response

from chainsleuth.auth.enums import Permission
from chainsleuth.core.errors import ChainsleuthError
from chainsleuth.orgs import service as org_service
from chainsleuth.orgs.enums import OrganisationKind
from chainsleuth.orgs.schemas import AgencyCreate, OrganisationCreate
from chainsleuth.web.deps import Principal, SessionDep, requires
from chainsleuth.web.forms import parse
from chainsleuth.web.templating import render

router = APIRouter()

CanManage = Annotated[Principal, Depends(requires(Permission.ORGS_MANAGE))]


def _page(
    request: Request,
    db: SessionDep,
    *,
    error: str | None = None,
    notice: str | None = None,
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "orgs/list.html",
        {
            "agencies": org_service.list_agencies(db),
            "organisations": org_service.list_organisations(db),
            "kinds": list(OrganisationKind),
            "error": error,
            "notice": notice,
        },
        status_code=status_code,
    )


@router.get("/admin/orgs")
def orgs_page(request: Request, _: CanManage, db: SessionDep) -> Response:
    return _page(request, db)


@router.post("/admin/orgs/agencies")
def agency_create(
    request: Request,
    principal: CanManage,
    db: SessionDep,
    name: Annotated[str, Form(max_length=200)] = "",
    country: Annotated[str, Form(max_length=2)] = "",
    domains: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    try:
        data = parse(AgencyCreate, name=name, country=country, email_domains=domains.split())
        agency = org_service.create_agency(db, actor=principal.actor(), data=data)
    except ChainsleuthError as exc:
        return _page(request, db, error=exc.message, status_code=422)
    return _page(request, db, notice=f"Agency {agency.name} registered.")


@router.post("/admin/orgs/organisations")
def organisation_create(
    request: Request,
    principal: CanManage,
    db: SessionDep,
    name: Annotated[str, Form(max_length=200)] = "",
    kind: Annotated[str, Form(max_length=32)] = "",
    country: Annotated[str, Form(max_length=2)] = "",
) -> Response:
    try:
        data = parse(OrganisationCreate, name=name, kind=kind, country=country or None)
        org = org_service.create_organisation(db, actor=principal.actor(), data=data)
    except ChainsleuthError as exc:
        return _page(request, db, error=exc.message, status_code=422)
    return _page(request, db, notice=f"Organisation {org.name} registered.")
