"""``chainsleuth packages ...`` and ``chainsleuth request-stats``.

``packages verify ZIP --key KEY.pem`` checks a downloaded package offline (exit 0 when it
verifies, 1 when it does not, 2 on bad input); ``packages key`` prints the platform's
public key; ``packages gather|show|select|approve`` are the staff steps from the command
line (the CLI acts as the operator, ``cli:<user>``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from chainsleuth.chain import service as chain_service
from chainsleuth.core.cli import cli_actor, cli_session, console
from chainsleuth.core.config import load_settings
from chainsleuth.core.errors import InvalidInput, NotFound
from chainsleuth.packages import service as package_service
from chainsleuth.packages import signing
from chainsleuth.packages import stats as stats_module
from chainsleuth.packages.enums import Category
from chainsleuth.packages.models import Gathering
from chainsleuth.requests import queries as request_queries
from chainsleuth.tracing import service as tracing_service

app = typer.Typer(help="Response packages: gather, select, approve, verify.", no_args_is_help=True)
err = Console(stderr=True, highlight=False)
CATEGORIES = ", ".join(Category)


@contextmanager
def _progress() -> Iterator[package_service.ProgressFn]:
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal,
    ) as bar:
        task = bar.add_task("gathering", total=None)

        def update(stage: str, done: int, total: int) -> None:
            bar.update(task, description=stage, completed=done, total=total or None)

        yield update


@app.command()
def verify(
    package: Path = typer.Argument(..., help="The package ZIP"),
    key: Path | None = typer.Option(
        None,
        "--key",
        help="The platform's public key (PEM, from /.well-known/chainsleuth-signing-key)",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON"),
) -> None:
    """Verify a package offline: signature of the manifest, every file's SHA-256 and size."""
    if not package.is_file():
        raise InvalidInput(f"no file {package}")
    public = None
    if key is not None:
        if not key.is_file():
            raise InvalidInput(f"no key file {key}")
        public = signing.load_public_key(key.read_bytes())
    result = signing.verify_zip(package, public)
    if as_json:
        typer.echo(json.dumps({"ok": result.ok, **vars(result)}, indent=2))
    else:
        for w in result.warnings:
            err.print(f"[yellow]warning:[/] {w}")
        for p in result.problems:
            console.print(f"[red]✗[/] {p}")
        if result.ok:
            console.print(
                f"[green]✓[/] {package.name}: package {result.reference}, {result.files} files, "
                f"signed by key {result.fingerprint}"
            )
    if not result.ok:
        raise typer.Exit(1)


@app.command()
def key() -> None:
    """Print the platform's public key (PEM) and its fingerprint."""
    settings = load_settings()
    public = signing.load_private_key(settings).public_key()
    typer.echo(signing.public_pem(public).decode(), nl=False)
    err.print(f"fingerprint (SHA-256 of the raw key): {signing.fingerprint(public)}")


def _show(g: Gathering) -> None:
    table = Table("item", "customer", "category", "chain", "rows", "selected",
                  title=f"gathering {g.id} of {g.reference} ({g.status})")  # fmt: skip
    for i in g.items:
        table.add_row(str(i.id), i.customer_id, i.category, i.chain or "", f"{i.rows:,}",
                      "yes" if i.selected else "")  # fmt: skip
    console.print(table)
    for note in g.notes:
        console.print(f"note: {note}")


def _gathering(session: object, gathering_id: int) -> Gathering:
    g = session.get(Gathering, gathering_id)  # type: ignore[attr-defined]
    if not isinstance(g, Gathering):
        raise NotFound(f"no gathering {gathering_id}")
    return g


@app.command()
def gather(
    request: str = typer.Argument(..., help="The request's reference or id"),
) -> None:
    """Gather every item of a request's subjects (nothing ticked yet)."""
    with cli_session() as (settings, session), chain_service.open_reader(settings) as reader:
        req = request_queries.find(session, request)
        src = package_service.sources(
            settings, reader=reader, tracing=tracing_service.context_for(settings, session=session)
        )
        with _progress() as progress:
            g = package_service.gather(
                session, actor=cli_actor(), src=src, request=req, progress=progress
            )
        _show(g)


@app.command()
def show(gathering_id: int = typer.Argument(..., help="The gathering's id")) -> None:
    """A gathering's items and what is ticked."""
    with cli_session() as (_settings, session):
        _show(_gathering(session, gathering_id))


@app.command("select")
def select_(
    gathering_id: int = typer.Argument(..., help="The gathering's id"),
    include: list[str] = typer.Option(
        [], "--include", help=f"A category to produce (repeat): {CATEGORIES}"
    ),
    item: list[int] = typer.Option([], "--item", help="An item id to produce (repeat)"),
) -> None:
    """Tick what the legal basis allows (every other item is withheld)."""
    for c in include:
        if c not in {str(x) for x in Category}:
            raise InvalidInput(f"unknown category {c!r} (known: {', '.join(Category)})")
    with cli_session() as (_settings, session):
        g = _gathering(session, gathering_id)
        ids = {i.id for i in g.items if i.category in include} | set(item)
        g = package_service.select_items(session, actor=cli_actor(), gathering=g, item_ids=ids)
        _show(g)


@app.command()
def approve(gathering_id: int = typer.Argument(..., help="The gathering's id")) -> None:
    """Build, sign and deliver the package of the ticked items."""
    with cli_session() as (settings, session), chain_service.open_reader(settings) as reader:
        g = _gathering(session, gathering_id)
        src = package_service.sources(
            settings, reader=reader, tracing=tracing_service.context_for(settings, session=session)
        )
        pkg = package_service.approve(
            session, actor=cli_actor(), settings=settings, gathering=g, src=src
        )
        console.print(
            f"package {pkg.id}: {package_service.package_path(settings, pkg)} "
            f"({pkg.size:,} bytes, SHA-256 {pkg.sha256}), link expires {pkg.expires_at:%Y-%m-%d}"
        )


def request_stats(
    since: datetime | None = typer.Option(None, "--since", help="Received from (UTC)"),
    until: datetime | None = typer.Option(None, "--until", help="Received before (UTC)"),
    as_json: bool = typer.Option(False, "--json", help="Print JSON"),
) -> None:
    """Request metrics: by country, agency, type and month; accounts affected; share
    produced; emergency and preservation apart; median times; SLA breaches."""
    with cli_session() as (_settings, session):
        s = stats_module.compute(session, since=since, until=until)
    if as_json:
        typer.echo(s.model_dump_json(indent=2))
        return
    console.print(f"[bold]{s.requests:,} requests[/]"
                  f"{' from ' + s.since.isoformat() if s.since else ''}"
                  f"{' until ' + s.until.isoformat() if s.until else ''}")  # fmt: skip
    for title, counts in (("country", s.by_country), ("agency", s.by_agency),
                          ("type", s.by_type), ("month", s.by_month)):  # fmt: skip
        table = Table(title, "requests", title=f"by {title}")
        for k, v in counts.items():
            table.add_row(k, f"{v:,}")
        console.print(table)
    table = Table("group", "requests", "responded", "median h to acknowledge",
                  "median h to respond", "SLA breaches", title="times")  # fmt: skip
    for name in ("all", "emergency", "preservation", "other"):
        g: stats_module.GroupFigures = getattr(s, name)
        table.add_row(name, f"{g.requests:,}", f"{g.responded:,}",
                      _h(g.median_hours_to_acknowledge), _h(g.median_hours_to_respond),
                      f"{g.sla_breaches:,}")  # fmt: skip
    console.print(table)
    share = f"{s.share_produced:.1%}" if s.share_produced is not None else "–"
    console.print(
        f"data produced for {s.produced:,} requests ({share} of those responded to); "
        f"{s.customers_affected:,} customers and {s.accounts_affected:,} accounts affected; "
        f"{s.audited_responses:,} responses in the audit log"
    )


def _h(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"
