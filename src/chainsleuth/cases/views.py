"""JSON API of cases (``/api/v1/cases``): thin routes over the services.

Reading needs ``cases:read``, changing ``cases:work``. A case is loaded by a dependency that
answers 404 when it does not exist or is restricted to participants the caller is not one
of, whatever the caller's permissions.
"""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Query, UploadFile, status
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, Response
from pydantic import BaseModel

from chainsleuth.auth.enums import Permission
from chainsleuth.cases import evidence as case_evidence
from chainsleuth.cases import links as case_links
from chainsleuth.cases import reads
from chainsleuth.cases import report as case_report
from chainsleuth.cases import saved as case_saved
from chainsleuth.cases import service as case_service
from chainsleuth.cases import team as case_team
from chainsleuth.cases.models import Case
from chainsleuth.cases.schemas import (
    CaseCreate,
    CaseDetail,
    CaseFilter,
    CaseRead,
    CaseUpdate,
    CustodyEntry,
    EventRead,
    EvidenceRead,
    LinkCreate,
    LinkRead,
    NoteCreate,
    NoteRead,
    Page,
    ParticipantAdd,
    SnapshotCreate,
    SnapshotRead,
    StatusChange,
    TaskCreate,
    TaskRead,
    TaskUpdate,
    ViewCreate,
    ViewRead,
)
from chainsleuth.core.models import RowId
from chainsleuth.web.deps import Principal, SessionDep, SettingsDep, requires
from chainsleuth.web.forms import parse

router = APIRouter(tags=["cases"])

CanRead = Annotated[Principal, Depends(requires(Permission.CASES_READ))]
CanWork = Annotated[Principal, Depends(requires(Permission.CASES_READ, Permission.CASES_WORK))]
CaseId = Annotated[int, PathParam(ge=1, le=2**63 - 1)]


def load_case(principal: CanRead, db: SessionDep, case_id: CaseId) -> Case:
    return case_service.get_case(db, case_id, actor=principal.actor())


def load_case_for_work(principal: CanWork, db: SessionDep, case_id: CaseId) -> Case:
    return case_service.get_case(db, case_id, actor=principal.actor())


CaseDep = Annotated[Case, Depends(load_case)]
WorkCaseDep = Annotated[Case, Depends(load_case_for_work)]


class CaseList(BaseModel):
    items: list[CaseRead]
    total: int


def filters(
    q: Annotated[str | None, Query(max_length=200)] = None,
    status_: Annotated[list[str] | None, Query(alias="status", max_length=32)] = None,
    type_: Annotated[list[str] | None, Query(alias="type", max_length=32)] = None,
    severity: Annotated[list[str] | None, Query(max_length=16)] = None,
    owner: Annotated[str | None, Query(max_length=64)] = None,
    mine: bool = False,
    include_closed: bool = True,
) -> CaseFilter:
    """The list's filters from the query (an empty value, as a form's "any", is no filter)."""

    def given(values: list[str] | None) -> list[str]:
        return [v for v in values or [] if v.strip()]

    return parse(
        CaseFilter,
        q=q or None,
        status=given(status_),
        type=given(type_),
        severity=given(severity),
        owner=owner or None,
        mine=mine,
        include_closed=include_closed,
    )


@router.get("/cases")
def list_cases(
    principal: CanRead,
    db: SessionDep,
    flt: Annotated[CaseFilter, Depends(filters)],
    view: Annotated[RowId | None, Query(description="a saved view's id")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> CaseList:
    """The cases you may see, most recently changed first (a saved view or filters)."""
    if view is not None:
        saved = case_saved.get_view(db, actor=principal.actor(), view_id=view)
        flt = CaseFilter.model_validate(saved.filters)
    rows, total = case_service.list_cases(
        db, actor=principal.actor(), flt=flt, limit=limit, offset=offset
    )
    return CaseList(items=reads.case_reads(db, rows), total=total)


@router.post("/cases", status_code=status.HTTP_201_CREATED)
def open_case(principal: CanWork, db: SessionDep, data: CaseCreate) -> CaseRead:
    """Open a case (you own it unless ``owner`` names someone), with its first links."""
    case = case_service.create_case(db, actor=principal.actor(), data=data)
    return reads.case_reads(db, [case])[0]


@router.get("/cases/{case_id}")
def get_case(case: CaseDep, db: SessionDep) -> CaseDetail:
    """A case: its participants, tasks, links, notes, saved graphs, and the first page of
    its timeline and evidence (``/timeline`` and ``/evidence`` page on)."""
    return reads.case_detail(db, case)


@router.patch("/cases/{case_id}")
def update_case(
    principal: CanWork, case: WorkCaseDep, db: SessionDep, data: CaseUpdate
) -> CaseRead:
    case_service.update_case(db, actor=principal.actor(), case=case, data=data)
    return reads.case_reads(db, [case])[0]


@router.post("/cases/{case_id}/status")
def change_status(
    principal: CanWork, case: WorkCaseDep, db: SessionDep, data: StatusChange
) -> CaseRead:
    """Move the case on (open, in_progress, escalated, referred, closed with a reason)."""
    case_service.change_status(db, actor=principal.actor(), case=case, data=data)
    return reads.case_reads(db, [case])[0]


@router.post("/cases/{case_id}/participants", status_code=status.HTTP_201_CREATED)
def add_participant(
    principal: CanWork, case: WorkCaseDep, db: SessionDep, data: ParticipantAdd
) -> CaseDetail:
    case_team.add_participant(
        db, actor=principal.actor(), case=case, username=data.username, role=data.role
    )
    return reads.case_detail(db, case)


@router.delete("/cases/{case_id}/participants/{username}", status_code=204)
def remove_participant(
    principal: CanWork,
    case: WorkCaseDep,
    db: SessionDep,
    username: Annotated[str, PathParam(max_length=64)],
) -> Response:
    case_team.remove_participant(db, actor=principal.actor(), case=case, username=username)
    return Response(status_code=204)


@router.get("/cases/{case_id}/timeline")
def timeline(
    case: CaseDep,
    db: SessionDep,
    before: Annotated[RowId | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> Page[EventRead]:
    """The timeline, newest first; ``before`` is the ``next_before`` of the previous page."""
    return reads.event_page(*case_service.timeline(db, case, limit=limit, before=before))


@router.post("/cases/{case_id}/tasks", status_code=status.HTTP_201_CREATED)
def add_task(principal: CanWork, case: WorkCaseDep, db: SessionDep, data: TaskCreate) -> TaskRead:
    task = case_team.add_task(db, actor=principal.actor(), case=case, data=data)
    return reads.task_read(task, case_service.usernames(db, [task.assignee_id]))


@router.patch("/cases/{case_id}/tasks/{task_id}")
def update_task(
    principal: CanWork, case: WorkCaseDep, db: SessionDep, task_id: CaseId, data: TaskUpdate
) -> TaskRead:
    task = case_team.get_task(db, case, task_id)
    case_team.update_task(db, actor=principal.actor(), case=case, task=task, data=data)
    return reads.task_read(task, case_service.usernames(db, [task.assignee_id]))


@router.post("/cases/{case_id}/notes", status_code=status.HTTP_201_CREATED)
def add_note(principal: CanWork, case: WorkCaseDep, db: SessionDep, data: NoteCreate) -> NoteRead:
    return NoteRead.model_validate(
        case_team.add_note(db, actor=principal.actor(), case=case, body=data.body)
    )


@router.post("/cases/{case_id}/links", status_code=status.HTTP_201_CREATED)
def add_link(principal: CanWork, case: WorkCaseDep, db: SessionDep, data: LinkCreate) -> LinkRead:
    """Link an alert, request, freeze, entity (``btc:42``), address (``btc:1...``),
    transaction, customer, saved graph or another case."""
    link = case_service.add_link(
        db,
        actor=principal.actor(),
        case_id=case.id,
        item_type=data.item_type,
        item_ref=data.item_ref,
        note=data.note,
    )
    return reads.link_read(link)


@router.delete("/cases/{case_id}/links/{link_id}", status_code=204)
def remove_link(principal: CanWork, case: WorkCaseDep, db: SessionDep, link_id: CaseId) -> Response:
    case_links.remove_link(db, actor=principal.actor(), case=case, link_id=link_id)
    return Response(status_code=204)


@router.post("/cases/{case_id}/snapshots", status_code=status.HTTP_201_CREATED)
def save_snapshot(
    principal: CanWork, case: WorkCaseDep, db: SessionDep, data: SnapshotCreate
) -> SnapshotRead:
    """Save a trace graph (as ``/api/v1/trace`` or the trace page gives it) to the case."""
    snap = case_saved.save_snapshot(
        db, actor=principal.actor(), case=case, title=data.title, graph=data.graph
    )
    return SnapshotRead.model_validate(snap)


@router.get("/cases/{case_id}/snapshots/{snapshot_id}")
def get_snapshot(case: CaseDep, db: SessionDep, snapshot_id: CaseId) -> dict[str, object]:
    """A saved graph as it was saved."""
    return case_saved.get_snapshot(db, case, snapshot_id).graph


@router.get("/cases/{case_id}/evidence")
def list_evidence(
    case: CaseDep,
    db: SessionDep,
    before: Annotated[RowId | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> Page[EvidenceRead]:
    return reads.evidence_page(*case_evidence.evidence_page(db, case, limit=limit, before=before))


@router.post("/cases/{case_id}/evidence", status_code=status.HTTP_201_CREATED)
def upload_evidence(
    principal: CanWork,
    case: WorkCaseDep,
    db: SessionDep,
    settings: SettingsDep,
    file: Annotated[UploadFile, File()],
    description: Annotated[str, Form(max_length=5000)] = "",
) -> EvidenceRead:
    """Upload an evidence file; the server computes its SHA-256 as it arrives."""
    row = case_evidence.add_evidence(
        db,
        data_dir=settings.data_dir,
        actor=principal.actor(),
        case=case,
        file_name=file.filename or "",
        stream=file.file,
        content_type=file.content_type,
        description=description,
        max_bytes=settings.max_body_bytes,
    )
    return EvidenceRead.model_validate(row)


@router.get("/cases/{case_id}/evidence/{evidence_id}")
def download_evidence(
    principal: CanRead, case: CaseDep, db: SessionDep, settings: SettingsDep, evidence_id: CaseId
) -> FileResponse:
    """The file, after its hash is checked again (a mismatch is refused: 409, audited)."""
    row = case_evidence.get_evidence(db, case, evidence_id)
    path = case_evidence.open_for_download(
        db, data_dir=settings.data_dir, actor=principal.actor(), case=case, evidence=row
    )
    return FileResponse(
        path,
        media_type=row.content_type,
        filename=row.file_name,
        headers={"X-Content-SHA256": row.sha256},
    )


@router.get("/cases/{case_id}/evidence/{evidence_id}/custody")
def evidence_custody(case: CaseDep, db: SessionDep, evidence_id: CaseId) -> list[CustodyEntry]:
    """The file's chain of custody, from the audit log."""
    row = case_evidence.get_evidence(db, case, evidence_id)
    return [
        CustodyEntry(
            seq=e.seq, ts=e.ts, actor=e.actor, action=e.action, outcome=e.outcome,
            details=json.loads(e.details),
        )
        for e in case_evidence.custody(db, case, row)
    ]  # fmt: skip


@router.get("/cases/{case_id}/export")
def export_case(
    principal: CanRead,
    case: CaseDep,
    db: SessionDep,
    settings: SettingsDep,
    format: case_report.ReportFormat = case_report.ReportFormat.PDF,  # noqa: A002
) -> Response:
    """The case report (PDF) or bundle (JSON); refused (409) if an evidence file changed."""
    out = case_report.export(
        db, data_dir=settings.data_dir, actor=principal.actor(), case=case, fmt=format
    )
    return Response(
        out.content,
        media_type=out.media_type,
        headers={
            "Content-Disposition": f'attachment; filename="{out.file_name}"',
            "X-Content-SHA256": out.sha256,
        },
    )


@router.get("/case-views")
def list_views(principal: CanRead, db: SessionDep) -> list[ViewRead]:
    """Your saved views of the case list."""
    assert principal.user.id is not None
    return [ViewRead.model_validate(v) for v in case_saved.views(db, user_id=principal.user.id)]


@router.post("/case-views", status_code=status.HTTP_201_CREATED)
def save_view(principal: CanRead, db: SessionDep, data: ViewCreate) -> ViewRead:
    view = case_saved.save_view(db, actor=principal.actor(), name=data.name, flt=data.filters)
    return ViewRead.model_validate(view)


@router.delete("/case-views/{view_id}", status_code=204)
def delete_view(principal: CanRead, db: SessionDep, view_id: CaseId) -> Response:
    case_saved.delete_view(db, actor=principal.actor(), view_id=view_id)
    return Response(status_code=204)
