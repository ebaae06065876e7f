"""The page of one case (``/cases/{id}?tab=summary|timeline|subjects|graph|evidence|
tasks|links``) and its forms: status, owner and participants, tasks, notes, links, evidence
uploads (hashed by the server), evidence downloads with their custody, report downloads."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.responses import FileResponse, Response

from chainsleuth.auth.enums import Permission
from chainsleuth.cases import evidence as case_evidence
from chainsleuth.cases import links as case_links
from chainsleuth.cases import reads
from chainsleuth.cases import report as case_report
from chainsleuth.cases import saved as case_saved
from chainsleuth.cases import service as case_service
from chainsleuth.cases import team as case_team
from chainsleuth.cases.enums import ParticipantRole
from chainsleuth.cases.models import Case
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
from chainsleuth.cases.schemas import CaseUpdate, LinkCreate, StatusChange, TaskCreate, TaskUpdate
from chainsleuth.cases.views import CaseId
from chainsleuth.core.errors import ChainsleuthError, InvalidInput
from chainsleuth.core.models import RowId
from chainsleuth.web.deps import Principal, SessionDep, SettingsDep
from chainsleuth.web.errors import status_for
from chainsleuth.web.forms import parse
from chainsleuth.web.templating import render

router = APIRouter()

TABS = [
    ("summary", "Summary"),
    ("timeline", "Timeline"),
    ("subjects", "Subjects"),
    ("graph", "Graph"),
    ("evidence", "Evidence"),
    ("tasks", "Tasks"),
    ("links", "Linked items"),
]


# --- a case -----------------------------------------------------------------------------


def load_case(principal: CanRead, db: SessionDep, case_id: CaseId) -> Case:
    return case_service.get_case(db, case_id, actor=principal.actor())


def load_case_for_work(principal: CanWork, db: SessionDep, case_id: CaseId) -> Case:
    return case_service.get_case(db, case_id, actor=principal.actor())


CaseDep = Annotated[Case, Depends(load_case)]
WorkCaseDep = Annotated[Case, Depends(load_case_for_work)]


def _case_page(
    request: Request,
    principal: Principal,
    db: SessionDep,
    case: Case,
    *,
    tab: str = "summary",
    before: int | None = None,
    error: str | None = None,
    notice: str | None = None,
    status_code: int = 200,
) -> Response:
    tab = tab if tab in dict(TABS) else "summary"
    detail = reads.case_detail(db, case, page_size=PAGE)
    if tab == "timeline" and before is not None:
        detail.timeline = reads.event_page(
            *case_service.timeline(db, case, limit=PAGE, before=before)
        )
    if tab == "evidence" and before is not None:
        detail.evidence = reads.evidence_page(
            *case_evidence.evidence_page(db, case, limit=PAGE, before=before)
        )
    graphs = []
    if tab == "graph":
        graphs = [
            (s, json.dumps(case_saved.get_snapshot(db, case, s.id).graph).replace("</", "<\\/"))
            for s in detail.snapshots
        ]
    subjects = [x for x in detail.links if x.item_type in SUBJECT_TYPES]
    others = [x for x in detail.links if x.item_type not in SUBJECT_TYPES]
    return render(
        request,
        "cases/case.html",
        {
            "d": detail,
            "c": detail.case,
            "tab": tab,
            "tabs": TABS,
            "subjects": subjects,
            "others": others,
            "graphs": graphs,
            "can_work": principal.can(Permission.CASES_WORK),
            "error": error,
            "notice": notice,
            **enum_options(),
        },
        status_code=status_code,
    )


@router.get("/cases/{case_id}")
def case_page(
    request: Request,
    principal: CanRead,
    db: SessionDep,
    case: CaseDep,
    tab: Annotated[str, Query(max_length=16)] = "summary",
    before: Annotated[RowId | None, Query()] = None,
    notice: Annotated[str | None, Query(max_length=32)] = None,
) -> Response:
    return _case_page(
        request, principal, db, case, tab=tab, before=before, notice=NOTICES.get(notice or "")
    )


def _refused(
    request: Request,
    principal: Principal,
    db: SessionDep,
    case: Case,
    tab: str,
    exc: ChainsleuthError,
) -> Response:
    db.rollback()
    return _case_page(
        request, principal, db, case, tab=tab, error=exc.message, status_code=status_for(exc)
    )


@router.post("/cases/{case_id}/edit")
def edit_form(
    request: Request,
    principal: CanWork,
    db: SessionDep,
    case: WorkCaseDep,
    title: Annotated[str, Form(max_length=300)] = "",
    severity: Annotated[str, Form(max_length=16)] = "",
    summary: FormText = "",
    restricted: Annotated[bool, Form()] = False,
    owner: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    try:
        data = parse(
            CaseUpdate,
            title=title or None,
            severity=severity or None,
            summary=summary,
            restricted=restricted,
            owner=owner or None,
        )
        if data.owner is not None and data.owner == reads.case_reads(db, [case])[0].owner:
            data.owner = None
        case_service.update_case(db, actor=principal.actor(), case=case, data=data)
    except ChainsleuthError as exc:
        return _refused(request, principal, db, case, "summary", exc)
    return back(case.id, "summary", "updated")


@router.post("/cases/{case_id}/status")
def status_form(
    request: Request,
    principal: CanWork,
    db: SessionDep,
    case: WorkCaseDep,
    status: Annotated[str, Form(max_length=16)] = "",
    reason: Annotated[str, Form(max_length=32)] = "",
    note: FormText = "",
) -> Response:
    try:
        data = parse(StatusChange, status=status, reason=reason or None, note=note or None)
        case_service.change_status(db, actor=principal.actor(), case=case, data=data)
    except ChainsleuthError as exc:
        return _refused(request, principal, db, case, "summary", exc)
    return back(case.id, "summary", "status")


@router.post("/cases/{case_id}/participants")
def participant_form(
    request: Request,
    principal: CanWork,
    db: SessionDep,
    case: WorkCaseDep,
    username: Annotated[str, Form(max_length=64)] = "",
    role: Annotated[str, Form(max_length=16)] = "member",
    remove: Annotated[bool, Form()] = False,
) -> Response:
    try:
        if remove:
            case_team.remove_participant(db, actor=principal.actor(), case=case, username=username)
        else:
            case_team.add_participant(
                db,
                actor=principal.actor(),
                case=case,
                username=username,
                role=ParticipantRole(role)
                if role in set(ParticipantRole)
                else ParticipantRole.MEMBER,
            )
    except ChainsleuthError as exc:
        return _refused(request, principal, db, case, "summary", exc)
    return back(case.id, "summary", "participant")


@router.post("/cases/{case_id}/tasks")
def task_form(
    request: Request,
    principal: CanWork,
    db: SessionDep,
    case: WorkCaseDep,
    title: Annotated[str, Form(max_length=300)] = "",
    assignee: Annotated[str, Form(max_length=64)] = "",
    due_date: Annotated[str, Form(max_length=10)] = "",
    description: FormText = "",
) -> Response:
    try:
        data = parse(
            TaskCreate,
            title=title,
            assignee=assignee or None,
            due_date=due_date or None,
            description=description,
        )
        case_team.add_task(db, actor=principal.actor(), case=case, data=data)
    except ChainsleuthError as exc:
        return _refused(request, principal, db, case, "tasks", exc)
    return back(case.id, "tasks", "task")


@router.post("/cases/{case_id}/tasks/{task_id}")
def task_update_form(
    request: Request,
    principal: CanWork,
    db: SessionDep,
    case: WorkCaseDep,
    task_id: CaseId,
    status: Annotated[str, Form(max_length=16)] = "",
) -> Response:
    try:
        task = case_team.get_task(db, case, task_id)
        data = parse(TaskUpdate, status=status or None)
        case_team.update_task(db, actor=principal.actor(), case=case, task=task, data=data)
    except ChainsleuthError as exc:
        return _refused(request, principal, db, case, "tasks", exc)
    return back(case.id, "tasks", "task")


@router.post("/cases/{case_id}/notes")
def note_form(
    request: Request, principal: CanWork, db: SessionDep, case: WorkCaseDep, body: FormText = ""
) -> Response:
    try:
        case_team.add_note(db, actor=principal.actor(), case=case, body=body)
    except ChainsleuthError as exc:
        return _refused(request, principal, db, case, "summary", exc)
    return back(case.id, "summary", "note")


@router.post("/cases/{case_id}/links")
def link_form(
    request: Request,
    principal: CanWork,
    db: SessionDep,
    case: WorkCaseDep,
    item_type: Annotated[str, Form(max_length=16)] = "",
    item_ref: Annotated[str, Form(max_length=200)] = "",
    note: FormText = "",
) -> Response:
    tab = "subjects" if item_type in {t.value for t in SUBJECT_TYPES} else "links"
    try:
        data = parse(LinkCreate, item_type=item_type, item_ref=item_ref, note=note or None)
        case_service.add_link(
            db,
            actor=principal.actor(),
            case_id=case.id,
            item_type=data.item_type,
            item_ref=data.item_ref,
            note=data.note,
        )
    except ChainsleuthError as exc:
        return _refused(request, principal, db, case, tab, exc)
    return back(case.id, tab, "link")


@router.post("/cases/{case_id}/links/{link_id}/remove")
def unlink_form(
    request: Request, principal: CanWork, db: SessionDep, case: WorkCaseDep, link_id: CaseId
) -> Response:
    try:
        case_links.remove_link(db, actor=principal.actor(), case=case, link_id=link_id)
    except ChainsleuthError as exc:
        return _refused(request, principal, db, case, "links", exc)
    return back(case.id, "links", "unlinked")


@router.post("/cases/{case_id}/evidence")
def evidence_form(
    request: Request,
    principal: CanWork,
    db: SessionDep,
    settings: SettingsDep,
    case: WorkCaseDep,
    file: Annotated[UploadFile | None, File()] = None,
    description: FormText = "",
) -> Response:
    try:
        if file is None or not file.filename:
            raise InvalidInput("choose a file to upload")
        case_evidence.add_evidence(
            db,
            data_dir=settings.data_dir,
            actor=principal.actor(),
            case=case,
            file_name=file.filename,
            stream=file.file,
            content_type=file.content_type,
            description=description,
            max_bytes=settings.max_body_bytes,
        )
    except ChainsleuthError as exc:
        return _refused(request, principal, db, case, "evidence", exc)
    return back(case.id, "evidence", "evidence")


@router.get("/cases/{case_id}/evidence/{evidence_id}")
def evidence_detail(
    request: Request, principal: CanRead, db: SessionDep, case: CaseDep, evidence_id: CaseId
) -> Response:
    """One evidence file and its chain of custody (from the audit log)."""
    row = case_evidence.get_evidence(db, case, evidence_id)
    custody = [(e, json.loads(e.details)) for e in case_evidence.custody(db, case, row)]
    return render(
        request,
        "cases/evidence.html",
        {"c": reads.case_reads(db, [case])[0], "f": row, "custody": custody},
    )


@router.get("/cases/{case_id}/evidence/{evidence_id}/download")
def evidence_download(
    request: Request,
    principal: CanRead,
    db: SessionDep,
    settings: SettingsDep,
    case: CaseDep,
    evidence_id: CaseId,
) -> Response:
    row = case_evidence.get_evidence(db, case, evidence_id)
    try:
        path = case_evidence.open_for_download(
            db, data_dir=settings.data_dir, actor=principal.actor(), case=case, evidence=row
        )
    except case_evidence.EvidenceTampered as exc:
        return _refused(request, principal, db, case, "evidence", exc)
    return FileResponse(path, media_type=row.content_type, filename=row.file_name)


@router.get("/cases/{case_id}/report.{fmt}")
def report_download(
    request: Request,
    principal: CanRead,
    db: SessionDep,
    settings: SettingsDep,
    case: CaseDep,
    fmt: case_report.ReportFormat,
) -> Response:
    try:
        out = case_report.export(
            db, data_dir=settings.data_dir, actor=principal.actor(), case=case, fmt=fmt
        )
    except case_evidence.EvidenceTampered as exc:
        return _refused(request, principal, db, case, "evidence", exc)
    return Response(
        out.content,
        media_type=out.media_type,
        headers={"Content-Disposition": f'attachment; filename="{out.file_name}"'},
    )
