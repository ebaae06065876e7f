"""Ethereum traces (internal transfers) from trace_block, debug_traceBlockByNumber
(callTracer) and ethereum-etl exports, checked against ethereum-etl's own expected traces."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest
from ingest_helpers import ETH_FIX, read_json, response

from chainsleuth.ingest.rpc import MalformedResponse
from chainsleuth.ingest.traces import etl_traces, geth_traces, internal_transfers, parity_traces

CASES = [
    ("block_with_create", 0xF44F2),
    ("block_with_error", 0xF45BF),
    ("block_with_subtraces", 0xF4240),
    ("block_with_suicide", 0xF7105),
    ("block_without_transactions", 0x0),
]


def _expected(folder: Path) -> list[dict[str, Any]]:
    with (folder / "expected_traces.csv").open() as fh:
        return list(csv.DictReader(fh))


def _key(r: dict[str, Any]) -> tuple[Any, ...]:
    return (
        r["tx_hash"],
        r["trace_address"],
        r["from_address"],
        r["to_address"],
        int(r["value"]),
        r["trace_type"],
        r["call_type"],
    )


def _theirs(r: dict[str, str]) -> tuple[Any, ...]:
    return (
        r["transaction_hash"] or None,
        r["trace_address"],
        r["from_address"] or None,
        r["to_address"] or None,
        int(r["value"] or 0),
        r["trace_type"],
        r["call_type"] or None,
    )


@pytest.mark.parametrize(("case", "height"), CASES)
def test_trace_block_matches_ethereum_etl(case: str, height: int) -> None:
    folder = ETH_FIX / "test_export_traces_job" / case
    table = parity_traces([response(folder, "web3_response.trace_block_")], [height])
    ours = table.to_pylist()
    expected = _expected(folder)
    assert [_key(r) for r in ours] == [_theirs(r) for r in expected]
    assert [r["status"] for r in ours] == [int(r["status"]) for r in expected]
    # the etl export of the same traces gives the same rows
    from_file = etl_traces(expected).to_pylist()
    assert [(_key(r), r["status"], r["error"]) for r in from_file] == [
        (_key(r), r["status"], r["error"]) for r in ours
    ]


@pytest.mark.parametrize(("case", "height"), CASES)
def test_geth_call_tracer_matches_ethereum_etl(case: str, height: int) -> None:
    folder = ETH_FIX / "test_extract_geth_traces_job" / case
    answer = response(folder, "web3_response.debug_traceBlockByNumber_")
    ours = geth_traces([answer], [height]).to_pylist()
    # ethereum-etl's geth traces carry no transaction hash; they name the position
    expected = [r for r in _expected(folder) if r["trace_type"] != "reward"]
    assert [(r["tx_position"], *_key(r)[1:]) for r in ours] == [
        (int(r["transaction_index"]), *_theirs(r)[1:]) for r in expected
    ]
    assert [r["error"] for r in ours] == [r["error"] or None for r in expected]
    # the same frames as ethereum-etl saved them (geth_traces.json) give the same rows
    saved = read_json(folder / "geth_traces.json")
    assert geth_traces([saved["transaction_traces"]], [height]).to_pylist() == ours


def test_status_of_calls_below_a_failed_call_and_internal_transfers() -> None:
    forwarder = "0x" + "aa" * 20
    frames = [
        {
            "type": "CALL",
            "from": "0x" + "01" * 20,
            "to": forwarder,
            "value": hex(10**18),
            "calls": [
                {"type": "CALL", "from": forwarder, "to": "0x" + "02" * 20, "value": hex(6)},
                {
                    "type": "CALL",
                    "from": forwarder,
                    "to": "0x" + "03" * 20,
                    "value": hex(4),
                    "error": "execution reverted",
                    "calls": [
                        {
                            "type": "CALL",
                            "from": "0x" + "03" * 20,
                            "to": "0x" + "04" * 20,
                            "value": hex(1),
                        },
                    ],
                },
                {
                    "type": "DELEGATECALL",
                    "from": forwarder,
                    "to": "0x" + "05" * 20,
                    "value": hex(10**18),
                },
                {"type": "STATICCALL", "from": forwarder, "to": "0x" + "06" * 20},
            ],
        }
    ]
    table = geth_traces([[{"txHash": "0x" + "ab" * 32, "result": frames[0]}]], [7])
    rows = table.to_pylist()
    assert [(r["trace_address"], r["status"]) for r in rows] == [
        ("", 1),
        ("0", 1),
        ("1", 0),
        ("1,0", 0),  # below a failed call: its value never moved
        ("2", 1),
        ("3", 1),
    ]
    assert {r["tx_hash"] for r in rows} == {"0x" + "ab" * 32}
    moved = internal_transfers(table).to_pylist()
    assert [(r["to_address"], int(r["value"])) for r in moved] == [("0x" + "02" * 20, 6)]


def test_malformed_traces_are_refused() -> None:
    with pytest.raises(MalformedResponse, match="unknown call type"):
        geth_traces([[{"type": "JUMP"}]], [1])
    with pytest.raises(MalformedResponse, match="trace_block"):
        parity_traces([[{"action": {}}]], [1])
    with pytest.raises(MalformedResponse, match="not a list"):
        parity_traces([{"oops": 1}], [1])  # type: ignore[list-item]
