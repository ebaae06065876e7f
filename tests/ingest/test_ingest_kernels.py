"""The compiled pass over raw getblock answers (``bitcoin.core_raw_tables``) gives exactly the
tables of the general path (msgspec records, then ``add_core_blocks``), and hands what it
does not take to that path (which reads it, or says what is wrong)."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from ingest_helpers import _encode, coinbase, core_block, extend, out, p2pkh, segwit, tx

from chainsleuth.ingest.bitcoin import (
    UtxoColumns,
    add_core_blocks,
    add_core_raw,
    core_raw_tables,
    decode_core_block,
)
from chainsleuth.ingest.rpc import MalformedResponse

TABLES = ("blocks", "txs", "outputs", "inputs")


def raw(block: dict[str, Any]) -> bytes:
    return json.dumps(block, default=_encode).encode()


def general(answers: list[bytes], first: int | None = None) -> dict[str, Any]:
    cols = UtxoColumns()
    add_core_blocks(cols, [decode_core_block(a) for a in answers], first)
    return {name: cols.table(name) for name in TABLES}


def through_raw(answers: list[bytes], first: int | None = None) -> dict[str, Any]:
    cols = UtxoColumns()
    add_core_raw(cols, answers, first)
    return {name: cols.table(name) for name in TABLES}


def spending_chain(mainnet_start: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Blocks 2..4 on the real blocks 0 and 1: every script type, verbosity-3 prevouts
    (with and without an address), verbosity-2 inputs, fees, several inputs a transaction."""
    cb1 = mainnet_start[1]["tx"][0]["txid"]
    pay = tx(
        "pay",
        [
            {
                "txid": cb1,
                "vout": 0,
                "scriptSig": {"asm": "", "hex": ""},
                "prevout": {"value": Decimal("50"), "scriptPubKey": {"type": "pubkey"}},
                "sequence": 4294967295,
            }
        ],
        [
            out(0, "1", "pubkeyhash", p2pkh("a")),
            out(1, "0.00000001", "witness_v0_keyhash", segwit("c", 0, 20)),
            out(2, "1", "witness_v1_taproot", segwit("e", 1, 32)),
            out(3, "1", "witness_unknown", segwit("f", 2, 16)),
            out(4, "0", "nulldata"),
            out(5, "1", "multisig"),
            out(6, "1", "some_future_type"),
            out(7, "46.99999999", "scripthash", "3" + p2pkh("x")[1:]),
        ],
    )
    pay["fee"] = Decimal("0.00001")
    old_style = out(8, "0", "pubkeyhash")
    old_style["scriptPubKey"]["addresses"] = [p2pkh("listed"), p2pkh("second")]
    pay["vout"].append(old_style)
    spend = tx(
        "spend",
        [
            {
                "txid": pay["txid"],
                "vout": 0,
                "prevout": {
                    "value": Decimal("1"),
                    "scriptPubKey": {"type": "pubkeyhash", "address": p2pkh("a")},
                },
            },
            {"txid": pay["txid"], "vout": 1},
        ],
        [out(0, "1e-05", "witness_v0_scripthash", segwit("d", 0, 32))],
    )
    b2 = core_block(2, mainnet_start[1]["hash"], [coinbase("cb2", p2pkh("m2")), pay, spend])
    b3 = core_block(3, b2["hash"], [coinbase("cb3", p2pkh("m3"), "50.00001")])
    b3["tx"].append(tx("empty", [], []))
    return extend([*mainnet_start, b2, b3], 2)


def test_fixtures_and_built_blocks_read_alike(mainnet_start: list[dict[str, Any]]) -> None:
    answers = [raw(b) for b in spending_chain(mainnet_start)]
    fast = core_raw_tables(answers, 0)
    assert fast is not None  # all taken by the compiled pass
    slow = general(answers, 0)
    for name in TABLES:
        assert fast[name].equals(slow[name]), name
    outputs = fast["outputs"].to_pylist()
    assert len(outputs) == 2 + 11 + 1 + 2
    pay = outputs[3:12]
    assert [(o["value"], o["script_type"], o["address"] is not None) for o in pay] == [
        (100_000_000, "p2pkh", True),
        (1, "p2wpkh", True),
        (100_000_000, "p2tr", True),
        (100_000_000, "witness_unknown", True),
        (0, "nulldata", False),
        (100_000_000, "multisig", False),
        (100_000_000, "nonstandard", False),
        (4_699_999_999, "p2sh", True),
        (0, "p2pkh", True),
    ]
    assert pay[-1]["address"] == p2pkh("listed")  # old nodes' "addresses": the first
    assert outputs[12]["value"] == 1000  # 1e-05 BTC
    inputs = fast["inputs"].to_pylist()
    assert [(i["n"], i["value"], i["address"]) for i in inputs] == [
        (0, 5_000_000_000, None),  # a P2PK prevout: no address
        (0, 100_000_000, p2pkh("a")),
        (1, None, None),  # verbosity 2: the store resolves it
    ]
    assert fast["txs"]["fee"].to_pylist() == [0, 0, 0, 1000, 0, 0, 0, 0, 0]


@pytest.mark.parametrize(
    "change",
    [
        lambda b: b.update(hash=b["hash"].upper()),  # upper-case hex: lower-cased
        lambda b: b["tx"][0]["vout"][0].update(value=Decimal("0.123456789")),  # rounded
        lambda b: b["tx"][0].update(txid="caf\u00e9" + b["tx"][0]["txid"][4:]),  # non-ASCII
        lambda b: b["tx"][0]["vout"][0]["scriptPubKey"].update(address=segwit("u", 0, 20).upper()),
        lambda b: b.update(time=1.0e9),  # not taken: a float where an int is read
    ],
)
def test_what_the_fast_path_leaves_reads_as_before(
    mainnet_start: list[dict[str, Any]], change: Any
) -> None:
    blocks = extend(mainnet_start, 2)
    change(blocks[2])
    answers = [raw(b) for b in blocks]
    assert core_raw_tables(answers) is None
    try:
        slow = general(answers)
    except MalformedResponse as exc:
        with pytest.raises(MalformedResponse) as caught:
            through_raw(answers)
        assert str(caught.value) == str(exc)
        return
    got = through_raw(answers)
    for name in TABLES:
        assert got[name].equals(slow[name]), name


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (b'{"hash": "00", "height": 0', "malformed"),
        (b"null", "not a JSON object"),
        (b'{"hash": "' + b"0" * 64 + b'", "height": 0, "time": 1, "tx": ["ab"]}', "verbosity"),
    ],
)
def test_bad_answers_are_refused_in_one_line(answer: bytes, message: str) -> None:
    with pytest.raises(MalformedResponse, match=message):
        through_raw([answer], 0)


def test_heights_that_do_not_follow_are_refused(mainnet_start: list[dict[str, Any]]) -> None:
    answers = [raw(b) for b in extend(mainnet_start, 2)]
    with pytest.raises(MalformedResponse, match="asked for block 5 of btc, the node sent 0"):
        through_raw(answers, 5)


def test_verify_checksums_takes_the_general_path(mainnet_start: list[dict[str, Any]]) -> None:
    blocks = extend(mainnet_start, 1)
    blocks[2]["tx"][0]["vout"][0]["scriptPubKey"]["address"] = "1" + "2" * 30  # shape only
    answers = [raw(b) for b in blocks]
    assert through_raw(answers)["outputs"]["address"][-1].as_py() == "1" + "2" * 30
    cols = UtxoColumns(verify_checksums=True)
    with pytest.raises(MalformedResponse):
        add_core_raw(cols, answers)


def test_outputs_beyond_the_first_guess_of_room(mainnet_start: list[dict[str, Any]]) -> None:
    """Short answers with many rows overflow the arrays sized from the bytes: they are
    grown and the pass run again."""
    many = tx("many", [{"txid": "ab" * 32, "vout": 0}] * 150, [])
    many["vout"] = [{"n": n, "value": 0, "scriptPubKey": {"type": "nulldata"}} for n in range(300)]
    blocks = [*mainnet_start, core_block(2, mainnet_start[1]["hash"], [many])]
    answers = [raw(b) for b in blocks]
    fast = core_raw_tables(answers, 0)
    assert fast is not None
    assert (fast["outputs"].num_rows, fast["inputs"].num_rows) == (302, 150)
    slow = general(answers, 0)
    for name in TABLES:
        assert fast[name].equals(slow[name]), name


@pytest.mark.parametrize("pad", range(9))
@pytest.mark.parametrize(("text", "fast"), [("", True), ('q"uote', False), ("caf\u00e9", False)])
def test_strings_scanned_a_word_at_a_time(
    mainnet_start: list[dict[str, Any]], pad: int, text: str, fast: bool
) -> None:
    """Skipped strings are scanned eight bytes at a time: one with an escaped quote or a
    non-ASCII letter, wherever it falls in those words, sends the batch the general way."""
    blocks = extend(mainnet_start, 1)
    blocks[2]["merkleroot"] = "x" * pad + text + "y" * 20
    blocks[2]["tx"][0]["vout"][0]["scriptPubKey"]["asm"] = "0" * pad + text
    answers = [raw(b) for b in blocks]
    assert (core_raw_tables(answers) is not None) is fast
    got, slow = through_raw(answers), general(answers)
    for name in TABLES:
        assert got[name].equals(slow[name]), name
