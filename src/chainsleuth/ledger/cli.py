"""``chainsleuth ledger ...``: open the double-entry ledger from the exchange's balances,
check its invariants, show its totals."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from chainsleuth.audit import service as audit
from chainsleuth.core.cli import cli_actor, cli_session, console
from chainsleuth.freezes import service as freeze_service
from chainsleuth.ledger import service as ledger

app = typer.Typer(help="The double-entry ledger of customer funds.", no_args_is_help=True)
err = Console(stderr=True, highlight=False)


@app.command("open")
def open_() -> None:
    """Open a ledger account for every exchange account not opened yet, its opening balance
    from ``exchange_balances`` (idempotent; also done on first use)."""
    actor = cli_actor()
    with cli_session() as (_settings, session):
        with Progress(
            TextColumn("[bold]opening"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=err,
            transient=True,
            disable=not err.is_terminal,
        ) as bar:
            task = bar.add_task("opening", total=None)
            opened = ledger.open_all(
                session,
                actor=actor.name,
                progress=lambda done, total: bar.update(task, completed=done, total=total),
            )
        if opened:
            audit.record(session, actor=actor, action="ledger.open", details={"accounts": opened})
        session.commit()
    console.print(f"opened {opened} account(s)")


@app.command("check")
def check() -> None:
    """Check every invariant of the ledger and the freezes; exit 1 naming what is broken."""
    with cli_session() as (_settings, session):
        problems = freeze_service.check(session)
    if problems:
        for p in problems:
            err.print(f"[bold red]broken:[/] {p}")
        err.print(f"{len(problems)} invariant(s) broken")
        raise typer.Exit(1)
    console.print("the ledger is sound: every journal balances, nothing negative, nothing lost")


@app.command("totals")
def totals() -> None:
    """Per asset and bucket, the sum of all postings (each asset sums to zero)."""
    with cli_session() as (_settings, session):
        rows = ledger.totals(session)
    table = Table("asset", "bucket", "units")
    for asset, buckets in sorted(rows.items()):
        for bucket, units in sorted(buckets.items()):
            table.add_row(asset, bucket, str(units))
    console.print(table)
