"""HTML pages: agencies and partner organisations, for administrators; the agency
registry (details, official domains, call-back number, contacts, status)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from chainsleuth.auth.enums import Permission
from chainsleuth.core.errors import ChainsleuthError, NotFound
from chainsleuth.core.models import RowId
from chainsleuth.orgs import service as org_service
from chainsleuth.orgs.enums import AgencyStatus, JurisdictionLevel, OrganisationKind
from chainsleuth.orgs.schemas import AgencyCreate, AgencyUpdate, OrganisationCreate
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


# --- the agency registry (Permission.AGENCIES_MANAGE) ----------------------------------------

CanManageAgencies = Annotated[Principal, Depends(requires(Permission.AGENCIES_MANAGE))]


def _agencies_page(
    request: Request,
    db: SessionDep,
    *,
    error: str | None = None,
    notice: str | None = None,
    form: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "orgs/agencies.html",
        {
            "agencies": org_service.list_agencies(db),
            "levels": list(JurisdictionLevel),
            "form": form or {},
            "error": error,
            "notice": notice,
        },
        status_code=status_code,
    )


@router.get("/admin/agencies")
def agencies_page(request: Request, _: CanManageAgencies, db: SessionDep) -> Response:
    return _agencies_page(request, db)


@router.post("/admin/agencies")
def agencies_create(
    request: Request,
    principal: CanManageAgencies,
    db: SessionDep,
    name: Annotated[str, Form(max_length=200)] = "",
    country: Annotated[str, Form(max_length=2)] = "",
    jurisdiction_level: Annotated[str, Form(max_length=16)] = "national",
    kind: Annotated[str, Form(max_length=32)] = "",
    domains: Annotated[str, Form(max_length=2000)] = "",
    callback_phone: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    form = {
        "name": name,
        "country": country,
        "jurisdiction_level": jurisdiction_level,
        "kind": kind,
        "domains": domains,
        "callback_phone": callback_phone,
    }
    try:
        data = parse(
            AgencyCreate,
            name=name,
            country=country,
            jurisdiction_level=jurisdiction_level,
            kind=kind or None,
            email_domains=domains.replace(",", " ").split(),
            callback_phone=callback_phone or None,
        )
        agency = org_service.create_agency(db, actor=principal.actor(), data=data)
    except ChainsleuthError as exc:
        code = 409 if exc.code == "conflict" else 422
        return _agencies_page(request, db, error=exc.message, form=form, status_code=code)
    return RedirectResponse(f"/admin/agencies/{agency.id}?created=1", status_code=303)


def _agency_page(
    request: Request,
    db: SessionDep,
    agency_id: int,
    *,
    error: str | None = None,
    notice: str | None = None,
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "orgs/agency.html",
        {
            "agency": org_service.require_agency(db, agency_id),
            "levels": list(JurisdictionLevel),
            "statuses": list(AgencyStatus),
            "error": error,
            "notice": notice,
        },
        status_code=status_code,
    )


@router.get("/admin/agencies/{agency_id}")
def agency_page(
    request: Request, agency_id: RowId, _: CanManageAgencies, db: SessionDep, created: bool = False
) -> Response:
    return _agency_page(
        request, db, agency_id, notice="the agency is registered" if created else None
    )


@router.post("/admin/agencies/{agency_id}")
def agency_update(
    request: Request,
    agency_id: RowId,
    principal: CanManageAgencies,
    db: SessionDep,
    name: Annotated[str, Form(max_length=200)] = "",
    country: Annotated[str, Form(max_length=2)] = "",
    jurisdiction_level: Annotated[str, Form(max_length=16)] = "",
    kind: Annotated[str, Form(max_length=32)] = "",
    domains: Annotated[str, Form(max_length=2000)] = "",
    callback_phone: Annotated[str, Form(max_length=40)] = "",
    status: Annotated[str, Form(max_length=16)] = "",
) -> Response:
    try:
        data = parse(
            AgencyUpdate,
            name=name,
            country=country,
            jurisdiction_level=jurisdiction_level,
            kind=kind or None,
            email_domains=domains.replace(",", " ").split(),
            callback_phone=callback_phone or None,
            status=status,
        )
        org_service.update_agency(db, actor=principal.actor(), agency_id=agency_id, data=data)
    except ChainsleuthError as exc:
        code = 409 if exc.code == "conflict" else 404 if exc.code == "not_found" else 422
        db.rollback()
        return _agency_page(request, db, agency_id, error=exc.message, status_code=code)
    return _agency_page(request, db, agency_id, notice="the agency is saved")


def _contact_dicts(agency_id: int, db: SessionDep) -> list[dict[str, str | None]]:
    agency = org_service.require_agency(db, agency_id)
    return [
        {"name": c.name, "role": c.role, "email": c.email, "phone": c.phone}
        for c in agency.contacts
    ]


@router.post("/admin/agencies/{agency_id}/contacts")
def contact_add(
    request: Request,
    agency_id: RowId,
    principal: CanManageAgencies,
    db: SessionDep,
    name: Annotated[str, Form(max_length=200)] = "",
    role: Annotated[str, Form(max_length=100)] = "",
    email: Annotated[str, Form(max_length=254)] = "",
    phone: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    contacts = _contact_dicts(agency_id, db)
    new = {"name": name, "role": role, "email": email or None, "phone": phone or None}
    try:
        data = parse(AgencyUpdate, contacts=[*contacts, new])
        org_service.update_agency(db, actor=principal.actor(), agency_id=agency_id, data=data)
    except ChainsleuthError as exc:
        return _agency_page(request, db, agency_id, error=exc.message, status_code=422)
    return _agency_page(request, db, agency_id, notice=f"{name.strip()} is added as a contact")


@router.post("/admin/agencies/{agency_id}/contacts/{index}/delete")
def contact_delete(
    request: Request,
    agency_id: RowId,
    index: int,
    principal: CanManageAgencies,
    db: SessionDep,
) -> Response:
    contacts = _contact_dicts(agency_id, db)
    if not 0 <= index < len(contacts):
        raise NotFound("no such contact")
    removed = contacts.pop(index)
    data = parse(AgencyUpdate, contacts=contacts)
    org_service.update_agency(db, actor=principal.actor(), agency_id=agency_id, data=data)
    return _agency_page(request, db, agency_id, notice=f"{removed['name']} is removed")
