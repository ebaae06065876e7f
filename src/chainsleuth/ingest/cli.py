"""``chainsleuth ingest ...``: load real chains into the store.

Node credentials come from the settings (``CHAINSLEUTH_BTC_RPC_USER``/``_PASSWORD``,
``CHAINSLEUTH_BTC_RPC_COOKIE_FILE``, ``CHAINSLEUTH_ETH_RPC_URL``, ...), never from the
command line.
"""

from __future__ import annotations

import threading
from pathlib import Path

import typer
from rich.table import Table

from chainsleuth.core.cli import console
from chainsleuth.core.config import load_settings
from chainsleuth.ingest import service as ingest_service
from chainsleuth.ingest.follow import Source, SyncOptions, SyncReport
from chainsleuth.ingest.progress import SyncProgress

app = typer.Typer(
    help="Ingest real chains: Bitcoin Core, Ethereum nodes, blockchain-etl export files.",
    no_args_is_help=True,
)

FromOption = typer.Option(None, "--from-block", help="First block (an empty chain only)")
ToOption = typer.Option(None, "--to-block", help="Last block (default: the source's tip)")
FollowOption = typer.Option(False, "--follow", help="Keep up with the tip until stopped")
BatchOption = typer.Option(
    None,
    "--batch-blocks",
    min=1,
    help="Blocks per atomic append (default: 100 a fetch, appended together up to 100,000 txs)",
)
PollOption = typer.Option(5.0, "--poll-seconds", min=0.1, help="Tip polling interval (--follow)")
ReorgOption = typer.Option(1000, "--max-reorg", min=1, help="Deepest re-org rolled back")
ProgressOption = typer.Option(True, "--progress/--no-progress", help="Show a progress bar")


def _run(
    source: Source,
    *,
    from_block: int | None,
    to_block: int | None,
    follow: bool,
    batch_blocks: int | None,
    poll_seconds: float,
    max_reorg: int,
    progress: bool,
) -> None:
    settings = load_settings()
    options = SyncOptions(
        from_block=from_block,
        to_block=to_block,
        follow=follow,
        batch_blocks=batch_blocks,
        poll_s=poll_seconds,
        max_reorg=max_reorg,
        stop=threading.Event(),
    )
    try:
        if progress:
            with SyncProgress() as bar:
                report = ingest_service.sync(settings, source, options, progress=bar)
        else:
            report = ingest_service.sync(settings, source, options)
    except KeyboardInterrupt:
        console.print("stopped: the store keeps every batch committed so far")
        raise typer.Exit(130) from None
    _summary(report)


def _summary(report: SyncReport) -> None:
    for reorg in report.reorgs:
        console.print(
            f"re-org: rolled back {reorg.rolled_back} block(s) of {report.chain} above "
            f"{reorg.fork_height}"
        )
    if report.blocks == 0:
        console.print(f"{report.chain}: up to date at block {report.tip} (nothing to load)")
        return
    console.print(
        f"{report.chain}: loaded blocks {report.first_height}..{report.last_height} "
        f"({report.blocks:,} blocks, {report.txs:,} txs) in {report.seconds:.1f} s, "
        f"{report.txs_per_second:,.0f} tx/s; tip {report.tip}"
    )


@app.command("btc-rpc")
def btc_rpc(
    url: str = typer.Argument(None, help="Bitcoin Core's RPC URL (or CHAINSLEUTH_BTC_RPC_URL)"),
    from_block: int = FromOption,
    to_block: int = ToOption,
    follow: bool = FollowOption,
    batch_blocks: int | None = BatchOption,
    poll_seconds: float = PollOption,
    max_reorg: int = ReorgOption,
    progress: bool = ProgressOption,
) -> None:
    """Load Bitcoin blocks from a Bitcoin Core node (getblock verbosity 3, or 2)."""
    source = ingest_service.btc_source(load_settings(), url)
    _run(
        source,
        from_block=from_block,
        to_block=to_block,
        follow=follow,
        batch_blocks=batch_blocks,
        poll_seconds=poll_seconds,
        max_reorg=max_reorg,
        progress=progress,
    )


@app.command("eth-rpc")
def eth_rpc(
    url: str = typer.Argument(None, help="The node's JSON-RPC URL (or CHAINSLEUTH_ETH_RPC_URL)"),
    from_block: int = FromOption,
    to_block: int = ToOption,
    follow: bool = FollowOption,
    batch_blocks: int | None = BatchOption,
    poll_seconds: float = PollOption,
    max_reorg: int = ReorgOption,
    progress: bool = ProgressOption,
) -> None:
    """Load Ethereum blocks, receipts and ERC-20 transfers from a JSON-RPC node."""
    source = ingest_service.eth_source(load_settings(), url)
    _run(
        source,
        from_block=from_block,
        to_block=to_block,
        follow=follow,
        batch_blocks=batch_blocks,
        poll_seconds=poll_seconds,
        max_reorg=max_reorg,
        progress=progress,
    )


@app.command("etl")
def etl(
    chain: str = typer.Argument(..., help="btc or eth"),
    path: Path = typer.Argument(..., help="An export file or a folder of them"),
    from_block: int = FromOption,
    to_block: int = ToOption,
    follow: bool = FollowOption,
    batch_blocks: int | None = BatchOption,
    progress: bool = ProgressOption,
) -> None:
    """Load bitcoin-etl / ethereum-etl export files (JSON lines or CSV)."""
    source = ingest_service.etl_source(chain, path)
    _run(
        source,
        from_block=from_block,
        to_block=to_block,
        follow=follow,
        batch_blocks=batch_blocks,
        poll_seconds=5.0,
        max_reorg=1000,
        progress=progress,
    )


@app.command("status")
def status() -> None:
    """Each chain's sync status: source, store tip, node tip, lag, rate."""
    table = Table("chain", "state", "source", "store tip", "node tip", "lag", "tx/s", "updated")
    for s in ingest_service.statuses(load_settings()):
        table.add_row(
            s.chain,
            s.state + (f": {s.error}" if s.error else ""),
            (s.source or "-") + (f"\ninternal transfers: {s.traces}" if s.traces else ""),
            "-" if s.store_tip is None else str(s.store_tip),
            "-" if s.node_tip is None else str(s.node_tip),
            "-" if s.lag is None else str(s.lag),
            "-" if s.txs_per_s is None else f"{s.txs_per_s:,.0f}",
            s.updated_at.strftime("%Y-%m-%d %H:%M:%S") if s.updated_at else "-",
        )
    console.print(table)
