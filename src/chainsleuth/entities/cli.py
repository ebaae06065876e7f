"""``chainsleuth entities ...`` (build, show, why) and ``chainsleuth eval clustering``.

Amounts are shown in whole units with their symbol; ``--json`` prints the raw integers
(smallest unit) of the same records the API returns.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer
from pydantic import BaseModel
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from chainsleuth.chain import service as chain_service
from chainsleuth.chain.chains import format_amount, get_chain
from chainsleuth.chain.lookups import ChainReader
from chainsleuth.core.cli import console
from chainsleuth.core.config import load_settings
from chainsleuth.entities import evaluation, source
from chainsleuth.entities import heuristics as hx
from chainsleuth.entities import service as entity_service
from chainsleuth.entities import store as es
from chainsleuth.entities.clustering import BuildParams
from chainsleuth.entities.enums import Heuristic

app = typer.Typer(
    help="Entities: addresses clustered by the multi-input, change and deposit heuristics.",
    no_args_is_help=True,
)
eval_app = typer.Typer(
    help="Score analytics against a generated world's ground truth.", no_args_is_help=True
)

JsonOption = typer.Option(False, "--json", help="Print JSON (amounts as integers)")
StoreOption = typer.Option(
    None, "--store", help="The chain store folder (default: <data dir>/chains)"
)
HEURISTICS_HELP = (
    "Comma-separated: " + ", ".join(h.value for h in Heuristic) + ", or 'change' for all "
    "change heuristics (default: multi-input on btc, eth-deposit,eth-deposit-sweep on eth)"
)


def _root(store: Path | None) -> Path:
    return Path(store) if store is not None else chain_service.store_root(load_settings())


@contextmanager
def _reader(root: Path) -> Iterator[ChainReader]:
    with source.chain_connection(root) as con:
        yield ChainReader(con, root)


def _print_json(data: BaseModel | list[Any] | dict[str, Any]) -> None:
    payload = data.model_dump(mode="json") if isinstance(data, BaseModel) else data
    typer.echo(json.dumps(payload, indent=2))


@app.command()
def build(
    chain: str = typer.Option("all", "--chain", help="btc, eth or all"),
    heuristics: str | None = typer.Option(None, "--heuristics", help=HEURISTICS_HELP),
    full: bool = typer.Option(False, "--full", help="Recompute from the first block"),
    large: int = typer.Option(
        1_000, "--large", min=0, help="Warn when two entities of this many addresses merge"
    ),
    keep_coinjoins: bool = typer.Option(
        False, "--keep-coinjoins", help="Apply multi-input to CoinJoin-like transactions too"
    ),
    deposit_days: float = typer.Option(
        30.0, "--deposit-days", min=0.01, help="eth: a deposit address forwards within this"
    ),
    deposit_share: float = typer.Option(
        0.5,
        "--deposit-share",
        min=0.0,
        max=1.0,
        help="eth: the share of what it received that a deposit address forwards",
    ),
    hot_min: int = typer.Option(
        3, "--hot-min", min=1, help="eth: deposit addresses that make a hot wallet"
    ),
    engine: str = typer.Option(
        "local", "--engine", help="local (DuckDB + numba) or spark (PySpark, multi-input)"
    ),
    store: Path | None = StoreOption,
    as_json: bool = JsonOption,
) -> None:
    """Cluster addresses into entities (incremental: only blocks since the last build)."""
    root = _root(store)
    deposit = hx.DepositParams(
        min_forwarders=hot_min,
        max_delay_blocks=max(1, round(deposit_days * 86_400 / get_chain("eth").block_seconds)),
        min_forwarded=deposit_share,
    )
    params = BuildParams(skip_coinjoin=not keep_coinjoins, large_entity=large, deposit=deposit)
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=as_json,
    ) as bar:
        task = bar.add_task("clustering", total=1)

        def tick(phase: str, done: int, total: int) -> None:
            bar.update(task, description=phase, completed=done, total=max(total, 1))

        results = entity_service.build(
            root,
            chain,
            heuristics=heuristics,
            full=full,
            params=params,
            engine=engine,
            progress=tick,
        )
    if as_json:
        _print_json([r.__dict__ for r in results])
        return
    for r in results:
        blocks = (
            "no new blocks"
            if r.first_height is None
            else f"blocks {r.first_height}-{r.last_height}"
        )
        console.print(
            f"[bold]{r.chain}[/]: {r.mode} ({blocks}), {r.merges:,} merges, "
            f"{r.entities:,} entities of 2+ addresses (largest {r.largest:,}), "
            f"{r.coinjoins:,} CoinJoin-like transactions skipped; heuristics "
            f"{', '.join(r.heuristics)}; {r.seconds:.1f} s"
        )
    for r in results:
        for w in r.warnings:
            console.print(
                f"[bold yellow]warning:[/] {r.chain}: a {w['heuristic']} link in {w['tx']} "
                f"merged two entities of {w['threshold']:,}+ addresses ({w['a']}, {w['b']})"
            )


@app.command()
def show(
    chain: str = typer.Argument(..., help="btc or eth"),
    address: str = typer.Argument(..., help="An address of the entity"),
    top: int = typer.Option(10, "--top", min=1, max=1000, help="Addresses to list"),
    store: Path | None = StoreOption,
    as_json: bool = JsonOption,
) -> None:
    """The entity of an address: id, size, heuristics, total received, top addresses."""
    root = _root(store)
    with _reader(root) as reader:
        found = entity_service.address_entity(reader, chain, address, top=top)
    if as_json:
        _print_json(found)
        return
    e = found.entity
    decimals = get_chain(e.chain).decimals
    console.print(
        f"[bold]{found.address}[/] on {found.chain} is in entity [bold]{e.entity_id}[/] "
        f"({e.size:,} addresses, built to block {e.built_to_height})"
    )
    used = ", ".join(f"{h.heuristic} x{h.merges:,} ({h.confidence:.2f})" for h in e.heuristics)
    console.print(f"heuristics of the build: {', '.join(e.heuristics_enabled)}")
    console.print(f"merges behind it: {used or 'none (a single address)'}")
    console.print(f"total received: {format_amount(e.received, decimals)} {e.symbol}")
    table = Table("address id", "address", "received", title="Top addresses")
    table.columns[1].overflow = "fold"
    for t in e.top_addresses:
        table.add_row(
            str(t.address_id), t.address, f"{format_amount(t.received, decimals)} {e.symbol}"
        )
    console.print(table)


@app.command()
def why(
    chain: str = typer.Argument(..., help="btc or eth"),
    addr_a: str = typer.Argument(..., metavar="ADDR_A"),
    addr_b: str = typer.Argument(..., metavar="ADDR_B"),
    store: Path | None = StoreOption,
    as_json: bool = JsonOption,
) -> None:
    """Why two addresses are one entity: the transactions that linked them, in order."""
    root = _root(store)
    with _reader(root) as reader:
        found = entity_service.why_addresses(reader, chain, addr_a, addr_b)
    if as_json:
        _print_json(found)
        return
    console.print(
        f"{found.a} and {found.b} are entity {found.entity_id} on {found.chain}: "
        f"{len(found.steps)} link(s)"
    )
    table = Table("#", "from", "to", "heuristic", "confidence", "transaction")
    for col in (1, 2, 5):
        table.columns[col].overflow = "fold"
    for i, s in enumerate(found.steps, 1):
        tx = s.tx if s.tx_b is None else f"{s.tx} and {s.tx_b} (both to {s.via})"
        table.add_row(str(i), s.a, s.b, s.heuristic, f"{s.confidence:.2f}", tx)
    console.print(table)


@eval_app.command()
def clustering(
    world: Path = typer.Argument(..., help="The world folder (with truth/)"),
    chain: str = typer.Option("all", "--chain", help="btc, eth or all"),
    heuristics: str | None = typer.Option(
        None,
        "--heuristics",
        help="Rebuild with these first (default: the current build, "
        "or the default heuristics when there is none)",
    ),
    store: Path | None = StoreOption,
    as_json: bool = JsonOption,
) -> None:
    """Pairwise precision and recall of the entities against the world's ground truth."""
    root = _root(store)
    scores = []
    for c in entity_service.chains_of(chain):
        if heuristics is not None or es.load_state(root, c) is None:
            entity_service.build(root, c, heuristics=heuristics)
        scores.append(evaluation.score(world, root, c))
    if as_json:
        _print_json([s.model_dump(mode="json") for s in scores])
        return
    table = Table(
        "chain",
        "heuristics",
        "addresses",
        "actors",
        "entities",
        "precision",
        "recall",
        title="Clustering against ground truth (pairwise)",
    )
    for s in scores:
        table.add_row(
            s.chain,
            ", ".join(s.heuristics),
            f"{s.addresses:,}",
            f"{s.actors:,}",
            f"{s.entities:,}",
            f"{s.precision:.4f}",
            f"{s.recall:.4f}",
        )
    console.print(table)
    for s in scores:
        by = Table(
            "actor type",
            "addresses",
            "actors",
            "precision",
            "recall",
            title=f"{s.chain} by actor type",
        )
        for t in s.by_type:
            by.add_row(
                t.actor_type,
                f"{t.addresses:,}",
                f"{t.actors:,}",
                f"{t.precision:.4f}",
                f"{t.recall:.4f}",
            )
        console.print(by)
