"""JSON API: agencies and partner organisations (the tenants)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, status

from chainsleuth.auth.enums import Permission
from chainsleuth.core.models import RowId
from chainsleuth.orgs import service as org_service
from chainsleuth.orgs.enums import AgencyStatus
from chainsleuth.orgs.schemas import (
    AgencyCreate,
    AgencyRead,
    AgencyUpdate,
    OrganisationCreate,
    OrganisationRead,
)
from chainsleuth.web.deps import Principal, SessionDep, requires

router = APIRouter(tags=["organisations"])

CanRead = Annotated[Principal, Depends(requires(Permission.ORGS_READ))]
CanManage = Annotated[Principal, Depends(requires(Permission.ORGS_MANAGE))]
CanManageAgencies = Annotated[Principal, Depends(requires(Permission.AGENCIES_MANAGE))]


@router.get("/agencies")
def list_agencies(
    _: CanRead, db: SessionDep, status: AgencyStatus | None = None
) -> list[AgencyRead]:
    return [
        AgencyRead.model_validate(a)
        for a in org_service.list_agencies(db, status=str(status) if status else None)
    ]


@router.get("/agencies/{agency_id}")
def get_agency(agency_id: RowId, _: CanRead, db: SessionDep) -> AgencyRead:
    return AgencyRead.model_validate(org_service.require_agency(db, agency_id))


@router.post("/agencies", status_code=status.HTTP_201_CREATED)
def create_agency(data: AgencyCreate, principal: CanManageAgencies, db: SessionDep) -> AgencyRead:
    return AgencyRead.model_validate(
        org_service.create_agency(db, actor=principal.actor(), data=data)
    )


@router.patch("/agencies/{agency_id}")
def update_agency(
    agency_id: RowId, data: AgencyUpdate, principal: CanManageAgencies, db: SessionDep
) -> AgencyRead:
    return AgencyRead.model_validate(
        org_service.update_agency(db, actor=principal.actor(), agency_id=agency_id, data=data)
    )


@router.get("/organisations")
def list_organisations(_: CanRead, db: SessionDep) -> list[OrganisationRead]:
    return [OrganisationRead.model_validate(o) for o in org_service.list_organisations(db)]


@router.post("/organisations", status_code=status.HTTP_201_CREATED)
def create_organisation(
    data: OrganisationCreate, principal: CanManage, db: SessionDep
) -> OrganisationRead:
    return OrganisationRead.model_validate(
        org_service.create_organisation(db, actor=principal.actor(), data=data)
    )
