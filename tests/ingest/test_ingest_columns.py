"""The bulk, column-by-column parsers: typed (msgspec) and dict inputs agree, hashes are
checked in bulk, amounts beyond int64 survive the fast Arrow path."""

from __future__ import annotations

import json
from typing import Any

import pytest
from ingest_helpers import ETH_FIX, _encode, core_fixture_block, response

from chainsleuth.ingest.bitcoin import decode_core_block, hex_hashes, parse_core_blocks
from chainsleuth.ingest.ethereum import (
    AccountColumns,
    add_eth_block,
    decode_eth_block,
    decode_eth_receipts,
)
from chainsleuth.ingest.rpc import MalformedResponse


def test_typed_and_dict_bitcoin_blocks_give_the_same_batch() -> None:
    blocks = [core_fixture_block("block_with_transactions", h) for h in (50001, 50002)]
    typed = [decode_core_block(json.dumps(b, default=_encode).encode()) for b in blocks]
    ours = parse_core_blocks(typed, 50001).tables
    theirs = parse_core_blocks(blocks, 50001).tables
    assert {k: t.to_pylist() for k, t in ours.items()} == {
        k: t.to_pylist() for k, t in theirs.items()
    }


def _eth_block() -> tuple[dict[str, Any], list[dict[str, Any]]]:
    folder = ETH_FIX / "test_stream" / "blocks_1755634_1755635"
    block = response(folder, f"web3_response.eth_getBlockByNumber_{hex(1755635)}_true")
    receipts = [
        response(folder, f"web3_response.eth_getTransactionReceipt_{tx['hash']}")
        for tx in block["transactions"]
    ]
    return block, receipts


def test_amounts_beyond_int64_and_typed_ethereum_input() -> None:
    block, receipts = _eth_block()
    block["transactions"][0]["value"] = hex(10**30)  # wei beyond int64: the slow Arrow path
    raw_receipts = json.dumps(receipts, default=_encode).encode()
    typed = AccountColumns()
    add_eth_block(
        typed,
        decode_eth_block(json.dumps(block, default=_encode).encode()),
        decode_eth_receipts(raw_receipts),
        1755635,
    )
    plain = AccountColumns()
    add_eth_block(plain, block, receipts, 1755635)
    a, b = typed.block_range(1755635, 1755635), plain.block_range(1755635, 1755635)
    assert a.tables["txs"].to_pylist() == b.tables["txs"].to_pylist()
    assert int(a.tables["txs"]["value"][0].as_py()) == 10**30


def test_hashes_are_checked_and_lower_cased_in_bulk() -> None:
    good = "ab" * 32
    assert hex_hashes([good.upper(), good], "here") == [good, good]
    assert hex_hashes(["0x" + good.upper()], "here", "0x") == ["0x" + good]
    for bad in (["zz" * 32], [good[:-1]], [good + "0"], ["0x" + good], [" " + good[1:]]):
        with pytest.raises(MalformedResponse, match="not a block or transaction hash"):
            hex_hashes(bad, "here")
    with pytest.raises(MalformedResponse, match="not a block or transaction hash"):
        hex_hashes([good + "00"], "here", "0x")  # no prefix
