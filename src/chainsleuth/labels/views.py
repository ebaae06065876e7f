"""JSON API of attribution: search labels, one address's labels and resolution, manual
labels, sources, a label's history, and imports by upload.

Reading needs ``labels:read`` and is filtered by TLP for users outside the exchange (see
``chainsleuth.labels.service``); adding a label needs ``labels:write``, importing a source
``labels:import``. Malformed chains, addresses and values are 422; labels one may not see
are 404 like missing ones.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Query, UploadFile, status

from chainsleuth.auth.enums import Permission
from chainsleuth.core.errors import InvalidInput
from chainsleuth.core.models import RowId
from chainsleuth.labels import service as label_service
from chainsleuth.labels.enums import Category, ImportFormat, Tlp
from chainsleuth.labels.importers import parse
from chainsleuth.labels.imports import file_sha256
from chainsleuth.labels.schemas import (
    HistoryRead,
    ImportResult,
    LabelCreate,
    LabelPage,
    LabelRead,
    ResolvedAttribution,
    SourceRead,
)
from chainsleuth.web.deps import Principal, SessionDep, requires

router = APIRouter(tags=["labels"])

CanRead = Annotated[Principal, Depends(requires(Permission.LABELS_READ))]
CanWrite = Annotated[Principal, Depends(requires(Permission.LABELS_WRITE))]
CanImport = Annotated[Principal, Depends(requires(Permission.LABELS_IMPORT))]
#: the largest file an upload may carry
MAX_UPLOAD = 32 * 1024 * 1024


@router.get("/labels")
def search_labels(
    principal: CanRead,
    db: SessionDep,
    chain: str | None = None,
    address: str | None = None,
    category: Category | None = None,
    source: Annotated[str | None, Query(max_length=200)] = None,
    include_retired: bool = False,
    limit: Annotated[int, Query(ge=1, le=label_service.MAX_PAGE)] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> LabelPage:
    """Labels by chain, address, category or source, oldest first, paged."""
    items, total = label_service.search(
        db,
        viewer=principal.user,
        chain=chain,
        address=address,
        category=category,
        source=source,
        include_retired=include_retired,
        limit=limit,
        offset=offset,
    )
    return LabelPage(items=items, total=total, limit=limit, offset=offset)


@router.post("/labels", status_code=status.HTTP_201_CREATED)
def create_label(data: LabelCreate, principal: CanWrite, db: SessionDep) -> LabelRead:
    """A label added by hand (an investigator's finding), TLP:AMBER unless told otherwise."""
    label = label_service.create_label(db, actor=principal.actor(), data=data, user=principal.user)
    return label_service.to_read(label)


@router.get("/labels/sources")
def list_sources(_: CanRead, db: SessionDep) -> list[SourceRead]:
    return label_service.sources(db)


@router.get("/labels/{label_id}")
def get_label(label_id: RowId, principal: CanRead, db: SessionDep) -> LabelRead:
    return label_service.to_read(
        label_service.get_label(db, label_id=label_id, viewer=principal.user)
    )


@router.get("/labels/{label_id}/history")
def label_history(label_id: RowId, principal: CanRead, db: SessionDep) -> list[HistoryRead]:
    return label_service.history(db, label_id=label_id, viewer=principal.user)


@router.delete("/labels/{label_id}")
def retire_label(label_id: RowId, principal: CanWrite, db: SessionDep) -> LabelRead:
    """Retire a manual label (kept, with its history)."""
    label = label_service.retire_label(
        db, actor=principal.actor(), label_id=label_id, viewer=principal.user
    )
    return label_service.to_read(label)


@router.get("/chains/{chain}/addresses/{address}/labels")
def address_labels(
    chain: str,
    address: str,
    principal: CanRead,
    db: SessionDep,
    member: Annotated[list[str] | None, Query(max_length=1000)] = None,
) -> ResolvedAttribution:
    """One address's labels, resolved: its own win over its entity's (``member``: the
    entity's other addresses); conflicting categories are listed."""
    return label_service.attribution(
        db, chain=chain, address=address, members=member, viewer=principal.user
    )


@router.post("/labels/imports", status_code=status.HTTP_201_CREATED)
def upload_import(
    principal: CanImport,
    db: SessionDep,
    kind: Annotated[ImportFormat, Form()],
    file: Annotated[UploadFile, File()],
    source_name: Annotated[str | None, Form(max_length=200)] = None,
    tlp: Annotated[Tlp | None, Form()] = None,
    skip_invalid: Annotated[bool, Form()] = False,
) -> ImportResult:
    """Import an uploaded file (one transaction, audited); ``ofac-lists`` takes one list."""
    data = file.file.read(MAX_UPLOAD + 1)
    if len(data) > MAX_UPLOAD:
        raise InvalidInput(f"the file is larger than {MAX_UPLOAD // (1024 * 1024)} MiB")
    name = (file.filename or "upload").rsplit("/", 1)[-1][:255]
    parts = [(name, data)]
    parsed = parse(kind, parts, skip_invalid=skip_invalid)
    return label_service.import_parsed(
        db,
        parsed=parsed,
        sha256=file_sha256(parts),
        file_name=name,
        actor=principal.actor(),
        source_name=source_name,
        tlp=tlp,
    )
