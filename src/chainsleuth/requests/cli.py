"""``chainsleuth requests ...``: the request queue from the command line.

``list`` and ``show`` read; ``transition`` moves a request (as the operator, with every
rule of the workflow; audited); ``due`` lists the requests past 80 % of their SLA;
``notify-due`` processes the customer notices that are due (mails to the outbox);
``import`` loads the world's ``agencies/requests.csv`` history (idempotent).
"""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy.orm import Session

from chainsleuth.auth.enums import ROLE_PERMISSIONS, Role
from chainsleuth.auth.models import User
from chainsleuth.core.cli import cli_actor, cli_session, console
from chainsleuth.core.errors import InvalidInput, NotFound
from chainsleuth.orgs.models import Agency
from chainsleuth.requests import flows, importer, notify, present, queries
from chainsleuth.requests.enums import RequestStatus, RequestType
from chainsleuth.requests.models import LeRequest
from chainsleuth.requests.schemas import RequestSummary

app = typer.Typer(
    help="Law-enforcement requests: the queue, the workflow, SLA warnings, notices, import.",
    no_args_is_help=True,
)
err = Console(stderr=True, highlight=False)


def _operator() -> User:
    """The CLI operator works as staff (an administrator of the platform)."""
    return User(role=Role.ADMIN, agency_id=None, organisation_id=None)


def _summaries(session: Session, reqs: list[LeRequest]) -> list[RequestSummary]:
    rows = []
    for req in reqs:
        agency = session.get(Agency, req.agency_id)
        rows.append((req, agency.name if agency else "?", agency.country if agency else ""))
    return present.summaries(session, rows)


def _table(items: list[RequestSummary]) -> Table:
    table = Table("reference", "type", "status", "agency", "received", "SLA due", "flags")
    for s in items:
        flags = []
        if s.sla_breached:
            flags.append("[red]SLA breached[/]")
        elif s.sla_warning:
            flags.append("[yellow]SLA 80%[/]")
        if s.emergency:
            flags.append("emergency")
        if s.possible_duplicate_of:
            flags.append(f"dup of {s.possible_duplicate_of}")
        table.add_row(
            s.reference,
            s.type.value,
            s.status.value,
            f"{s.agency_name} ({s.country})",
            f"{s.received_at:%Y-%m-%d %H:%M}",
            f"{s.sla_due_at:%Y-%m-%d %H:%M}",
            ", ".join(flags),
        )
    return table


@app.command("list")
def list_(
    status: RequestStatus | None = typer.Option(None, help="Only this status"),
    type_: RequestType | None = typer.Option(None, "--type", help="Only this type"),
    agency: int | None = typer.Option(None, help="Only this agency (id)"),
    country: str | None = typer.Option(None, help="Only agencies of this country (ISO code)"),
    sla_warning: bool = typer.Option(False, "--sla-warning", help="Only those past 80 % SLA"),
    limit: int = typer.Option(50, min=1, max=500),
    as_json: bool = typer.Option(False, "--json", help="Print JSON"),
) -> None:
    """Requests, newest first, with the staff queue's filters."""
    if country is not None and len(country.strip()) != 2:
        raise InvalidInput("--country: a two-letter ISO code")
    flt = queries.ListFilter(
        status=status, type=type_, agency_id=agency, country=country, sla_warning=sla_warning
    )
    with cli_session() as (_settings, session):
        rows, _cursor = queries.list_requests(session, user=_operator(), flt=flt, limit=limit)
        items = present.summaries(session, rows)
    if as_json:
        typer.echo(json.dumps([i.model_dump(mode="json") for i in items], indent=2))
        return
    console.print(_table(items))


@app.command()
def show(
    reference: str = typer.Argument(..., help="The reference (LER-...) or id"),
    as_json: bool = typer.Option(False, "--json", help="Print JSON"),
) -> None:
    """One request: subjects, documents, messages, verification, approvals, notice state."""
    with cli_session() as (_settings, session):
        req = queries.find(session, reference)
        detail = present.detail(session, req, user=_operator())
    if as_json:
        typer.echo(json.dumps(detail.model_dump(mode="json"), indent=2))
        return
    console.print(f"[bold]{detail.reference}[/] {detail.type_label} · {detail.status.label}")
    console.print(f"agency: {detail.agency_name} ({detail.country}) · case {detail.case_reference}")
    console.print(f"legal basis: {detail.legal_basis} · jurisdiction: {detail.jurisdiction}")
    console.print(
        f"received {detail.received_at:%Y-%m-%d %H:%M} · SLA due {detail.sla_due_at:%Y-%m-%d %H:%M}"
    )
    console.print(
        f"verification: {detail.verification_state} · approvals: {len(detail.approvals or [])}"
        f" · notification: {detail.notification_state}"
    )
    table = Table("kind", "value", "chain")
    for s in detail.subjects:
        table.add_row(
            s.kind, s.value + (f" ({s.date_of_birth})" if s.date_of_birth else ""), s.chain or ""
        )
    console.print(table)
    for m in detail.messages:
        console.print(f"[{m.created_at:%Y-%m-%d %H:%M}] {m.author_name} ({m.direction}): {m.body}")


@app.command()
def transition(
    reference: str = typer.Argument(..., help="The reference (LER-...) or id"),
    status: RequestStatus = typer.Argument(..., help="The next status"),
    note: str = typer.Option("", help="Why (kept in the audit log)"),
    assignee: str | None = typer.Option(None, help="Username of the assignee (for 'assigned')"),
) -> None:
    """Move a request one step of the workflow (every rule applies; audited)."""
    with cli_session() as (_settings, session):
        req = queries.find(session, reference)
        user = None
        if assignee is not None:
            from sqlalchemy import select

            user = session.scalar(select(User).where(User.username == assignee))
            if user is None:
                raise NotFound(f"no user named {assignee!r}")
        flows.transition(
            session,
            req=req,
            to=status,
            actor=cli_actor(),
            permissions=ROLE_PERMISSIONS[Role.ADMIN],
            note=note,
            assignee=user,
        )
        console.print(f"{req.reference}: now {req.status}")


@app.command()
def due(as_json: bool = typer.Option(False, "--json", help="Print JSON")) -> None:
    """Open requests past 80 % of their SLA clock, the most urgent first."""
    with cli_session() as (_settings, session):
        items = _summaries(session, queries.due(session))
    if as_json:
        typer.echo(json.dumps([i.model_dump(mode="json") for i in items], indent=2))
        return
    if not items:
        console.print("no request is past 80 % of its SLA")
        return
    console.print(_table(items))


@app.command("notify-due")
def notify_due() -> None:
    """Process the customer notices that are due: re-queue those whose non-disclosure order
    ended, mail a notice to each customer whose records a delivered request produced (to
    the outbox; each step audited)."""
    with cli_session() as (settings, session):
        run = notify.process_notifications(session, actor=cli_actor(), settings=settings)
    console.print(
        f"notices: {run.requeued} re-queued, {run.sent} sent ({run.mails} mail(s)), "
        f"{run.cancelled} cancelled"
    )


app.command("notifications", hidden=True, help="Old name of notify-due.")(notify_due)


@app.command("import")
def import_(
    path: Path = typer.Argument(..., help="requests.csv, or a world (or its agencies/) folder"),
) -> None:
    """Load a history of requests (the world's agencies/requests.csv); idempotent."""
    with (
        cli_session() as (_settings, session),
        Progress(
            TextColumn("[bold]requests"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=err,
            transient=True,
        ) as bar,
    ):
        task = bar.add_task("import", total=None)
        result = importer.import_requests(
            session,
            actor=cli_actor(),
            path=path,
            progress=lambda done, total: bar.update(task, completed=done, total=total),
        )
    if result.agencies:
        a = result.agencies
        console.print(
            f"agencies: {a['created']} created, {a['updated']} updated, {a['unchanged']} unchanged"
        )
    console.print(f"requests: {result.added} added, {result.unchanged} unchanged")
