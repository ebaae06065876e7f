"""``chainsleuth alerts ...`` (the queue: list, show, assign, move, close, stats) and
``chainsleuth watch ...`` (the watch list: add, list, remove, scan).

Commands act as the operator (``cli:<user>``) and every change is one transaction with its
audit entry; bad input is one line on stderr and exit code 2, with nothing changed.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from chainsleuth.alerts import service as alert_service
from chainsleuth.alerts import stats as alert_stats
from chainsleuth.alerts import watch as watch_service
from chainsleuth.alerts.enums import WatchKind
from chainsleuth.alerts.schemas import WatchEntryCreate
from chainsleuth.alerts.views import alert_detail, alert_read, entry_read
from chainsleuth.chain import service as chain_service
from chainsleuth.core.cli import cli_actor, cli_session, console
from chainsleuth.core.db import Database
from chainsleuth.core.errors import InvalidInput
from chainsleuth.core.models import as_utc
from chainsleuth.web.forms import parse

app = typer.Typer(help="Alerts: the investigators' queue.", no_args_is_help=True)
watch_app = typer.Typer(
    help="The watch list: addresses and entities whose funds reaching us raise an alert.",
    no_args_is_help=True,
)


def _print_json(value: Any) -> None:
    console.print_json(json.dumps(value, default=str))


def _date(value: str | None, what: str) -> datetime | None:
    if not value:
        return None
    try:
        return as_utc(datetime.fromisoformat(value))
    except ValueError:
        raise InvalidInput(f"{what}: {value!r} is not a date (YYYY-MM-DD)") from None


@app.command("list")
def list_cmd(
    status: list[str] = typer.Option([], "--status", help="new, in_review, escalated, closed"),
    severity: list[str] = typer.Option([], "--severity", help="severe, high, medium, low"),
    source: list[str] = typer.Option([], "--source", help="screening, watchlist, ..."),
    assignee: str | None = typer.Option(None, help="A username, or 'none'."),
    since: str | None = typer.Option(None, help="First seen on or after (YYYY-MM-DD)."),
    until: str | None = typer.Option(None, help="First seen before (YYYY-MM-DD)."),
    open_only: bool = typer.Option(False, "--open", help="Only alerts still to do."),
    limit: int = typer.Option(50, min=1, max=alert_service.MAX_PAGE),
    offset: int = typer.Option(0, min=0),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Alerts, worst and newest first."""
    flt = alert_service.AlertFilter(
        status=[alert_service.parse_status(s) for s in status],
        severity=[alert_service.parse_severity(s) for s in severity],
        source=[alert_service.parse_source(s) for s in source],
        assignee=assignee,
        since=_date(since, "since"),
        until=_date(until, "until"),
        open_only=open_only,
    )
    with cli_session() as (_, session):
        items, total = alert_service.list_alerts(session, flt=flt, limit=limit, offset=offset)
        reads = [alert_read(a) for a in items]
    if as_json:
        _print_json({"total": total, "items": [r.model_dump(mode="json") for r in reads]})
        return
    table = Table(title=f"{total} alert{'' if total == 1 else 's'}")
    for col in ("id", "severity", "status", "subject", "source", "assignee", "seen", "reason"):
        table.add_column(col)
    for r in reads:
        table.add_row(
            str(r.id),
            r.severity,
            r.status,
            f"{r.subject_type}:{r.subject}",
            r.source,
            r.assignee or "",
            str(r.occurrences),
            r.reasons[0],
        )
    console.print(table)


@app.command()
def show(alert_id: int = typer.Argument(..., help="The alert's id.")) -> None:
    """One alert with its reasons, comments and history (JSON)."""
    with cli_session() as (_, session):
        detail = alert_detail(session, alert_service.get_alert(session, alert_id))
    _print_json(detail.model_dump(mode="json"))


@app.command()
def assign(
    alert_id: int = typer.Argument(..., help="The alert's id."),
    username: str = typer.Argument(..., help="Who works it ('none' to unassign)."),
) -> None:
    """Give an alert to a user who may work alerts."""
    with cli_session() as (_, session):
        alert = alert_service.get_alert(session, alert_id)
        target = None if username.strip().lower() == "none" else username
        alert_service.assign(session, actor=cli_actor(), alert=alert, assignee=target)
        session.commit()
    console.print(f"alert {alert_id} assigned to {target or 'nobody'}")


@app.command()
def move(
    alert_id: int = typer.Argument(..., help="The alert's id."),
    status: str = typer.Argument(..., help="new, in_review or escalated"),
    note: str | None = typer.Option(None, help="Why (needed to re-open a closed alert)."),
    reopen: bool = typer.Option(False, help="Re-open a closed alert."),
) -> None:
    """Move an open alert along the workflow (or re-open a closed one with --reopen)."""
    with cli_session() as (_, session):
        alert = alert_service.get_alert(session, alert_id)
        alert_service.set_status(
            session, actor=cli_actor(), alert=alert, status=status, note=note, reopen=reopen
        )
        session.commit()
        shown = alert.status
    console.print(f"alert {alert_id} is {shown.replace('_', ' ')}")


@app.command()
def close(
    alert_id: int = typer.Argument(..., help="The alert's id."),
    disposition: str = typer.Option(..., help="true_positive, false_positive, benign or duplicate"),
    note: str = typer.Option(..., help="What was found."),
) -> None:
    """Close an alert with its disposition and a note."""
    with cli_session() as (_, session):
        alert = alert_service.get_alert(session, alert_id)
        alert_service.set_status(
            session,
            actor=cli_actor(),
            alert=alert,
            status="closed",
            disposition=disposition,
            note=note,
        )
        session.commit()
    console.print(f"alert {alert_id} closed as {disposition.replace('_', ' ')}")


@app.command()
def stats(
    days: int = typer.Option(30, min=1, max=alert_stats.MAX_DAYS),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Alerts per day, median time to disposition, share closed as false positive."""
    with cli_session() as (_, session):
        figures = alert_stats.stats(session, days=days)
    if as_json:
        _print_json(figures.model_dump(mode="json"))
        return
    median = figures.median_hours_to_disposition
    share = figures.false_positive_share
    console.print(
        f"last {days} days: {figures.total} alerts ({figures.open} open, {figures.closed} "
        f"closed), {figures.alerts_per_day} per day; median time to disposition "
        + (f"{median} h" if median is not None else "-")
        + "; closed as false positive "
        + (f"{share * 100:.1f}%" if share is not None else "-")
    )


# -- the watch list -----------------------------------------------------------------------


@watch_app.command("add")
def watch_add(
    chain: str = typer.Argument(..., help="btc or eth"),
    value: str = typer.Argument(..., help="An address, or an entity id with --entity."),
    reason: str = typer.Option(..., help="Why it is watched."),
    entity: bool = typer.Option(False, "--entity", help="VALUE is an entity id."),
    severity: str = typer.Option("high", help="severe, high, medium or low"),
    expires: str | None = typer.Option(None, help="Stop watching after (YYYY-MM-DD)."),
) -> None:
    """Put an address or entity under watch."""
    data = parse(
        WatchEntryCreate,
        kind=WatchKind.ENTITY if entity else WatchKind.ADDRESS,
        chain=chain,
        value=value,
        reason=reason,
        severity=alert_service.parse_severity(severity),
        expires_at=_date(expires, "expires"),
    )
    with cli_session() as (settings, session):
        entry = watch_service.add_entry(
            session, actor=cli_actor(), data=data, store_root=chain_service.store_root(settings)
        )
        session.commit()
        entry_id, shown = entry.id, entry.value
    console.print(f"watching {shown} on {data.chain} (entry {entry_id})")


@watch_app.command("list")
def watch_list(
    include_removed: bool = typer.Option(False, "--all", help="Removed entries too."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """What is under watch, with the hits of each entry."""
    with cli_session() as (_, session):
        reads = [
            entry_read(e, n)
            for e, n in watch_service.list_entries(session, include_removed=include_removed)
        ]
    if as_json:
        _print_json([r.model_dump(mode="json") for r in reads])
        return
    table = Table(title=f"{len(reads)} watched")
    for col in ("id", "chain", "kind", "value", "reason", "severity", "expires", "hits"):
        table.add_column(col)
    for r in reads:
        table.add_row(
            str(r.id),
            r.chain,
            r.kind,
            r.value,
            r.reason,
            r.severity,
            r.expires_at.isoformat() if r.expires_at else "never",
            str(r.hits) + (" (removed)" if r.removed_at else ""),
        )
    console.print(table)


@watch_app.command("remove")
def watch_remove(entry_id: int = typer.Argument(..., help="The entry's id.")) -> None:
    """Take an entry off the watch list (kept with its hits for the record)."""
    with cli_session() as (_, session):
        watch_service.remove_entry(session, actor=cli_actor(), entry_id=entry_id)
        session.commit()
    console.print(f"entry {entry_id} removed from the watch list")


@watch_app.command("scan")
def watch_scan(
    chain: str = typer.Option("all", help="btc, eth or all"),
    from_height: int | None = typer.Option(
        None, "--from-height", min=0, help="Start here (default: where the last scan ended)."
    ),
    to_height: int | None = typer.Option(None, "--to-height", min=0),
    hops: int = typer.Option(1, min=1, max=watch_service.MAX_HOPS, help="Follow N hops."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Catch up: look for watched funds reaching our deposit addresses in stored blocks."""
    from chainsleuth.chain.chains import CHAINS, get_chain  # noqa: PLC0415

    chains = sorted(CHAINS) if chain.strip().lower() == "all" else [get_chain(chain).id]
    results = []
    with cli_session() as (settings, _):
        db = Database.from_settings(settings)
        try:
            with (
                chain_service.open_reader(settings) as reader,
                Progress(
                    TextColumn("{task.description}"),
                    BarColumn(),
                    MofNCompleteColumn(),
                    TimeElapsedColumn(),
                    console=console,
                    transient=True,
                    disable=as_json,
                ) as bar,
            ):
                for c in chains:
                    if watch_service.chain_bounds(reader, c) is None:
                        if len(chains) == 1:
                            raise InvalidInput(f"no blocks of {c} have been loaded yet")
                        continue
                    task = bar.add_task(f"scanning {c}", total=None)

                    def tick(done: int, total: int, task: Any = task) -> None:
                        bar.update(task, completed=done, total=total)

                    results.append(
                        watch_service.scan(
                            db.session,
                            reader,
                            root=chain_service.store_root(settings),
                            chain=c,
                            actor=cli_actor(),
                            from_height=from_height,
                            to_height=to_height,
                            hops=hops,
                            on_progress=tick,
                        )
                    )
        finally:
            db.dispose()
    if not results:
        raise InvalidInput("no blocks have been loaded yet: nothing to scan")
    if as_json:
        _print_json([r.model_dump(mode="json") for r in results])
        return
    for r in results:
        console.print(
            f"{r.chain}: blocks {r.from_height}-{r.to_height} scanned, {r.hits} new hit"
            f"{'' if r.hits == 1 else 's'}, alerts {', '.join(map(str, r.alerts)) or 'none'}"
        )


@watch_app.command("demo-seed")
def watch_demo_seed(
    world: Path = typer.Argument(..., help="The generated world's folder."),
) -> None:
    """Watch the demo world's cash-out senders and scan for their alerts (idempotent;
    ``make demo`` runs it)."""
    from chainsleuth.alerts import demo  # noqa: PLC0415

    with cli_session() as (settings, _):
        added, results = demo.seed(settings, world=world)
    found = sum(r.hits for r in results)
    alerts = sorted({a for r in results for a in r.alerts})
    console.print(
        f"demo watch list: {added} entr{'y' if added == 1 else 'ies'} added, {found} new hit"
        f"{'' if found == 1 else 's'}, {len(alerts)} alert{'' if len(alerts) == 1 else 's'}"
    )
