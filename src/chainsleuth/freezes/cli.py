r"""``chainsleuth freezes ...``: the register, one freeze, what is due, the daily digest.

Freezes are requested and approved by named people in the web application or the API (four
eyes); the CLI reads. The digest is meant for cron, e.g. every morning at 07:00::

    0 7 * * *  /srv/cs/.venv/bin/chainsleuth freezes digest --out /var/cs/digest-$(date +\%F).txt

(it also prints to stdout, which cron mails to the crontab's owner).
"""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Table

from chainsleuth.core.cli import cli_session, console
from chainsleuth.core.errors import InvalidInput
from chainsleuth.exchange import service as exchange_service
from chainsleuth.freezes import reports
from chainsleuth.freezes import service as freeze_service
from chainsleuth.freezes.schemas import FreezeRead

app = typer.Typer(
    help="Freezes: the register, due reviews and expiries, the digest.", no_args_is_help=True
)


def _when(value: object) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else "-"  # type: ignore[attr-defined]


def _held(f: FreezeRead) -> str:
    return ", ".join(h.held_display for h in f.held if h.held) or "-"


@app.command("list")
def list_(
    status: str | None = typer.Option(None, help="pending, active, rejected, released or seized"),
    due: int | None = typer.Option(None, help="Only active freezes due within this many days"),
    customer: str | None = typer.Option(None, help="Only this customer's freezes"),
    as_json: bool = typer.Option(False, "--json", help="Print JSON"),
) -> None:
    """The freeze register, newest first."""
    with cli_session() as (_settings, session):
        rows = reports.reads(
            session,
            reports.list_freezes(session, status=status, due_within=due, customer_id=customer),
        )
    if as_json:
        console.print_json(json.dumps([r.model_dump(mode="json") for r in rows]))
        return
    table = Table("id", "customer", "scope", "status", "held", "basis", "review", "expires")
    for r in rows:
        basis = f"request #{r.request_id}" if r.request_id else f"case #{r.case_id}"
        status_text = r.status + (f" ({r.pending_action} pending)" if r.pending_action else "")
        table.add_row(
            str(r.id),
            r.customer_id,
            r.scope + (f" {r.exchange_account_id}" if r.exchange_account_id else ""),
            status_text,
            _held(r),
            basis,
            _when(r.review_at),
            _when(r.expires_at),
        )
    console.print(table)
    console.print(f"{len(rows)} freeze(s)")


@app.command("show")
def show(
    freeze_id: int = typer.Argument(..., help="The freeze's number"),
    as_json: bool = typer.Option(False, "--json", help="Print JSON"),
) -> None:
    """One freeze: what it holds, its four-eyes steps, its ledger trail."""
    if freeze_id < 1:
        raise InvalidInput("a freeze number is a positive whole number")
    with cli_session() as (_settings, session):
        d = reports.detail(session, freeze_service.get(session, freeze_id))
    if as_json:
        console.print_json(d.model_dump_json())
        return
    basis = f"request #{d.request_id}" if d.request_id else f"case #{d.case_id}"
    console.print(f"[bold]Freeze #{d.id}[/] customer {d.customer_id}, {d.scope}: {d.status}")
    amount = f"{exchange_service.display(d.amount, d.asset)}; " if d.amount and d.asset else ""
    console.print(
        f"{amount}basis {basis}; review {_when(d.review_at)}; expires {_when(d.expires_at)}"
    )
    console.print(f"reason: {d.reason}")
    holds = Table("account", "held", "placed", "released", "seized", title="Holds")
    for h in d.held:
        holds.add_row(
            h.exchange_account_id, h.held_display, str(h.placed), str(h.released), str(h.seized)
        )
    console.print(holds)
    steps = Table("#", "step", "status", "requested by", "decided by", "note", title="Approvals")
    for a in d.actions:
        steps.add_row(
            str(a.id),
            a.kind,
            a.status,
            f"{a.requested_by} {_when(a.requested_at)}",
            f"{a.decided_by} {_when(a.decided_at)}" if a.decided_by else "-",
            a.decision_note or a.note or "",
        )
    console.print(steps)
    trail = Table("journal", "kind", "when", "account", "amount", title="Ledger trail")
    for j in d.trail:
        for p in j.postings:
            trail.add_row(str(j.id), j.kind, _when(j.created_at), p.account, p.display)
    console.print(trail)


@app.command("due")
def due(
    days: int = typer.Option(7, help="Look this many days ahead"),
    as_json: bool = typer.Option(False, "--json", help="Print JSON"),
) -> None:
    """Active freezes whose review date or expiry falls within DAYS (or has passed)."""
    with cli_session() as (_settings, session):
        items = [d.read() for d in reports.due_soon(session, days=days)]
    if as_json:
        console.print_json(json.dumps([i.model_dump(mode="json") for i in items]))
        return
    table = Table("freeze", "customer", "what", "when", "")
    for i in items:
        table.add_row(
            str(i.freeze_id),
            i.customer_id,
            i.kind,
            _when(i.at),
            "[bold red]overdue[/]" if i.overdue else "",
        )
    console.print(table)
    console.print(f"{len(items)} date(s) due within {days} day(s)")


@app.command("digest")
def digest(
    days: int = typer.Option(7, help="Look this many days ahead"),
    out: Path | None = typer.Option(None, help="Also write the digest to this file"),
) -> None:
    """The daily digest: overdue and due freezes and steps awaiting approval (for cron)."""
    with cli_session() as (_settings, session):
        text = reports.digest(session, days=days)
    if out is not None:
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise InvalidInput(f"cannot write {out}: {exc.strerror}") from exc
    typer.echo(text, nl=False)
