"""The compiled pass over raw Ethereum answers (``ethereum.eth_raw_tables``) gives exactly the
tables of the general path (msgspec records, then ``add_eth_blocks``), and hands what it
does not take to that path (which reads it, or says what is wrong)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from chainsleuth.ingest.ethereum import (
    TRANSFER_TOPIC,
    AccountColumns,
    add_eth_blocks,
    add_eth_raw,
    decode_eth_block,
    decode_eth_receipts,
    eth_raw_tables,
)
from chainsleuth.ingest.rpc import MalformedResponse

FIX = Path(__file__).parent / "fixtures" / "ethereum-etl"
TABLES = ("blocks", "txs", "token_transfers")


def _result(path: Path) -> Any:
    data = json.loads(path.read_text())
    return data["result"] if isinstance(data, dict) and "jsonrpc" in data else data


def fixture_blocks() -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
    """Real mainnet blocks 1755634, 1755635 and 483920 (ERC-20 logs) with their receipts."""
    stream = FIX / "test_stream" / "blocks_1755634_1755635"
    cases = [
        (stream, 1755634, stream),
        (stream, 1755635, stream),
        (
            FIX / "test_export_blocks_job" / "block_with_logs",
            483920,
            FIX / "test_export_receipts_job" / "receipts_with_logs",
        ),
    ]
    out = []
    for folder, height, rfolder in cases:
        block = _result(folder / f"web3_response.eth_getBlockByNumber_{hex(height)}_true.json")
        receipts = [
            _result(rfolder / f"web3_response.eth_getTransactionReceipt_{tx['hash']}.json")
            for tx in block["transactions"]
        ]
        out.append((block, receipts))
    return out


def raw(
    pairs: list[tuple[dict[str, Any], list[dict[str, Any]]]],
) -> tuple[list[bytes], list[bytes]]:
    return [json.dumps(b).encode() for b, _ in pairs], [json.dumps(r).encode() for _, r in pairs]


def general(blocks: list[bytes], receipts: list[bytes], first: int | None = None) -> Any:
    cols = AccountColumns()
    add_eth_blocks(
        cols,
        [decode_eth_block(b) for b in blocks],
        [decode_eth_receipts(r) for r in receipts],
        first,
    )
    return cols


def through_raw(blocks: list[bytes], receipts: list[bytes], first: int | None = None) -> Any:
    cols = AccountColumns()
    add_eth_raw(cols, blocks, receipts, first)
    return cols


def assert_same(
    pairs: list[tuple[dict[str, Any], list[dict[str, Any]]]], *, fast: bool = True
) -> AccountColumns:
    blocks, receipts = raw(pairs)
    assert (eth_raw_tables(blocks, receipts) is not None) is fast
    ours, theirs = through_raw(blocks, receipts), general(blocks, receipts)
    a, b = ours.block_range(0, 0).tables, theirs.block_range(0, 0).tables
    for name in (*TABLES, "tokens", "traces"):
        assert a[name].schema == b[name].schema
        assert a[name].to_pylist() == b[name].to_pylist(), name
    assert ours.skipped_transfers == theirs.skipped_transfers
    assert ours.tx_count == theirs.tx_count
    assert ours.token_addresses() == theirs.token_addresses()
    return ours


def test_fixture_blocks_by_the_compiled_pass() -> None:
    cols = assert_same(fixture_blocks())
    tables = cols.block_range(0, 0).tables
    assert tables["txs"].num_rows == 6
    assert tables["token_transfers"].num_rows == 3
    amounts = tables["token_transfers"].column("amount").to_pylist()
    assert all(a > 0 for a in amounts)


def _logs_block() -> tuple[dict[str, Any], list[dict[str, Any]]]:
    return copy.deepcopy(fixture_blocks()[2])


def _transfer_logs(receipts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [log for r in receipts for log in r["logs"] if log["topics"][0] == TRANSFER_TOPIC]


def test_edge_values_taken_by_the_compiled_pass() -> None:
    block, receipts = _logs_block()
    tx0, r0 = block["transactions"][0], receipts[0]
    tx0["value"] = hex(10**38 - 1)  # over 64 bits, the most the store keeps
    r0.pop("effectiveGasPrice", None)  # the transaction's price instead
    tx0["gasPrice"] = hex(2**100)
    r0.pop("status", None)  # before Byzantium: successful
    logs = _transfer_logs(receipts)
    logs[0]["removed"] = True  # left out, counted
    logs[1]["data"] = "0x" + "f" * 64  # over 38 digits: left out, counted
    cols = assert_same([(block, receipts)])
    assert cols.skipped_transfers == 2
    txs = cols.block_range(0, 0).tables["txs"]
    assert txs.column("value")[0].as_py() == 10**38 - 1
    assert txs.column("fee")[0].as_py() == int(r0["gasUsed"], 16) * 2**100
    assert txs.column("status")[0].as_py() == 1


def test_contract_creation_and_old_input_name() -> None:
    block, receipts = _logs_block()
    tx = block["transactions"][-1]
    tx["to"] = None
    receipts[-1]["contractAddress"] = "0x" + "ab" * 20
    tx["data"] = tx.pop("input")
    block["transactions"][0]["to"] = ""
    block["miner"] = ""
    assert_same([(block, receipts)])


def test_token_transfer_shapes() -> None:
    block, receipts = _logs_block()
    logs = _transfer_logs(receipts)
    word = logs[0]["data"]
    logs[0]["topics"].append("0x" + word[2:])  # 4 topics, no data: three words all the same
    logs[0]["data"] = "0x"
    logs[1]["data"] = logs[1]["data"] + "00"  # a part shorter than 64 digits: not ERC-20
    cols = assert_same([(block, receipts)])
    assert cols.block_range(0, 0).tables["token_transfers"].num_rows == 1  # of the two


@pytest.mark.parametrize(
    "change",
    [
        lambda b, r: (
            [x.update(transactionHash=x["transactionHash"].upper()) for x in (r[0], *r[0]["logs"])]
            and b["transactions"][0].update(hash=r[0]["transactionHash"])
        ),
        lambda b, r: b["transactions"][0].update({"from": b["transactions"][0]["from"].upper()}),
        lambda b, r: b.update(miner=b["miner"].upper()),
        lambda b, r: r[0].update(status="0x2"),
        lambda b, r: b["transactions"][0].update(nonce=7),  # a JSON number
        lambda b, r: b["transactions"][0].update(input=""),
        lambda b, r: r[0].update(transactionHash=None, blockHash=None),
        lambda b, r: _transfer_logs(r)[0].update(address=_transfer_logs(r)[0]["address"].upper()),
    ],
)
def test_what_the_compiled_pass_leaves_gives_the_same(change: Any) -> None:
    block, receipts = _logs_block()
    change(block, receipts)
    fast = receipts[0].get("transactionHash", 0) is None  # nulls are taken
    assert_same([(block, receipts)], fast=fast)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda b, r: r.pop(), "receipts"),
        (lambda b, r: r[0].update(transactionHash=r[1]["transactionHash"]), "is not its"),
        (lambda b, r: r[0].update(blockHash="0x" + "1" * 64), "another block"),
        (lambda b, r: b.update(transactions=[t["hash"] for t in b["transactions"]]), "hashes"),
        (lambda b, r: b["transactions"][0].update(value=hex(10**38)), "bad values"),
        (lambda b, r: _transfer_logs(r)[0].pop("logIndex"), "logIndex"),
        (lambda b, r: b.update(hash="0x1234"), "not a block or transaction hash"),
    ],
)
def test_bad_answers_are_refused_with_the_general_message(change: Any, message: str) -> None:
    block, receipts = _logs_block()
    change(block, receipts)
    blocks, rs = raw([(block, receipts)])
    assert eth_raw_tables(blocks, rs) is None
    with pytest.raises(MalformedResponse, match=message) as ours:
        through_raw(blocks, rs).block_range(0, 0)
    with pytest.raises(MalformedResponse) as theirs:
        general(blocks, rs).block_range(0, 0)
    assert str(ours.value) == str(theirs.value)


def test_heights_not_asked_for_are_refused() -> None:
    blocks, receipts = raw(fixture_blocks()[:2])
    with pytest.raises(
        MalformedResponse, match="asked for block 1755633 of eth, the node sent 1755634"
    ):
        through_raw(blocks, receipts, 1755633)
    assert_same(fixture_blocks()[:2])
    cols = through_raw(blocks, receipts, 1755634)
    assert cols.block_range(1755634, 1755635).tables["blocks"].num_rows == 2


def test_a_batch_large_enough_to_grow_the_arrays() -> None:
    pairs = fixture_blocks() * 300
    assert_same(pairs)


def test_raw_tables_follow_rows_added_before() -> None:
    blocks, receipts = raw(fixture_blocks())
    cols = general(blocks[:1], receipts[:1])
    add_eth_raw(cols, blocks[1:], receipts[1:])
    whole = general(blocks, receipts)
    a, b = cols.block_range(0, 0).tables, whole.block_range(0, 0).tables
    for name in TABLES:
        assert a[name].to_pylist() == b[name].to_pylist()


@pytest.mark.parametrize("pad", range(9))
@pytest.mark.parametrize(("text", "fast"), [("", True), ('q"uote', False), ("caf\u00e9", False)])
def test_strings_scanned_a_word_at_a_time(pad: int, text: str, fast: bool) -> None:
    """A skipped string with a quote (escaped) or a non-ASCII letter, wherever it falls in
    the 8-byte words the pass reads strings by, sends the batch the general way."""
    block, receipts = _logs_block()
    block["extraData"] = "x" * pad + text + "y" * 20
    receipts[0]["logsBloom"] = "0x" + "0" * pad + text
    assert_same([(block, receipts)], fast=fast)
