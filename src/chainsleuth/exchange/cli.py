"""``chainsleuth exchange ...``: import the exchange's export, search subjects, show links.

The CLI acts as the operator (``cli:<user>``). It never decrypts KYC records: names, e-mails
and phones are shown masked; revealing one is done in the web application or the API by a
user with ``kyc:reveal``, and audited.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from chainsleuth.core.cli import cli_actor, cli_session, console
from chainsleuth.exchange import service as exchange_service
from chainsleuth.exchange.importer import ImportResult, import_export
from chainsleuth.exchange.importer import Progress as ProgressFn

app = typer.Typer(
    help="The exchange's records: customers, accounts, ledger, logins.", no_args_is_help=True
)
err = Console(stderr=True, highlight=False)


@contextmanager
def _progress() -> Iterator[ProgressFn]:
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal,
    ) as bar:
        task = bar.add_task("reading", total=None)

        def update(stage: str, done: int, total: int) -> None:
            bar.update(task, description=stage, completed=done, total=total or None)

        yield update


def _summary(result: ImportResult) -> Table:
    table = Table("table", "added", "updated", "unchanged")
    for name, c in result.tables.items():
        table.add_row(name, f"{c.added:,}", f"{c.updated:,}", f"{c.unchanged:,}")
    return table


@app.command("import")
def import_(
    directory: Path = typer.Argument(..., help="The export folder (e.g. <world>/exchange)"),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON"),
) -> None:
    """Import an export (CSV or Parquet files): all of it in one transaction, or nothing."""
    with cli_session() as (settings, session), _progress() as progress:
        result = import_export(
            session,
            directory=directory,
            keys=exchange_service.keys_for(settings),
            actor=cli_actor(),
            progress=progress,
        )
    if as_json:
        typer.echo(json.dumps(result.as_dict(), indent=2))
        return
    console.print(_summary(result))
    if result.changed:
        console.print(
            f"imported {directory} (import {result.import_id}): {result.changed:,} rows "
            f"added or updated, {result.links:,} linked-account links"
        )
    else:
        console.print(f"{directory}: nothing changed")


@app.command("search")
def search(
    query: str = typer.Argument(
        ..., help="Name, date of birth, e-mail, phone, customer/account id, address, tx hash"
    ),
    limit: int = typer.Option(50, min=1, max=200),
    as_json: bool = typer.Option(False, "--json", help="Print JSON"),
) -> None:
    """Find customers (KYC details shown masked) and why they match."""
    with cli_session() as (settings, session):
        _query, matches = exchange_service.search(
            session, keys=exchange_service.keys_for(settings), q=query, limit=limit
        )
    if as_json:
        typer.echo(json.dumps([m.model_dump(mode="json") for m in matches], indent=2))
        return
    if not matches:
        console.print(f"no customer matches {query!r}")
        return
    table = Table("customer", "type", "name", "residence", "risk", "matched on")
    for m in matches:
        c = m.customer
        table.add_row(
            c.id,
            c.customer_type,
            c.masked.name or "",
            c.residence_country or "",
            c.risk_rating or "",
            "; ".join(f"{r.field}: {r.detail or r.value}" for r in m.reasons),
        )
    console.print(table)


@app.command("links")
def links(
    customer_id: str = typer.Argument(..., help="The customer id (C and nine digits)"),
    as_json: bool = typer.Option(False, "--json", help="Print JSON"),
) -> None:
    """The customers linked to one customer, with the evidence."""
    with cli_session() as (_settings, session):
        customer = exchange_service.get_customer(session, customer_id)
        rows = exchange_service.links_read(session, customer)
    if as_json:
        typer.echo(json.dumps([r.model_dump(mode="json") for r in rows], indent=2))
        return
    if not rows:
        console.print(f"{customer.id} has no linked accounts")
        return
    table = Table("customer", "why", "shared", "first seen", "last seen", "occurrences")
    for r in rows:
        table.add_row(
            r.customer_id,
            r.label,
            r.value,
            r.first_seen.strftime("%Y-%m-%d %H:%M") if r.first_seen else "",
            r.last_seen.strftime("%Y-%m-%d %H:%M") if r.last_seen else "",
            str(r.occurrences),
        )
    console.print(table)


@app.command("rekey")
def rekey() -> None:
    """Re-encrypt the KYC records that are not under the current key version."""
    with cli_session() as (settings, session):
        done = exchange_service.rekey(
            session, keys=exchange_service.keys_for(settings), actor=cli_actor()
        )
    console.print(f"re-encrypted {done:,} KYC records" if done else "every KYC record is current")
