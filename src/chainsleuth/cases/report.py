"""The case report: a PDF (summary, subjects, timeline, saved graphs drawn as images,
evidence with hashes) and a JSON bundle of everything the case holds.

An export first re-hashes every evidence file (``evidence.verified``: a mismatch refuses
the export, audited); the export itself is written to the timeline and the audit log with
the SHA-256 of what was produced and the evidence it covered.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from reportlab.graphics.shapes import Circle, Drawing, Line, Polygon, Rect, String
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import (
    KeepTogether,
    LongTable,
    PageBreak,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)
from sqlalchemy import select
from sqlalchemy.orm import Session

from chainsleuth import __version__
from chainsleuth.audit.service import Actor
from chainsleuth.cases import evidence as case_evidence
from chainsleuth.cases import links as case_links
from chainsleuth.cases import saved as case_saved
from chainsleuth.cases import service as case_service
from chainsleuth.cases import team as case_team
from chainsleuth.cases.enums import CaseStatus, CaseType, CloseReason, EventKind, Severity
from chainsleuth.cases.events import record_event
from chainsleuth.cases.models import Case, CaseEvent, CaseEvidence, CaseSnapshot
from chainsleuth.core.models import utcnow

#: the PDF lists this many of the newest timeline entries (the JSON bundle has them all)
PDF_TIMELINE_ROWS = 1000
#: a saved graph is drawn with at most this many nodes (the largest amounts first)
GRAPH_NODES = 120


class ReportFormat(StrEnum):
    PDF = "pdf"
    JSON = "json"


@dataclass(frozen=True)
class Export:
    content: bytes
    file_name: str
    media_type: str
    sha256: str


def _users(session: Session, case: Case) -> dict[int, str]:
    return {u.id: u.username for u in case_service.usernames(session, [case.owner_id]).values()}


def bundle(session: Session, *, case: Case, evidence: Sequence[CaseEvidence]) -> dict[str, Any]:
    """Everything the case holds, as plain JSON values."""
    owner = _users(session, case).get(case.owner_id or 0)
    events = session.scalars(
        select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id)
    ).all()
    people = case_team.participants(session, case)
    assignees = case_service.usernames(
        session, [t.assignee_id for t in case_team.tasks(session, case)]
    )
    return {
        "format": "chainsleuth.case-bundle/1",
        "generated_at": utcnow().isoformat(),
        "generator": f"chainsleuth {__version__}",
        "case": {
            "id": case.id,
            "title": case.title,
            "type": case.type,
            "severity": case.severity,
            "status": case.status,
            "summary": case.summary,
            "owner": owner,
            "restricted": case.restricted,
            "close_reason": case.close_reason,
            "close_note": case.close_note,
            "closed_at": case.closed_at.isoformat() if case.closed_at else None,
            "created_at": case.created_at.isoformat(),
            "updated_at": case.updated_at.isoformat(),
        },
        "participants": [
            {"username": u.username, "full_name": u.full_name, "role": p.role} for p, u in people
        ],
        "tasks": [
            {
                "id": t.id,
                "title": t.title,
                "description": t.description,
                "assignee": assignees[t.assignee_id].username if t.assignee_id else None,
                "due_date": t.due_date.isoformat() if t.due_date else None,
                "status": t.status,
                "done_at": t.done_at.isoformat() if t.done_at else None,
            }
            for t in case_team.tasks(session, case)
        ],
        "links": [
            {"item_type": x.item_type, "item_ref": x.item_ref, "note": x.note}
            for x in case_links.links(session, case)
        ],
        "notes": [
            {"author": n.author, "body": n.body, "created_at": n.created_at.isoformat()}
            for n in case_team.notes(session, case)
        ],
        "snapshots": [
            {
                "id": s.id,
                "title": s.title,
                "sha256": s.sha256,
                "created_at": s.created_at.isoformat(),
                "graph": s.graph,
            }
            for s in case_saved.snapshots(session, case)
        ],
        "evidence": [
            {
                "id": f.id,
                "file_name": f.file_name,
                "content_type": f.content_type,
                "size": f.size,
                "sha256": f.sha256,
                "description": f.description,
                "uploaded_by": f.uploaded_by,
                "uploaded_at": f.uploaded_at.isoformat(),
            }
            for f in evidence
        ],
        "timeline": [
            {
                "id": e.id,
                "ts": e.ts.isoformat(),
                "actor": e.actor,
                "kind": e.kind,
                "summary": e.summary,
                "details": e.details,
                "audit_seq": e.audit_seq,
            }
            for e in events
        ],
    }


# --- the PDF ----------------------------------------------------------------------------


def _label(enum: Any, value: str | None) -> str:
    if value is None:
        return "-"
    try:
        return str(enum(value).label)
    except ValueError:
        return value


def _short(text: str | None, n: int = 14) -> str:
    if not text:
        return "coinbase"
    return text if len(text) <= n else text[: n // 2] + "…" + text[-(n // 2 - 1) :]


def _rect(x: float, y: float, w: float, h: float, fill: colors.Color) -> Rect:
    rect = Rect(x, y, w, h)
    rect.fillColor, rect.strokeColor = fill, None
    return rect


def graph_drawing(graph: dict[str, Any], *, width: float, height: float) -> Drawing:
    """A saved trace drawn as an image: one column per hop, nodes by amount, arrows along
    the flows; the origin orange, stops (services) purple squares."""
    nodes = [n for n in graph.get("nodes", []) if isinstance(n, dict) and "id" in n]
    nodes.sort(key=lambda n: -int(n.get("amount") or 0))
    shown = nodes[:GRAPH_NODES]
    ids = {n["id"] for n in shown}
    columns: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for n in shown:
        columns[int(n.get("hop") or 0)].append(n)
    hops = sorted(columns)
    d = Drawing(width, height)
    d.add(_rect(0, 0, width, height, colors.HexColor("#f7f9fb")))
    pos: dict[str, tuple[float, float]] = {}
    col_w = width / max(len(hops), 1)
    for ci, hop in enumerate(hops):
        col = columns[hop]
        step = height / (len(col) + 1)
        for ri, n in enumerate(col):
            pos[n["id"]] = (col_w * (ci + 0.5), height - step * (ri + 1))
    for e in graph.get("edges", []):
        if not isinstance(e, dict) or e.get("source") not in ids or e.get("target") not in ids:
            continue
        (x1, y1), (x2, y2) = pos[e["source"]], pos[e["target"]]
        dashed = e.get("kind") in ("bridge", "swap")
        color = colors.HexColor("#d9822b" if dashed else "#9aa5b1")
        d.add(Line(x1, y1, x2, y2, strokeColor=color, strokeWidth=0.6))
        angle = math.atan2(y2 - y1, x2 - x1)
        tip_x, tip_y = x2 - 5 * math.cos(angle), y2 - 5 * math.sin(angle)
        left = (tip_x - 4 * math.cos(angle - 0.4), tip_y - 4 * math.sin(angle - 0.4))
        right = (tip_x - 4 * math.cos(angle + 0.4), tip_y - 4 * math.sin(angle + 0.4))
        d.add(
            Polygon(
                [tip_x, tip_y, *left, *right], fillColor=color, strokeColor=color, strokeWidth=0
            )
        )
    for n in shown:
        x, y = pos[n["id"]]
        origin, stop = int(n.get("hop") or 0) == 0, bool(n.get("stop"))
        fill = colors.HexColor("#d9822b" if origin else "#8a3ffc" if stop else "#5b7db1")
        if stop:
            d.add(_rect(x - 4, y - 4, 8, 8, fill))
        else:
            d.add(Circle(x, y, 5 if origin else 3.5, fillColor=fill, strokeColor=None))
        if len(shown) <= 60:
            label = _short(n.get("address")) + (f" ({n['category']})" if n.get("category") else "")
            d.add(String(x, y - 10, label, fontSize=5.5, textAnchor="middle"))
    if len(nodes) > len(shown):
        note = f"{len(shown)} of {len(nodes)} nodes drawn (largest amounts)"
        d.add(String(4, 4, note, fontSize=6, fillColor=colors.grey))
    return d


def _table(rows: list[list[Any]], widths: list[float], *, mono: int | None = None) -> Table:
    table = LongTable(rows, colWidths=widths, repeatRows=1)
    style: list[Any] = [
        ("FONT", (0, 0), (-1, 0), "Helvetica-Bold", 8),
        ("FONT", (0, 1), (-1, -1), "Helvetica", 7.5),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8edf3")),
        ("GRID", (0, 0), (-1, -1), 0.25, colors.HexColor("#c5ced8")),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
    ]
    if mono is not None:
        style.append(("FONT", (mono, 1), (mono, -1), "Courier", 6.5))
    table.setStyle(TableStyle(style))
    return table


def pdf(session: Session, *, case: Case, evidence: Sequence[CaseEvidence]) -> bytes:
    styles = getSampleStyleSheet()
    body = styles["BodyText"]
    small = ParagraphStyle("small", parent=body, fontSize=7.5, leading=9)
    out = io.BytesIO()
    doc = SimpleDocTemplate(
        out,
        pagesize=A4,
        leftMargin=18 * mm,
        rightMargin=18 * mm,
        topMargin=18 * mm,
        bottomMargin=18 * mm,
        title=f"Case {case.id}: {case.title}",
        author=f"chainsleuth {__version__}",
    )
    width = A4[0] - 36 * mm

    def para(text: str, style: Any = small) -> Paragraph:
        return Paragraph(escape(text).replace("\n", "<br/>"), style)

    owner = _users(session, case).get(case.owner_id or 0, "-")
    story: list[Any] = [
        Paragraph(escape(f"Case {case.id}: {case.title}"), styles["Title"]),
        Paragraph("Summary", styles["Heading2"]),
    ]
    facts = [
        ["Type", _label(CaseType, case.type), "Severity", _label(Severity, case.severity)],
        ["Status", _label(CaseStatus, case.status), "Owner", owner],
        ["Opened", case.created_at.strftime("%Y-%m-%d %H:%M UTC"), "Restricted",
         "yes" if case.restricted else "no"],
    ]  # fmt: skip
    if case.status == CaseStatus.CLOSED.value:
        facts.append(
            [
                "Closed",
                case.closed_at.strftime("%Y-%m-%d %H:%M UTC") if case.closed_at else "-",
                "Reason",
                _label(CloseReason, case.close_reason),
            ]
        )
    grid = Table(facts, colWidths=[25 * mm, width / 2 - 25 * mm, 25 * mm, width / 2 - 25 * mm])
    grid.setStyle(
        TableStyle(
            [
                ("FONT", (0, 0), (-1, -1), "Helvetica", 8.5),
                ("FONT", (0, 0), (0, -1), "Helvetica-Bold", 8.5),
                ("FONT", (2, 0), (2, -1), "Helvetica-Bold", 8.5),
            ]
        )
    )
    story += [grid, Spacer(1, 4)]
    if case.summary:
        story.append(para(case.summary, body))
    if case.close_note:
        story.append(para("Closing note: " + case.close_note, body))
    people = case_team.participants(session, case)
    if people:
        story.append(
            para("Participants: " + ", ".join(f"{u.full_name} ({p.role})" for p, u in people))
        )

    story.append(Paragraph("Subjects", styles["Heading2"]))
    links = case_links.links(session, case)
    if links:
        rows = [["Kind", "Reference", "Note"]] + [
            [x.item_type, para(x.item_ref), para(x.note or "")] for x in links
        ]
        story.append(_table(rows, [22 * mm, width * 0.55, width * 0.45 - 22 * mm]))
    else:
        story.append(para("No linked items."))

    tasks = case_team.tasks(session, case)
    if tasks:
        names = case_service.usernames(session, [t.assignee_id for t in tasks])
        story.append(Paragraph("Tasks", styles["Heading2"]))
        rows = [["Task", "Assignee", "Due", "Status"]] + [
            [
                para(t.title),
                names[t.assignee_id].username if t.assignee_id else "-",
                t.due_date.isoformat() if t.due_date else "-",
                t.status,
            ]
            for t in tasks
        ]
        story.append(_table(rows, [width - 75 * mm, 30 * mm, 25 * mm, 20 * mm]))

    notes = case_team.notes(session, case)
    if notes:
        story.append(Paragraph("Notes", styles["Heading2"]))
        for n in notes:
            story.append(para(f"{n.created_at:%Y-%m-%d %H:%M} {n.author}: {n.body}"))

    snaps: Sequence[CaseSnapshot] = case_saved.snapshots(session, case)
    if snaps:
        story.append(PageBreak())
        story.append(Paragraph("Graphs", styles["Heading2"]))
        for s in snaps:
            caption = para(
                f"{s.title}: {s.node_count} nodes, {s.edge_count} edges, saved "
                f"{s.created_at:%Y-%m-%d %H:%M UTC}, sha256 {s.sha256}"
            )
            story.append(
                KeepTogether([caption, graph_drawing(s.graph, width=width, height=95 * mm)])
            )
            story.append(Spacer(1, 6))

    story.append(Paragraph("Evidence", styles["Heading2"]))
    if evidence:
        story.append(para("Each file's SHA-256 was computed at upload and checked again now."))
        rows = [["#", "File", "Bytes", "SHA-256"]] + [
            [str(f.id), para(f.file_name), str(f.size), f.sha256] for f in evidence
        ]
        story.append(_table(rows, [12 * mm, width - 12 * mm - 18 * mm - 88 * mm, 18 * mm, 88 * mm],
                            mono=3))  # fmt: skip
    else:
        story.append(para("No evidence files."))

    events = session.scalars(
        select(CaseEvent)
        .where(CaseEvent.case_id == case.id)
        .order_by(CaseEvent.id.desc())
        .limit(PDF_TIMELINE_ROWS)
    ).all()
    story.append(Paragraph("Timeline", styles["Heading2"]))
    total = session.scalar(
        select(CaseEvent.id).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id).limit(1)
    )
    if len(events) == PDF_TIMELINE_ROWS and total is not None and events[-1].id != total:
        story.append(para(f"The newest {PDF_TIMELINE_ROWS} entries; the JSON bundle has all."))
    rows = [["When (UTC)", "Who", "What", "Audit #"]] + [
        [f"{e.ts:%Y-%m-%d %H:%M:%S}", para(e.actor), para(e.summary), str(e.audit_seq)]
        for e in reversed(events)
    ]
    story.append(_table(rows, [30 * mm, 28 * mm, width - 74 * mm, 16 * mm]))

    def footer(canvas: Any, document: Any) -> None:
        canvas.saveState()
        canvas.setFont("Helvetica", 7)
        canvas.drawString(18 * mm, 10 * mm, f"chainsleuth case {case.id} report")
        canvas.drawRightString(A4[0] - 18 * mm, 10 * mm, f"page {document.page}")
        canvas.restoreState()

    doc.build(story, onFirstPage=footer, onLaterPages=footer)
    return out.getvalue()


def export(
    session: Session,
    *,
    data_dir: Path,
    actor: Actor,
    case: Case,
    fmt: ReportFormat,
    progress: Callable[[int, int], None] | None = None,
) -> Export:
    """The report in one format, after every evidence file's hash checked out; audited.
    ``progress(done, total)`` follows the evidence check."""
    files = case_evidence.verified(
        session, data_dir=data_dir, actor=actor, case=case, progress=progress
    )
    if fmt is ReportFormat.PDF:
        content = pdf(session, case=case, evidence=files)
        media, name = "application/pdf", f"case-{case.id}-report.pdf"
    else:
        data = bundle(session, case=case, evidence=files)
        content = json.dumps(data, indent=1, ensure_ascii=False).encode()
        media, name = "application/json", f"case-{case.id}-bundle.json"
    digest = hashlib.sha256(content).hexdigest()
    record_event(
        session,
        actor=actor,
        case=case,
        kind=EventKind.EXPORTED,
        summary=f"exported the {fmt.value.upper()} report ({len(files)} evidence files checked)",
        details={
            "format": fmt.value,
            "sha256": digest,
            "bytes": len(content),
            "evidence_ids": [f.id for f in files],
        },
    )
    session.commit()
    return Export(content=content, file_name=name, media_type=media, sha256=digest)
