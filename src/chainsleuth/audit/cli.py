"""``chainsleuth audit ...``: verify the hash chain, read recent entries."""

from __future__ import annotations

import json

import typer
from rich.table import Table

from chainsleuth.audit import service as audit
from chainsleuth.audit.enums import Outcome
from chainsleuth.core.cli import cli_session, console

app = typer.Typer(help="The audit log: verify its hash chain, read it.", no_args_is_help=True)


@app.command()
def verify(as_json: bool = typer.Option(False, "--json", help="JSON output")) -> None:
    """Walk the whole hash chain; exit 1 and name the first broken entry if it is broken."""
    with cli_session() as (_settings, session):
        result = audit.verify(session)
    if as_json:
        typer.echo(json.dumps(result.as_dict()))
    elif result.ok:
        console.print(
            f"[green]audit chain intact[/]: {result.checked} entries, head #{result.head_seq} "
            f"{result.head_hash}"
        )
    else:
        console.print(
            f"[bold red]audit chain BROKEN at entry #{result.broken_seq}[/]: {result.reason} "
            f"({result.checked} entries before it verified)"
        )
    if not result.ok:
        raise typer.Exit(1)


@app.command()
def tail(
    n: int = typer.Option(20, "-n", min=1, max=1000, help="How many entries"),
    action: str | None = typer.Option(None, help="Action or action prefix, e.g. auth."),
    outcome: Outcome | None = typer.Option(None, help="Only this outcome"),
    actor: str | None = typer.Option(None, help="Only this actor"),
) -> None:
    """Show the newest entries."""
    flt = audit.AuditFilter(action=action, outcome=outcome, actor=actor)
    with cli_session() as (_settings, session):
        events = audit.search(session, flt=flt, limit=n)
        table = Table("#", "when (UTC)", "who", "via", "action", "object", "outcome", "from")
        for ev in reversed(events):
            obj = f"{ev.object_type} {ev.object_id}" if ev.object_type else ""
            table.add_row(
                str(ev.seq),
                ev.ts.strftime("%Y-%m-%d %H:%M:%S"),
                ev.actor,
                ev.channel,
                ev.action,
                obj,
                ev.outcome,
                ev.ip or "",
            )
        console.print(table)
