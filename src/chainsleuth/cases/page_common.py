"""What the case pages share: permissions, form types, notices, enum choices."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Depends, Form
from fastapi.responses import RedirectResponse, Response

from chainsleuth.auth.enums import Permission
from chainsleuth.cases.enums import (
    CaseStatus,
    CaseType,
    CloseReason,
    ItemType,
    ParticipantRole,
    Severity,
    TaskStatus,
)
from chainsleuth.web.deps import Principal, requires

CanRead = Annotated[Principal, Depends(requires(Permission.CASES_READ))]
CanWork = Annotated[Principal, Depends(requires(Permission.CASES_READ, Permission.CASES_WORK))]
FormText = Annotated[str, Form(max_length=20_000)]

#: what the "Subjects" tab lists; the other links are under "Linked items"
SUBJECT_TYPES = {ItemType.ADDRESS, ItemType.TRANSACTION, ItemType.ENTITY, ItemType.CUSTOMER}
#: the notice a page shows after a change redirected to it (``?notice=KEY``)
NOTICES = {
    "opened": "case opened",
    "updated": "case updated",
    "status": "status changed",
    "participant": "participants changed",
    "task": "task saved",
    "note": "note added",
    "link": "item linked to the case",
    "unlinked": "link removed",
    "evidence": "evidence file stored and hashed",
    "view": "view saved",
}
#: rows per page of the case list, the timeline and the evidence
PAGE = 50


def back(case_id: int, tab: str, notice: str) -> Response:
    return RedirectResponse(f"/cases/{case_id}?{urlencode({'tab': tab, 'notice': notice})}", 303)


def enum_options() -> dict[str, Any]:
    return {
        "types": list(CaseType),
        "severities": list(Severity),
        "statuses": list(CaseStatus),
        "reasons": list(CloseReason),
        "roles": [r for r in ParticipantRole if r is not ParticipantRole.OWNER],
        "item_types": [t for t in ItemType if t is not ItemType.SNAPSHOT],
        "task_statuses": list(TaskStatus),
    }
