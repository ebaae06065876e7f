"""``chainsleuth world``: generate a world folder, and load one into the chain store."""

from __future__ import annotations

import time
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from chainsleuth.world.presets import PRESETS, params_for

app = typer.Typer(
    help="The generated world: chains, crime, ground truth, exchange records.", no_args_is_help=True
)
console = Console(stderr=True)


class RateColumn(ProgressColumn):
    """Transactions (or megabytes) per second: the task's ``unit`` field says which."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        if not speed and task.finished and task.elapsed:
            speed = task.completed / task.elapsed
        unit = task.fields.get("unit", "tx")
        if not unit:
            return Text("")
        return Text(
            f"{speed:,.0f} {unit}/s" if speed else f"- {unit}/s", style="progress.data.speed"
        )


def _progress() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        RateColumn(),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    )


@app.command()
def generate(
    out: Path = typer.Option(..., "--out", help="Folder to create (must not exist, or be empty)."),
    preset: str = typer.Option("demo", help=f"Size: {', '.join(PRESETS)}."),
    txs: int | None = typer.Option(None, help="Transactions in all (overrides the preset's)."),
    days: int | None = typer.Option(None, help="Span in days (default: from the preset or --txs)."),
    seed: int = typer.Option(1, help="Same seed, same world (byte for byte)."),
    jobs: int | None = typer.Option(None, help="Processes: 2 runs the chains side by side."),
) -> None:
    """Generate a world: both chains, crime with its ground truth, Exchange A's records."""
    from chainsleuth.world.generate import generate_world

    params = params_for(preset=preset, txs=txs, days=days, seed=seed)
    started = time.perf_counter()
    with _progress() as bar:
        task = bar.add_task(f"generating {params.preset} world", total=params.txs)
        manifest = generate_world(
            out, params, jobs=jobs, on_progress=lambda _c, n: bar.advance(task, n)
        )
        bar.update(
            task,
            completed=manifest["counts"]["transactions"],
            total=manifest["counts"]["transactions"],
        )
    seconds = time.perf_counter() - started
    total = manifest["counts"]["transactions"]
    console.print(
        f"wrote {out}: {total:,} transactions, {len(manifest['files'])} files, "
        f"{seconds:.1f} s ({total / seconds:,.0f} tx/s)"
    )


@app.command()
def load(
    world: Path = typer.Argument(..., help="A folder written by 'chainsleuth world generate'."),
    store: Path | None = typer.Option(
        None, help="Chain store folder (default: <data dir>/chains)."
    ),
) -> None:
    """Check a world folder (format, checksums) and append its chains to the chain store."""
    from chainsleuth.world.load import load_world

    with _progress() as bar:
        tasks: dict[str, TaskID] = {}

        def on_progress(stage: str, done: int, total: int) -> None:
            scale, unit = {
                "checking files": (1 << 20, "MB"),
                "loading transactions": (1, "tx"),
            }.get(stage, (1, ""))
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total // scale, unit=unit)
            bar.update(tasks[stage], completed=done // scale, total=total // scale)

        on_append = None
        if store is None:  # the watch list sees each stored range of the settings' store
            from chainsleuth.alerts import watch as watch_service
            from chainsleuth.core.config import load_settings

            on_append = watch_service.after_append(load_settings())
        result = load_world(world, store_root=store, on_progress=on_progress, on_append=on_append)
    console.print(
        f"loaded {world}: "
        + ", ".join(f"{chain} {n:,} transactions" for chain, n in result.items())
    )
