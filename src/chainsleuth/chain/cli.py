"""``chainsleuth chain ...``: the chain store from the command line.

Amounts are shown in whole units with their symbol; ``--json`` prints the raw integers (in
the smallest unit) of the same records the API returns.
"""

from __future__ import annotations

import json
from typing import Any

import typer
from pydantic import BaseModel
from rich.table import Table

from chainsleuth.chain import service as chain_service
from chainsleuth.chain.chains import format_amount
from chainsleuth.chain.records import Asset
from chainsleuth.core.cli import console
from chainsleuth.core.config import load_settings

app = typer.Typer(
    help="The chain data store: statistics, addresses, transactions, blocks.",
    no_args_is_help=True,
)

JsonOption = typer.Option(False, "--json", help="Print JSON (amounts as integers)")


def amount(value: int, asset: Asset) -> str:
    return f"{format_amount(value, asset.decimals)} {asset.symbol}"


def _print_json(*models: BaseModel) -> None:
    data: Any = [m.model_dump(mode="json") for m in models]
    typer.echo(json.dumps(data[0] if len(data) == 1 else data, indent=2))


def _size(n: int) -> str:
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.1f} {unit}" if unit != "B" else f"{n} B"
        value /= 1024
    return f"{n} B"  # pragma: no cover


@app.command()
def stats(as_json: bool = JsonOption) -> None:
    """Per chain: tip, counts of blocks, transactions, addresses; size on disk."""
    with chain_service.open_reader(load_settings()) as reader:
        result = reader.stats()
    if as_json:
        _print_json(result)
        return
    table = Table(
        "chain",
        "tip",
        "tip time (UTC)",
        "blocks",
        "txs",
        "addresses",
        "outputs",
        "token transfers",
        "size",
        title="Chain store",
    )
    for c in result.chains:
        table.add_row(
            c.chain,
            "-" if c.tip_height is None else str(c.tip_height),
            c.tip_time.strftime("%Y-%m-%d %H:%M:%S") if c.tip_time else "-",
            f"{c.blocks:,}",
            f"{c.txs:,}",
            f"{c.addresses:,}",
            f"{c.outputs:,}",
            f"{c.token_transfers:,}",
            _size(c.bytes),
        )
    console.print(table)
    console.print(f"total on disk: {_size(result.bytes)}")


@app.command()
def address(
    chain: str = typer.Argument(..., help="btc or eth"),
    addr: str = typer.Argument(..., help="The address"),
    limit: int = typer.Option(20, "--limit", min=1, max=500, help="Transactions to show"),
    before: int | None = typer.Option(None, "--before", help="Cursor: next_before of a page"),
    as_json: bool = JsonOption,
) -> None:
    """An address: totals per asset and its newest transactions with running balance."""
    with chain_service.open_reader(load_settings()) as reader:
        summary = reader.address_summary(chain, addr)
        page = reader.address_txs(chain, addr, limit=limit, before=before)
    if as_json:
        _print_json(summary, page)
        return
    console.print(
        f"[bold]{summary.address}[/] on {summary.chain}"
        + (f" ({summary.kind})" if summary.kind else "")
    )
    console.print(
        f"first seen block {summary.first_seen_height} ({summary.first_seen_time:%Y-%m-%d}), "
        f"last seen block {summary.last_seen_height} ({summary.last_seen_time:%Y-%m-%d}), "
        f"{summary.tx_count:,} transactions"
    )
    totals = Table("asset", "txs", "received", "sent", "balance")
    for t in summary.assets:
        totals.add_row(
            t.asset.symbol,
            f"{t.tx_count:,}",
            amount(t.received, t.asset),
            amount(t.sent, t.asset),
            amount(t.balance, t.asset),
        )
    console.print(totals)
    txs = Table("time (UTC)", "block", "transaction", "change", "balance", title="Transactions")
    txs.columns[2].overflow = "fold"
    for tx in page.txs:
        for i, e in enumerate(tx.entries):
            sign = "+" if e.delta > 0 else ""
            txs.add_row(
                tx.time.strftime("%Y-%m-%d %H:%M:%S") if i == 0 else "",
                str(tx.height) if i == 0 else "",
                tx.hash if i == 0 else "",
                sign + amount(e.delta, e.asset),
                amount(e.balance, e.asset),
            )
    console.print(txs)
    if page.next_before is not None:
        console.print(f"older transactions: --before {page.next_before}")


@app.command()
def tx(
    chain: str = typer.Argument(..., help="btc or eth"),
    tx_hash: str = typer.Argument(..., metavar="HASH", help="The transaction hash"),
    as_json: bool = JsonOption,
) -> None:
    """A transaction: inputs and outputs, or transfers and token transfers."""
    with chain_service.open_reader(load_settings()) as reader:
        detail = reader.tx(chain, tx_hash)
    if as_json:
        _print_json(detail)
        return
    native = detail.native
    console.print(f"[bold]{detail.hash}[/] on {detail.chain}")
    console.print(
        f"block {detail.height} position {detail.position}, {detail.time:%Y-%m-%d %H:%M:%S} UTC,"
        f" fee {amount(detail.fee, native)}"
    )
    if detail.kind == "utxo":
        if detail.coinbase:
            console.print("coinbase (new coins)")
        ins = Table("#", "spends", "address", "value", title="Inputs")
        ins.columns[1].overflow = ins.columns[2].overflow = "fold"
        for i in detail.inputs:
            ins.add_row(
                str(i.n), f"{i.prev_hash}:{i.prev_n}", i.address or "-", amount(i.value, native)
            )
        outs = Table("#", "address", "type", "value", "spent by", title="Outputs")
        outs.columns[1].overflow = outs.columns[4].overflow = "fold"
        for o in detail.outputs:
            outs.add_row(
                str(o.n),
                o.address or "-",
                o.script_type,
                amount(o.value, native),
                f"{o.spent_by}:{o.spent_by_input}" if o.spent_by else "unspent",
            )
        console.print(ins)
        console.print(outs)
        return
    status = "success" if detail.status == 1 else "failed"
    console.print(f"from {detail.from_address}")
    if detail.created_contract:
        console.print(f"created contract {detail.created_contract}")
    else:
        console.print(f"to   {detail.to_address}")
    console.print(
        f"value {amount(detail.value or 0, native)}, status {status}, "
        f"method {detail.method or '-'}, nonce {detail.nonce}, gas used {detail.gas_used}"
    )
    if detail.token_transfers:
        transfers = Table("log", "token", "from", "to", "amount", title="Token transfers")
        transfers.columns[2].overflow = transfers.columns[3].overflow = "fold"
        for t in detail.token_transfers:
            transfers.add_row(
                str(t.log_index),
                t.token.symbol,
                t.from_address,
                t.to_address,
                amount(t.amount, t.token),
            )
        console.print(transfers)
    if detail.internal_transfers:
        internal = Table(
            "call", "type", "from", "to", "value", "status", title="Internal transfers"
        )
        internal.columns[2].overflow = internal.columns[3].overflow = "fold"
        for it in detail.internal_transfers:
            internal.add_row(
                it.trace_address,
                it.call_type or it.trace_type,
                it.from_address,
                it.to_address,
                amount(it.value, native),
                "moved" if it.status == 1 else f"failed ({it.error or 'a call above it failed'})",
            )
        console.print(internal)


@app.command()
def block(
    chain: str = typer.Argument(..., help="btc or eth"),
    height: int = typer.Argument(..., help="The block height"),
    limit: int = typer.Option(20, "--limit", min=1, max=500, help="Transactions to show"),
    as_json: bool = JsonOption,
) -> None:
    """A block and its first transactions."""
    with chain_service.open_reader(load_settings()) as reader:
        detail = reader.block(chain, height, limit=limit)
    if as_json:
        _print_json(detail)
        return
    console.print(f"[bold]block {detail.height}[/] of {detail.chain}: {detail.hash}")
    console.print(
        f"{detail.time:%Y-%m-%d %H:%M:%S} UTC, {detail.tx_count:,} transactions"
        + (f", miner {detail.miner}" if detail.miner else "")
    )
    table = Table("#", "transaction", "value", "fee")
    table.columns[1].overflow = "fold"
    for t in detail.txs:
        table.add_row(
            str(t.position), t.hash, amount(t.value, detail.native), amount(t.fee, detail.native)
        )
    console.print(table)


@app.command()
def optimize(
    full: bool = typer.Option(False, "--full", help="Rewrite the indexes as one sorted run"),
) -> None:
    """Sort the lookup indexes and merge small segments (after many small appends)."""
    with chain_service.open_store(load_settings()) as store:
        store.optimize(full=full)
    console.print("chain store optimised")
