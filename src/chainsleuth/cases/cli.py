"""``chainsleuth cases list|show|open|close|export``.

The CLI acts as the operator (``cli:<user>``), who sees every case, restricted or not;
everything it changes is written to the case's timeline and the audit log.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from chainsleuth.cases import reads
from chainsleuth.cases import report as case_report
from chainsleuth.cases import service as case_service
from chainsleuth.cases.enums import CaseStatus, CaseType, CloseReason, Severity
from chainsleuth.cases.schemas import CaseCreate, CaseFilter, LinkCreate
from chainsleuth.core.cli import cli_actor, cli_session, console
from chainsleuth.core.errors import InvalidInput
from chainsleuth.web.forms import parse

app = typer.Typer(help="Cases: list, show, open, close, export.", no_args_is_help=True)


@app.command("list")
def list_(
    status: list[CaseStatus] = typer.Option([], "--status", help="open, in_progress, ..."),
    type_: list[CaseType] = typer.Option([], "--type", help="fraud, ransomware, ..."),
    severity: list[Severity] = typer.Option([], "--severity"),
    query: str | None = typer.Option(None, "--query", "-q", help="words of the title"),
    limit: int = typer.Option(100, min=1, max=10_000),
    as_json: bool = typer.Option(False, "--json", help="Print JSON"),
) -> None:
    """The cases, most recently changed first."""
    flt = CaseFilter(q=query, status=status, type=type_, severity=severity)
    with cli_session() as (_settings, session):
        rows, total = case_service.list_cases(session, actor=cli_actor(), flt=flt, limit=limit)
        items = reads.case_reads(session, rows)
    if as_json:
        typer.echo(json.dumps([c.model_dump(mode="json") for c in items], indent=2))
        return
    table = Table("#", "title", "type", "severity", "status", "owner", "updated")
    for c in items:
        table.add_row(
            str(c.id),
            c.title + (" (restricted)" if c.restricted else ""),
            c.type.value,
            c.severity.value,
            c.status.value,
            c.owner or "",
            c.updated_at.strftime("%Y-%m-%d %H:%M"),
        )
    console.print(table)
    console.print(f"{len(items)} of {total} cases")


@app.command()
def show(
    case_id: int = typer.Argument(..., min=1),
    as_json: bool = typer.Option(False, "--json", help="Print JSON"),
) -> None:
    """A case: its facts, participants, tasks, links, and the newest timeline entries."""
    with cli_session() as (_settings, session):
        case = case_service.get_case(session, case_id, actor=cli_actor())
        detail = reads.case_detail(session, case, page_size=20)
    if as_json:
        typer.echo(detail.model_dump_json(indent=2))
        return
    c = detail.case
    console.print(f"[bold]#{c.id} {c.title}[/]", highlight=False)
    console.print(
        f"{c.type.label} · {c.severity.label} · {c.status.label}"
        + (f" ({c.close_reason.label.lower()})" if c.close_reason else "")
        + f" · owner {c.owner or '-'}"
        + (" · restricted" if c.restricted else ""),
        highlight=False,
    )
    if c.summary:
        console.print(c.summary, highlight=False)
    console.print(
        "participants: " + ", ".join(f"{p.username} ({p.role.value})" for p in detail.participants)
    )
    for t in detail.tasks:
        console.print(
            f"task #{t.id} [{t.status.value}] {t.title} · {t.assignee or '-'} · "
            f"due {t.due_date or '-'}",
            highlight=False,
        )
    for x in detail.links:
        console.print(f"link {x.item_type.value} {x.item_ref}", highlight=False)
    console.print(
        f"evidence files: {detail.evidence.total} · saved graphs: "
        f"{len(detail.snapshots)} · timeline: {detail.timeline.total} entries"
    )
    for e in detail.timeline.items:
        console.print(f"{e.ts:%Y-%m-%d %H:%M:%S} {e.actor}: {e.summary}", highlight=False)


def _link(text: str) -> LinkCreate:
    kind, sep, ref = text.partition("=")
    if not sep:
        raise InvalidInput(
            f"give a link as TYPE=REF (address=btc:1..., customer=C123), not {text!r}"
        )
    return parse(LinkCreate, item_type=kind.strip().lower(), item_ref=ref)


@app.command("open")
def open_(
    title: str = typer.Option(..., "--title", help="What the case is about"),
    type_: CaseType = typer.Option(..., "--type"),
    severity: Severity = typer.Option(Severity.MEDIUM, "--severity"),
    summary: str = typer.Option("", "--summary"),
    owner: str | None = typer.Option(None, "--owner", help="username of the owner"),
    participant: list[str] = typer.Option([], "--participant", help="username (repeatable)"),
    link: list[str] = typer.Option([], "--link", help="TYPE=REF, e.g. address=btc:1A1z..."),
    restricted: bool = typer.Option(False, "--restricted", help="only participants see it"),
) -> None:
    """Open a case (in one transaction with its links, timeline and audit entries)."""
    data = parse(
        CaseCreate,
        title=title,
        type=type_,
        severity=severity,
        summary=summary,
        owner=owner,
        participants=participant,
        restricted=restricted,
        links=[_link(x).model_dump() for x in link],
    )
    with cli_session() as (_settings, session):
        case = case_service.create_case(session, actor=cli_actor(), data=data)
        console.print(f"opened case #{case.id}: {case.title}", highlight=False)


@app.command()
def close(
    case_id: int = typer.Argument(..., min=1),
    reason: CloseReason = typer.Option(..., "--reason"),
    note: str | None = typer.Option(None, "--note"),
) -> None:
    """Close a case with its reason."""
    with cli_session() as (_settings, session):
        case = case_service.get_case(session, case_id, actor=cli_actor())
        case_service.close_case(session, actor=cli_actor(), case=case, reason=reason, note=note)
        console.print(f"closed case #{case.id} ({reason.value})")


@app.command()
def export(
    case_id: int = typer.Argument(..., min=1),
    out: Path = typer.Option(..., "--out", "-o", help="file to write"),
    format_: case_report.ReportFormat = typer.Option(case_report.ReportFormat.PDF, "--format"),
) -> None:
    """Write the case report (PDF) or bundle (JSON), after re-checking every evidence hash."""
    if out.exists() and out.is_dir():
        raise InvalidInput(f"{out} is a folder: give a file name")
    with cli_session() as (settings, session):
        case = case_service.get_case(session, case_id, actor=cli_actor())
        columns = (
            TextColumn("checking evidence"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
        )
        with Progress(*columns, console=console, transient=True) as bar:
            task = bar.add_task("evidence", total=None)
            result = case_report.export(
                session,
                data_dir=settings.data_dir,
                actor=cli_actor(),
                case=case,
                fmt=format_,
                progress=lambda done, total: bar.update(task, completed=done, total=total),
            )
    tmp = out.with_name(out.name + ".part")
    tmp.write_bytes(result.content)
    tmp.replace(out)
    console.print(
        f"wrote {out} ({len(result.content)} bytes, sha256 {result.sha256})", highlight=False
    )


@app.command("demo-seed")
def demo_seed(world: Path = typer.Argument(..., help="the generated world's folder")) -> None:
    """Open the demo world's sample case (idempotent; ``make demo`` runs it)."""
    from chainsleuth.cases import demo

    with cli_session() as (_settings, session):
        case = demo.seed(session, world=world)
    console.print(f"opened demo case #{case.id}" if case else "the demo case is there already")
