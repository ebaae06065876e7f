"""Parity with blockchain-etl: from the same real mainnet JSON-RPC responses our parsers give
the transactions, addresses, values and token transfers that bitcoin-etl and ethereum-etl
export (their own test resources, in tests/ingest/fixtures).

Where we differ on purpose it is said in the test: a P2PK output has no address here (a
public key is not an address; old Bitcoin Core derived a P2PKH one), and a receipt from
before Byzantium (no ``status``) counts as successful.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest
from ingest_helpers import BTC_FIX, ETH_FIX, core_fixture_block, read_json, read_lines, response

from chainsleuth.chain.enums import ScriptType
from chainsleuth.ingest.bitcoin import ADDRESS_TYPES, CORE_TYPES, parse_core_blocks
from chainsleuth.ingest.ethereum import (
    AccountColumns,
    add_eth_block,
    add_log_transfer,
    decode_decimals,
    decode_text,
)

BTC_CASES = {
    "block_0": [0],
    "block_1": [1],
    "block_without_transactions": [50000],
    "block_with_transactions": [50001, 50002],
}


def rows(table: Any) -> list[dict[str, Any]]:
    return list(table.to_pylist())


@pytest.mark.parametrize("case", sorted(BTC_CASES))
def test_bitcoin_core_blocks_match_bitcoin_etl(case: str) -> None:
    heights = BTC_CASES[case]
    batch = parse_core_blocks([core_fixture_block(case, h) for h in heights], heights[0])
    batch.validate()
    expected_blocks = read_lines(BTC_FIX / case / "expected_blocks.json")
    expected_txs = read_lines(BTC_FIX / case / "expected_transactions.json")

    blocks = rows(batch.tables["blocks"])
    assert [(b["height"], b["hash"], int(b["time"].timestamp())) for b in blocks] == [
        (b["number"], b["hash"], b["timestamp"]) for b in expected_blocks
    ]
    txs = rows(batch.tables["txs"])
    assert [
        (t["hash"], t["height"], t["position"], t["coinbase"], t["locktime"], t["version"])
        for t in txs
    ] == [
        (t["hash"], t["block_number"], t["index"], t["is_coinbase"], t["lock_time"], t["version"])
        for t in expected_txs
    ]
    assert [t["size"] for t in txs] == [t["virtual_size"] for t in expected_txs]

    outputs = rows(batch.tables["outputs"])
    expected_outputs = [(t["hash"], o) for t in expected_txs for o in t["outputs"]]
    assert len(outputs) == len(expected_outputs)
    for ours, (tx_hash, theirs) in zip(outputs, expected_outputs, strict=True):
        script_type = CORE_TYPES[theirs["type"]]
        assert (ours["tx_hash"], ours["n"], ours["value"]) == (
            tx_hash,
            theirs["index"],
            theirs["value"],
        )
        assert ours["script_type"] == script_type
        if script_type in ADDRESS_TYPES:
            assert ours["address"] == theirs["addresses"][0]
        else:  # P2PK: bitcoin-etl shows the key's P2PKH form; a key is not an address here
            assert script_type is ScriptType.P2PK
            assert ours["address"] is None

    inputs = rows(batch.tables["inputs"])
    expected_inputs = [(t["hash"], i) for t in expected_txs for i in t["inputs"]]
    assert [(i["tx_hash"], i["n"], i["prev_tx_hash"], i["prev_n"]) for i in inputs] == [
        (h, i["index"], i["spent_transaction_hash"], i["spent_output_index"])
        for h, i in expected_inputs
    ]
    # verbosity 2 gives no prevouts: the store resolves them, as bitcoin-etl's enrich step does
    assert all(i["value"] is None and i["address"] is None for i in inputs)


def _eth_stream_case() -> tuple[AccountColumns, Path]:
    folder = ETH_FIX / "test_stream" / "blocks_1755634_1755635"
    cols = AccountColumns()
    for height in (1755634, 1755635):
        block = response(folder, f"web3_response.eth_getBlockByNumber_{hex(height)}_true")
        receipts = [
            response(folder, f"web3_response.eth_getTransactionReceipt_{tx['hash']}")
            for tx in block["transactions"]
        ]
        add_eth_block(cols, block, receipts, height)
    return cols, folder


def test_ethereum_blocks_and_receipts_match_ethereum_etl() -> None:
    cols, folder = _eth_stream_case()
    batch = cols.block_range(1755634, 1755635)
    batch.validate()
    expected_blocks = read_lines(folder / "expected_blocks.json")
    assert [
        (b["height"], b["hash"], b["prev_hash"], b["miner"]) for b in rows(batch.tables["blocks"])
    ] == [(b["number"], b["hash"], b["parent_hash"], b["miner"]) for b in expected_blocks]
    expected = read_lines(folder / "expected_transactions.json")
    txs = rows(batch.tables["txs"])
    assert len(txs) == len(expected) == 2
    for ours, theirs in zip(txs, expected, strict=True):
        assert ours["hash"] == theirs["hash"]
        assert ours["height"] == theirs["block_number"]
        assert ours["position"] == theirs["transaction_index"]
        assert ours["from_address"] == theirs["from_address"]
        assert ours["to_address"] == theirs["to_address"]
        assert int(ours["value"]) == theirs["value"]
        assert ours["nonce"] == theirs["nonce"]
        assert ours["gas_used"] == theirs["receipt_gas_used"]
        assert (
            int(ours["fee"]) == theirs["receipt_gas_used"] * theirs["receipt_effective_gas_price"]
        )
        assert ours["created_contract"] == theirs["receipt_contract_address"]
        assert theirs["receipt_status"] is None and ours["status"] == 1  # pre-Byzantium
        assert ours["method"] == (theirs["input"][:10] if len(theirs["input"]) >= 10 else None)
    transfers = rows(batch.tables["token_transfers"])
    expected_tt = read_lines(folder / "expected_token_transfers.json")
    assert [
        (
            t["tx_hash"],
            t["log_index"],
            t["token"],
            t["from_address"],
            t["to_address"],
            int(t["amount"]),
        )
        for t in transfers
    ] == [
        (
            t["transaction_hash"],
            t["log_index"],
            t["token_address"],
            t["from_address"],
            t["to_address"],
            t["value"],
        )
        for t in expected_tt
    ]


def test_receipts_and_their_token_transfers_match_ethereum_etl() -> None:
    folder = ETH_FIX / "test_export_receipts_job" / "receipts_with_logs"
    expected = {r["transaction_hash"]: r for r in read_lines(folder / "expected_receipts.json")}
    cols = AccountColumns()
    for tx_hash, theirs in expected.items():
        receipt = response(folder, f"web3_response.eth_getTransactionReceipt_{tx_hash}")
        assert int(receipt["gasUsed"], 16) == theirs["gas_used"]
        assert receipt.get("contractAddress") == theirs["contract_address"]
        for log in receipt["logs"]:
            add_log_transfer(cols, log, tx_hash)
    with (
        ETH_FIX
        / "test_export_token_transfers_job"
        / "block_with_transfers"
        / "expected_token_transfers.csv"
    ).open() as fh:
        expected_tt = list(csv.DictReader(fh))
    ours = sorted(
        zip(
            cols.token_transfers["tx_hash"],
            cols.token_transfers["log_index"],
            cols.token_transfers["token"],
            cols.token_transfers["from_address"],
            cols.token_transfers["to_address"],
            cols.token_transfers["amount"],
            strict=True,
        )
    )
    assert ours == sorted(
        (
            t["transaction_hash"],
            int(t["log_index"]),
            t["token_address"],
            t["from_address"],
            t["to_address"],
            int(t["value"]),
        )
        for t in expected_tt
    )


def test_transfers_extracted_from_logs_csv_match_ethereum_etl() -> None:
    folder = ETH_FIX / "test_extract_token_transfers_job" / "logs"
    cols = AccountColumns()
    with (folder / "logs.csv").open() as fh:
        for log in csv.DictReader(fh):
            add_log_transfer(
                cols,
                {
                    "topics": log["topics"].split(","),
                    "data": log["data"],
                    "transactionHash": log["transaction_hash"],
                    "logIndex": int(log["log_index"]),
                    "address": log["address"],
                },
                "logs.csv",
            )
    with (folder / "expected_token_transfers.csv").open() as fh:
        expected = [
            (t["transaction_hash"], int(t["log_index"]), t["token_address"], int(t["value"]))
            for t in csv.DictReader(fh)
        ]
    t = cols.token_transfers
    assert list(zip(t["tx_hash"], t["log_index"], t["token"], t["amount"], strict=True)) == expected


@pytest.mark.parametrize("case", ["token_with_alternative_return_type", "token_with_invalid_data"])
def test_token_metadata_matches_ethereum_etl(case: str) -> None:
    """A bytes32 symbol (EOS) and an empty name; an ABI-string symbol and name (ETH)."""
    folder = ETH_FIX / "test_export_tokens_job" / case
    with (folder / "expected_tokens.csv").open() as fh:
        (expected,) = list(csv.DictReader(fh))
    address = expected["address"]

    def answer(selector: str) -> Any:
        return response(folder, f"web3_response.eth_call_data_{selector}_to_{address}_latest")

    assert decode_text(answer("0x95d89b41")) == expected["symbol"]
    assert decode_text(answer("0x06fdde03")) == (expected["name"] or None)
    assert decode_decimals(answer("0x313ce567")) == int(expected["decimals"])


def test_tolerant_token_decoding() -> None:
    assert decode_text("0x") is None  # no such function, no revert
    assert decode_text("0xzz") is None
    assert decode_text("0x" + "ff" * 32) is None  # not UTF-8
    assert decode_text("0x" + "00" * 32) is None
    assert decode_decimals("0x") is None
    assert decode_decimals("0x" + "f" * 64) is None  # above 255
    assert decode_decimals(None) is None


def test_fixture_responses_are_what_the_tests_read() -> None:
    """The copied fixtures carry their licence, and the JSON-RPC envelope is unwrapped."""
    for name in ("bitcoin-etl", "ethereum-etl"):
        assert "MIT License" in (ETH_FIX.parent / name / "LICENSE").read_text()
    assert read_json(BTC_FIX / "block_0" / "rpc_response_getblockhash_0.json").startswith("0000")
