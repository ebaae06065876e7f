"""The ingest progress bar (rich): blocks done of the range, blocks/s, transactions/s, ETA."""

from __future__ import annotations

import time

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


class SyncProgress:
    """A bar per loaded range, on stderr. Use as a context manager."""

    def __init__(self, console: Console | None = None) -> None:
        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("blocks"),
            TextColumn("{task.fields[rates]}"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=console or Console(stderr=True),
            transient=False,
        )
        self._task: int | None = None
        self._started = 0.0
        self._blocks = 0
        self._txs = 0

    def __enter__(self) -> SyncProgress:
        self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()

    def start(self, chain: str, first: int, last: int) -> None:
        if self._task is not None:
            self._progress.remove_task(self._task)  # type: ignore[arg-type]
        self._started = time.perf_counter()
        self._blocks = self._txs = 0
        self._task = self._progress.add_task(
            f"{chain} {first}..{last}", total=last - first + 1, rates=""
        )

    def advance(self, blocks: int, txs: int) -> None:
        if self._task is None:
            return
        self._blocks += blocks
        self._txs += txs
        elapsed = max(time.perf_counter() - self._started, 1e-9)
        rates = f"{self._blocks / elapsed:,.1f} blocks/s {self._txs / elapsed:,.0f} tx/s"
        self._progress.update(self._task, advance=blocks, rates=rates)  # type: ignore[arg-type]
