"""JSON API of gatherings and response packages, and the request metrics.

* ``POST /requests/{id}/gatherings`` (``requests:work``): gather every item of the request's
  subjects; ``GET /gatherings/{id}``; ``PUT /gatherings/{id}/selection`` ticks the items to
  produce; ``POST /gatherings/{id}/approve`` (``requests:approve``) builds, signs and
  delivers the package (409 with the workflow's reason when the request may not be
  delivered).
* ``GET /requests/{id}/packages``, ``GET /packages/{id}`` and ``GET /packages/{id}/download``:
  the agency's officers and staff; another agency's package is 404; an expired link 409.
* ``GET /request-stats`` (``requests:stats``): the metrics (``chainsleuth.packages.stats``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import FileResponse
from sqlalchemy.orm import Session

from chainsleuth.auth.enums import Permission
from chainsleuth.chain.views import ReaderDep
from chainsleuth.core.errors import PermissionDenied
from chainsleuth.core.models import RowId
from chainsleuth.packages import service as package_service
from chainsleuth.packages import stats as stats_module
from chainsleuth.packages.models import Gathering, Package
from chainsleuth.packages.schemas import GatheringRead, PackageRead, SelectionUpdate
from chainsleuth.requests import queries as request_queries
from chainsleuth.tracing import service as tracing_service
from chainsleuth.web.deps import CurrentPrincipal, Principal, SessionDep, SettingsDep, requires

router = APIRouter(tags=["packages"])

CanWork = Annotated[Principal, Depends(requires(Permission.REQUESTS_WORK))]
CanApprove = Annotated[Principal, Depends(requires(Permission.REQUESTS_APPROVE))]
CanStats = Annotated[Principal, Depends(requires(Permission.REQUESTS_STATS))]


def package_reader(principal: CurrentPrincipal) -> Principal:
    """The agency's officers and staff who work on requests."""
    if principal.can(Permission.REQUESTS_SUBMIT) or principal.can(Permission.REQUESTS_WORK):
        return principal
    raise PermissionDenied(
        "you do not have permission to do this (needs requests:submit or requests:work)"
    )


CanRead = Annotated[Principal, Depends(package_reader)]


def load_gathering(
    principal: CanWork, db: SessionDep, gathering_id: Annotated[RowId, Path()]
) -> Gathering:
    return package_service.get_gathering(db, user=principal.user, gathering_id=gathering_id)


def load_package(
    principal: CanRead, db: SessionDep, package_id: Annotated[RowId, Path()]
) -> Package:
    return package_service.get_package(db, user=principal.user, package_id=package_id)


GatheringDep = Annotated[Gathering, Depends(load_gathering)]
PackageDep = Annotated[Package, Depends(load_package)]


def tracing_context(
    request: Request, settings: SettingsDep, db: SessionDep
) -> tracing_service.TracingContext:
    ctx = getattr(request.app.state, "tracing_context", None)
    if isinstance(ctx, tracing_service.TracingContext):
        return ctx
    return tracing_service.context_for(settings, session=db)


def package_read(package: Package) -> PackageRead:
    return PackageRead.model_validate(
        {**_columns(package), "files": package.files, "download_path": download_path(package)}
    )


def _columns(obj: object) -> dict[str, object]:
    table = obj.__table__  # type: ignore[attr-defined]
    return {c.key: getattr(obj, c.key) for c in table.columns}


def download_path(package: Package) -> str:
    return f"/packages/{package.id}/download"


@router.post("/requests/{request_id}/gatherings", status_code=201)
def gather_request(
    request: Request,
    principal: CanWork,
    db: SessionDep,
    settings: SettingsDep,
    reader: ReaderDep,
    request_id: Annotated[RowId, Path()],
) -> GatheringRead:
    """Gather every item of the request's subjects (nothing ticked yet)."""
    req = request_queries.load(db, user=principal.user, request_id=request_id)
    src = package_service.sources(
        settings, reader=reader, tracing=tracing_context(request, settings, db)
    )
    g = package_service.gather(db, actor=principal.actor(), src=src, request=req)
    return GatheringRead.model_validate(g)


@router.get("/requests/{request_id}/gatherings")
def list_gatherings(
    principal: CanWork, db: SessionDep, request_id: Annotated[RowId, Path()]
) -> list[GatheringRead]:
    req = request_queries.load(db, user=principal.user, request_id=request_id)
    return [
        GatheringRead.model_validate(g) for g in package_service.gatherings_of_request(db, req.id)
    ]


@router.get("/gatherings/{gathering_id}")
def get_gathering(gathering: GatheringDep) -> GatheringRead:
    return GatheringRead.model_validate(gathering)


@router.put("/gatherings/{gathering_id}/selection")
def select_items(
    principal: CanWork, db: SessionDep, gathering: GatheringDep, body: SelectionUpdate
) -> GatheringRead:
    """Tick exactly these items (data minimisation: the others are withheld)."""
    g = package_service.select_items(
        db, actor=principal.actor(), gathering=gathering, item_ids=body.item_ids
    )
    return GatheringRead.model_validate(g)


@router.post("/gatherings/{gathering_id}/approve", status_code=201)
def approve(
    request: Request,
    principal: CanApprove,
    db: SessionDep,
    settings: SettingsDep,
    reader: ReaderDep,
    gathering: GatheringDep,
) -> PackageRead:
    """Build and sign the package of the ticked items and deliver it to the agency."""
    src = package_service.sources(
        settings, reader=reader, tracing=tracing_context(request, settings, db)
    )
    package = package_service.approve(
        db, actor=principal.actor(), settings=settings, gathering=gathering, src=src
    )
    return package_read(package)


@router.get("/requests/{request_id}/packages")
def list_packages(
    principal: CanRead, db: SessionDep, request_id: Annotated[RowId, Path()]
) -> list[PackageRead]:
    req = request_queries.load(db, user=principal.user, request_id=request_id)
    return [
        package_read(p) for p in package_service.packages_for(db, user=principal.user,
                                                              request_id=req.id)
    ]  # fmt: skip


@router.get("/packages/{package_id}")
def get_package(package: PackageDep) -> PackageRead:
    return package_read(package)


def send_package(
    db: Session, *, settings: SettingsDep, principal: Principal, package: Package
) -> FileResponse:
    path = package_service.download(
        db, settings=settings, user=principal.user, actor=principal.actor(), package=package
    )
    return FileResponse(
        path,
        media_type="application/zip",
        filename=package.file_name,
        headers={"X-Content-SHA256": package.sha256, "Cache-Control": "no-store"},
    )


@router.get("/packages/{package_id}/download")
def download(
    principal: CanRead, db: SessionDep, settings: SettingsDep, package: PackageDep
) -> FileResponse:
    """The package ZIP; every download is audited; refused once the link expired."""
    return send_package(db, settings=settings, principal=principal, package=package)


@router.get("/request-stats")
def request_stats(
    _: CanStats,
    db: SessionDep,
    since: Annotated[datetime | None, Query()] = None,
    until: Annotated[datetime | None, Query()] = None,
) -> stats_module.RequestStats:
    """Requests by country, agency, type and month; accounts affected; share produced;
    emergency and preservation apart; median times; SLA breaches (see the definitions in
    ``chainsleuth.packages.stats``)."""
    return stats_module.compute(db, since=since, until=until)
