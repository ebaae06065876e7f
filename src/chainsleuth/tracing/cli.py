"""``chainsleuth trace ...`` and ``chainsleuth exposure``: tracing from the command line.

Amounts are integers in the smallest unit (JSON and CSV); the tables show whole units.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from chainsleuth.chain import service as chain_service
from chainsleuth.chain.chains import format_amount, get_chain
from chainsleuth.core.cli import console
from chainsleuth.core.config import Settings, load_settings
from chainsleuth.core.db import Database
from chainsleuth.core.errors import DatabaseNotReady, InvalidInput
from chainsleuth.tracing import bulk as bulk_service
from chainsleuth.tracing import service as tracing_service
from chainsleuth.tracing.config import CONFIG_FILE, save_services, services_from_world
from chainsleuth.tracing.engine import Model, TraceDirection
from chainsleuth.tracing.graph import load_graph
from chainsleuth.tracing.schemas import PathBy, TraceGraph, TraceRequest

app = typer.Typer(
    help="Trace funds forward (destination) or backward (source), find paths between addresses.",
    no_args_is_help=True,
)


class Format(StrEnum):
    JSON = "json"
    CSV = "csv"


ServicesOption = typer.Option(
    None, "--services", help=f"Bridge and converter contracts (YAML; default <data>/{CONFIG_FILE})"
)
LabelsOption = typer.Option(
    None,
    "--labels",
    help="Address categories, CSV chain,address,category (default <data>/tracing-labels.csv)",
)

EDGE_COLUMNS = [
    "hop", "kind", "chain", "tx_hash", "release_tx_hash", "time", "source", "target",
    "asset", "amount", "asset_out", "amount_out", "value",
]  # fmt: skip
NODE_COLUMNS = ["id", "chain", "address", "asset", "entity", "category", "amount", "hop", "stop"]


@contextmanager
def _labels_db(settings: Settings) -> Iterator[Database | None]:
    """The operational database when it is migrated (its labels then join the trace), else
    None: tracing needs only the chain store."""
    db = Database.from_settings(settings)
    try:
        try:
            db.check_migrated()
        except DatabaseNotReady:
            yield None
            return
        yield db
    finally:
        db.dispose()


def parse_time(value: str | None, name: str) -> datetime | None:
    """An ISO 8601 date or time (UTC unless it says otherwise)."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise InvalidInput(f"{name} must be an ISO 8601 date or time, not {value!r}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def edges_csv(graph: TraceGraph) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=EDGE_COLUMNS, extrasaction="ignore")
    writer.writeheader()
    for edge in graph.edges:
        writer.writerow(edge.model_dump(mode="json"))
    return out.getvalue()


def nodes_csv(graph: TraceGraph) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=NODE_COLUMNS, extrasaction="ignore")
    writer.writeheader()
    for node in graph.nodes:
        writer.writerow(node.model_dump(mode="json"))
    return out.getvalue()


def _trace(
    direction: TraceDirection,
    chain: str,
    address: str | None,
    tx: str | None,
    model: Model,
    hops: int,
    min_value: int,
    since: str | None,
    until: str | None,
    asset: str | None,
    stop: list[str] | None,
    no_time_order: bool,
    fmt: Format,
    out: Path | None,
    services: Path | None,
    labels: Path | None,
) -> None:
    if (address is None) == (tx is None):
        raise InvalidInput("give an address or --tx HASH (one of them)")
    request = TraceRequest(
        chain=get_chain(chain).id,
        address=address,
        tx=tx,
        direction=direction,
        model=model,
        hops=hops,
        min_value=min_value,
        since=parse_time(since, "--since"),
        until=parse_time(until, "--until"),
        asset=asset,
        stop=stop or [],
        respect_time=not no_time_order,
    )
    settings = load_settings()
    with _labels_db(settings) as db, chain_service.open_reader(settings) as reader:
        ctx = tracing_service.context_for(settings, services=services, labels=labels, database=db)
        graph = tracing_service.run_trace(reader, request, ctx)
    if fmt is Format.JSON:
        text = json.dumps(graph.model_dump(mode="json"), indent=2)
    else:
        text = edges_csv(graph)
    if out is None:
        typer.echo(text, nl=False)
        return
    out.write_text(text)
    if fmt is Format.CSV:
        out.with_suffix(".nodes.csv").write_text(nodes_csv(graph))
    console.print(
        f"{len(graph.nodes)} nodes, {len(graph.edges)} edges"
        f"{' (truncated)' if graph.truncated else ''} written to {out}"
    )


_ADDRESS = typer.Argument(None, help="The address to trace from (or --tx)")
_TX = typer.Option(None, "--tx", help="Trace from this transaction's flows instead")
_MODEL = typer.Option(Model.HAIRCUT, "--model", help="Taint model")
_HOPS = typer.Option(5, "--hops", min=1, max=50, help="Hop limit")
_MIN = typer.Option(0, "--min-value", min=0, help="Smallest amount followed (smallest unit)")
_SINCE = typer.Option(None, "--since", help="Only flows at or after (ISO 8601)")
_UNTIL = typer.Option(None, "--until", help="Only flows at or before (ISO 8601)")
_ASSET = typer.Option(None, "--asset", help="Only this asset's flows at the start (symbol)")
_STOP = typer.Option(None, "--stop", help="Stop at this address (repeatable)")
_NO_TIME = typer.Option(False, "--no-time-order", help="Ignore the order of flows in time")
_FORMAT = typer.Option(Format.JSON, "--format", help="Output format")
_OUT = typer.Option(None, "--out", help="Write to this file (CSV: also FILE.nodes.csv)")


@app.command()
def forward(
    chain: str,
    address: str | None = _ADDRESS,
    tx: str | None = _TX,
    model: Model = _MODEL,
    hops: int = _HOPS,
    min_value: int = _MIN,
    since: str | None = _SINCE,
    until: str | None = _UNTIL,
    asset: str | None = _ASSET,
    stop: list[str] | None = _STOP,
    no_time_order: bool = _NO_TIME,
    fmt: Format = _FORMAT,
    out: Path | None = _OUT,
    services: Path | None = ServicesOption,
    labels: Path | None = LabelsOption,
) -> None:
    """Where the funds went (destination of funds)."""
    _trace(
        TraceDirection.FORWARD, chain, address, tx, model, hops, min_value, since, until,
        asset, stop, no_time_order, fmt, out, services, labels,
    )  # fmt: skip


@app.command()
def backward(
    chain: str,
    address: str | None = _ADDRESS,
    tx: str | None = _TX,
    model: Model = _MODEL,
    hops: int = _HOPS,
    min_value: int = _MIN,
    since: str | None = _SINCE,
    until: str | None = _UNTIL,
    asset: str | None = _ASSET,
    stop: list[str] | None = _STOP,
    no_time_order: bool = _NO_TIME,
    fmt: Format = _FORMAT,
    out: Path | None = _OUT,
    services: Path | None = ServicesOption,
    labels: Path | None = LabelsOption,
) -> None:
    """Where the funds came from (source of funds)."""
    _trace(
        TraceDirection.BACKWARD, chain, address, tx, model, hops, min_value, since, until,
        asset, stop, no_time_order, fmt, out, services, labels,
    )  # fmt: skip


@app.command()
def path(
    chain: str,
    from_address: str = typer.Argument(..., metavar="FROM"),
    to_address: str = typer.Argument(..., metavar="TO"),
    hops: int = typer.Option(5, "--hops", min=1, max=7, help="Hop limit (at most 7)"),
    by: PathBy = typer.Option(PathBy.SHORTEST, "--by", help="shortest or highest-value"),
    min_value: int = _MIN,
    as_json: bool = typer.Option(False, "--json", help="Print JSON"),
    services: Path | None = ServicesOption,
) -> None:
    """A path of funds from one address to another."""
    settings = load_settings()
    with _labels_db(settings) as db, chain_service.open_reader(settings) as reader:
        ctx = tracing_service.context_for(settings, services=services, database=db)
        result = tracing_service.find_path(
            reader, chain, [from_address], [to_address], ctx, hops=hops, by=by,
            min_value=min_value,
        )  # fmt: skip
    if as_json:
        typer.echo(json.dumps(result.model_dump(mode="json"), indent=2))
        return
    if not result.found:
        console.print(f"no path within {hops} hops")
        raise typer.Exit(1)
    info = get_chain(chain)
    table = Table("hop", "time (UTC)", "tx", "from", "to", "value", title=f"{result.hops} hops")
    for i, edge in enumerate(result.edges, start=1):
        table.add_row(
            str(i),
            edge.time.strftime("%Y-%m-%d %H:%M"),
            edge.tx_hash[:18] + "...",
            edge.source,
            edge.target,
            f"{format_amount(edge.value, info.decimals)} {edge.asset}",
        )
    console.print(table)


@app.command("services")
def services_cmd(
    from_world: Path = typer.Option(..., "--from-world", help="A generated world folder"),
    out: Path | None = typer.Option(None, "--out", help=f"Default <data>/{CONFIG_FILE}"),
) -> None:
    """Write the tracing configuration (bridge, DEX, wrapped ether) of a generated world."""
    found = services_from_world(from_world)
    target = out or load_settings().data_dir / CONFIG_FILE
    save_services(found, target)
    console.print(
        f"{len(found.bridges)} bridge(s), "
        f"{sum(len(v) for v in found.converters.values())} converter(s) written to {target}"
    )


class EngineName(StrEnum):
    NUMPY = "numpy"
    SPARK = "spark"


class DirectionChoice(StrEnum):
    INCOMING = "incoming"
    OUTGOING = "outgoing"
    BOTH = "both"


@app.command("exposure-bulk")
def exposure_bulk(
    chain: str,
    addresses: list[str] | None = typer.Argument(None, help="Addresses (or --all)"),
    every: bool = typer.Option(False, "--all", help="Every address of the chain"),
    hops: int = typer.Option(3, "--hops", min=1, max=50, help="Hop limit"),
    direction: DirectionChoice = typer.Option(DirectionChoice.BOTH, "--direction"),
    engine: EngineName = typer.Option(
        EngineName.NUMPY, "--engine", help="numpy (compiled, the ground truth) or spark (PySpark)"
    ),
    out: Path | None = typer.Option(None, "--out", help="Write the CSV to this file"),
    services: Path | None = ServicesOption,
    labels: Path | None = LabelsOption,
) -> None:
    """Exposure shares per category of many addresses (each position: address and asset),
    incoming and outgoing, as CSV: chain,address,asset,direction,category,share."""
    if every == bool(addresses):
        raise InvalidInput("give addresses or --all (one of them)")
    directions = ["incoming", "outgoing"] if direction is DirectionChoice.BOTH else [direction]
    settings = load_settings()
    with (
        _labels_db(settings) as db,
        chain_service.open_reader(settings) as reader,
        Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
            TimeElapsedColumn(), console=console if out else Console(stderr=True),
            transient=out is None,
        ) as bar,
    ):  # fmt: skip
        ctx = tracing_service.context_for(settings, services=services, labels=labels, database=db)
        task = bar.add_task("exposure", total=None)

        def tick(what: str, done: int, total: int) -> None:
            bar.update(task, description=what, completed=done, total=total)

        result = bulk_service.bulk_exposure(
            reader, chain, None if every else addresses, ctx, hops=hops,
            directions=directions, engine=engine, progress=tick,
        )  # fmt: skip
        graph = load_graph(reader, ctx.services)
        if out is None:
            bar.stop()
            buffer = io.StringIO()
            bulk_service.write_csv(reader, graph, result, buffer)
            typer.echo(buffer.getvalue(), nl=False)
            return
        with out.open("w", newline="") as fh:
            written = bulk_service.write_csv(reader, graph, result, fh)
    console.print(
        f"{written} rows written to {out}: {result.nodes.size} positions, "
        f"{len(result.categories.names)} categories, {hops} hops, engine {result.engine}"
    )


def exposure(
    chain: str,
    address: str,
    hops: int = typer.Option(3, "--hops", min=1, max=50, help="Hop limit"),
    as_json: bool = typer.Option(False, "--json", help="Print JSON"),
    services: Path | None = ServicesOption,
    labels: Path | None = LabelsOption,
) -> None:
    """Direct and indirect exposure of an address per category, incoming and outgoing."""
    settings = load_settings()
    with _labels_db(settings) as db, chain_service.open_reader(settings) as reader:
        ctx = tracing_service.context_for(settings, services=services, labels=labels, database=db)
        if ctx.categories is None:
            raise InvalidInput(
                "no labels: import some (`chainsleuth labels import`) or give --labels FILE"
            )
        report = tracing_service.exposure(reader, chain, [address], ctx, hops=hops)
    if as_json:
        typer.echo(json.dumps(report.model_dump(mode="json"), indent=2))
        return
    table = Table(
        "direction", "category", "asset", "value", "share", "direct", "indirect", "min hops",
        title=f"exposure of {report.address} ({report.hops} hops)",
    )  # fmt: skip
    for e in report.entries:
        table.add_row(
            e.direction, e.category, e.asset, str(e.value), f"{e.share:.2%}",
            str(e.direct_value), str(e.indirect_value), str(e.min_hops),
        )  # fmt: skip
    console.print(table)
