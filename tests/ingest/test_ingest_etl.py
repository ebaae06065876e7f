"""``chainsleuth ingest etl``: blockchain-etl export files (the real exports of the fixtures)
loaded into the store, as JSON lines and as CSV; bad files refused with one line."""

from __future__ import annotations

import csv
import json
import shutil
import threading
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
from ingest_helpers import BTC_FIX, ETH_FIX, read_lines
from typer.testing import CliRunner, Result

from chainsleuth.chain.batch import BlockRange
from chainsleuth.chain.schemas import SOURCE
from chainsleuth.chain.store import ChainStore
from chainsleuth.cli import app
from chainsleuth.ingest.etl import EtlSource
from chainsleuth.ingest.follow import Syncer, SyncOptions, joined

runner = CliRunner()
STREAM = ETH_FIX / "test_stream" / "blocks_17173049_17173050"


def ingest(*args: str, progress: bool = False) -> Result:
    flag = "--progress" if progress else "--no-progress"
    return runner.invoke(app, ["ingest", "etl", *args, flag])


def refused(result: Result, message: str) -> None:
    assert result.exit_code == 2, (result.output, result.exception)
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("error: ") and message in line, line


def check_stream_load(root: Path) -> None:
    expected_txs = read_lines(STREAM / "expected_transactions.json")
    expected_tt = read_lines(STREAM / "expected_token_transfers.json")
    with ChainStore(root, durable=False) as store, store.reader() as reader:
        (eth,) = [c for c in reader.stats().chains if c.chain == "eth"]
        assert (eth.tip_height, eth.blocks, eth.txs) == (17173050, 2, len(expected_txs))
        assert eth.token_transfers == len(expected_tt)
        for theirs in expected_txs[::37]:
            ours = reader.tx("eth", theirs["hash"])
            assert (ours.height, ours.position, ours.nonce) == (
                theirs["block_number"],
                theirs["transaction_index"],
                theirs["nonce"],
            )
            assert str(ours.from_address).lower() == theirs["from_address"]
            assert ours.value == theirs["value"] and ours.status == theirs["receipt_status"]
            assert ours.fee == theirs["receipt_gas_used"] * theirs["receipt_effective_gas_price"]
            mine = sorted(
                (t.log_index, t.amount, str(t.token.token).lower()) for t in ours.token_transfers
            )
            assert mine == sorted(
                (t["log_index"], t["value"], t["token_address"])
                for t in expected_tt
                if t["transaction_hash"] == theirs["hash"]
            )


def test_ethereum_etl_stream_export_json(data_dir: Path) -> None:
    result = ingest("eth", str(STREAM), progress=True)
    assert result.exit_code == 0, result.output
    assert "loaded blocks 17173049..17173050" in result.stdout
    assert "2/2 blocks" in result.stderr and "tx/s" in result.stderr  # the progress bar
    check_stream_load(data_dir / "chains")
    again = ingest("eth", str(STREAM))
    assert again.exit_code == 0 and "up to date" in again.stdout


def _to_csv(records: list[dict[str, Any]], path: Path) -> None:
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(records[0]))
        writer.writeheader()
        for r in records:
            writer.writerow({k: "" if v is None else v for k, v in r.items()})


def test_ethereum_etl_csv_export(data_dir: Path, tmp_path: Path) -> None:
    folder = tmp_path / "csv"
    folder.mkdir()
    for kind in ("blocks", "transactions", "token_transfers"):
        records = read_lines(STREAM / f"expected_{kind}.json")
        for r in records:
            r.pop("withdrawals", None)
        _to_csv(records, folder / f"{kind}.csv")
    result = ingest("eth", str(folder))
    assert result.exit_code == 0, result.output
    check_stream_load(data_dir / "chains")


def test_bitcoin_etl_exports_load_block_by_block(data_dir: Path, tmp_path: Path) -> None:
    assert ingest("btc", str(BTC_FIX / "block_0")).exit_code == 0
    result = ingest("btc", str(BTC_FIX / "block_1"))
    assert result.exit_code == 0 and "loaded blocks 1..1" in result.stdout, result.output
    assert "up to date" in ingest("btc", str(BTC_FIX / "block_0")).stdout
    refused(ingest("btc", str(BTC_FIX / "block_without_transactions")), "would leave a gap")
    with ChainStore(data_dir / "chains", durable=False) as store, store.reader() as reader:
        assert store.tip("btc") == 1
        (expected,) = read_lines(BTC_FIX / "block_1" / "expected_transactions.json")
        ours = reader.tx("btc", expected["hash"])
        assert ours.coinbase and ours.output_value == expected["output_value"]
        assert [o.script_type for o in ours.outputs] == ["p2pk"]


def test_bad_export_files_are_refused(data_dir: Path, tmp_path: Path) -> None:
    refused(
        ingest("eth", str(ETH_FIX / "test_export_blocks_job" / "blocks_with_transactions")),
        "has no receipt",
    )
    cut = tmp_path / "cut"
    cut.mkdir()
    for name in ("expected_blocks.json", "expected_transactions.json"):
        shutil.copy(STREAM / name, cut / name)
    text = (cut / "expected_transactions.json").read_text()
    (cut / "expected_transactions.json").write_text(text[: len(text) // 2])
    refused(ingest("eth", str(cut)), "is not JSON (truncated?)")
    refused(ingest("eth", str(tmp_path / "nowhere")), "no such file or folder")
    refused(ingest("doge", str(cut)), "unknown chain")
    gap = tmp_path / "gap"
    gap.mkdir()
    blocks = read_lines(STREAM / "expected_blocks.json")
    blocks[1]["number"] += 1
    (gap / "blocks.json").write_text("\n".join(json.dumps(b) for b in blocks))
    refused(ingest("eth", str(gap)), "not consecutive")
    with ChainStore(data_dir / "chains", durable=False) as store:
        assert store.tip("eth") is None


def test_follow_picks_up_new_export_files(tmp_path: Path) -> None:
    folder = tmp_path / "exports"
    folder.mkdir()
    for kind in ("blocks", "transactions"):
        shutil.copy(BTC_FIX / "block_0" / f"expected_{kind}.json", folder / f"0_{kind}.json")
    stop = threading.Event()
    errors: list[BaseException] = []
    with ChainStore(tmp_path / "chains", durable=False) as store:

        def follow() -> None:
            try:
                options = SyncOptions(follow=True, poll_s=0.05, stop=stop)
                Syncer(store, EtlSource("btc", folder), options).run()
            except BaseException as exc:  # pragma: no cover - shown by the assertion below
                errors.append(exc)

        thread = threading.Thread(target=follow)
        thread.start()
        try:
            deadline = time.monotonic() + 30
            while store.tip("btc") != 0:
                assert not errors and time.monotonic() < deadline, errors
                time.sleep(0.02)
            for kind in ("blocks", "transactions"):
                shutil.copy(
                    BTC_FIX / "block_1" / f"expected_{kind}.json", folder / f"1_{kind}.json"
                )
            while store.tip("btc") != 1:
                assert not errors and time.monotonic() < deadline, errors
                time.sleep(0.02)
        finally:
            stop.set()
            thread.join(timeout=30)
    assert not errors


def test_batches_appended_together_name_each_token_once() -> None:
    """Files name every token in each range they are asked for: the batch that joins
    consecutive ranges keeps each token once (the first), with all the ranges' rows."""
    a, b = "0x" + "aa" * 20, "0x" + "bb" * 20

    def part(first: int, rows: list[tuple[str, str]]) -> BlockRange:
        tokens = pa.table(
            {
                "address": [r[0] for r in rows],
                "symbol": [r[1] for r in rows],
                "name": [r[1] for r in rows],
                "decimals": pa.array([6] * len(rows), pa.int32()),
            },
            schema=SOURCE["account"]["tokens"],
        )
        return BlockRange("eth", first, first + 9, {"tokens": tokens})

    both = joined([part(0, [(a, "A"), (b, "B")]), part(10, [(a, "A"), (b, "B")]), part(20, [])])
    assert (both.first_height, both.last_height) == (0, 29)
    assert both.tables["tokens"].to_pydict()["address"] == [a, b]
    assert both.tables["tokens"].to_pydict()["symbol"] == ["A", "B"]
    assert both.table("txs").num_rows == 0
