"""Internal transfers end to end: an ethereum-etl ``traces`` export beside the real blocks of
``test_stream`` → ``chainsleuth ingest etl eth PATH`` → the store's ``traces`` table, the
address's transactions and its flows; a batch (and a store) without traces still loads and
reads. The traces are made up for one real transaction of the export (the fixture has no
traces of those blocks); their parsing is checked on real ones in test_ingest_traces."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from ingest_helpers import ETH_FIX, FakeBitcoind, read_lines
from typer.testing import CliRunner

from chainsleuth.chain.batch import BlockRange
from chainsleuth.chain.flows import Direction, flow_records, flows
from chainsleuth.chain.store import ChainStore
from chainsleuth.cli import app
from chainsleuth.ingest import status as sync_status
from chainsleuth.ingest.ethereum import EthereumSource
from chainsleuth.ingest.etl import EtlSource
from chainsleuth.ingest.follow import Syncer, SyncOptions
from chainsleuth.ingest.rpc import RpcClient
from chainsleuth.tracing import flowsource

runner = CliRunner()
STREAM = ETH_FIX / "test_stream" / "blocks_17173049_17173050"
TX = "0xec7cc4df1f"  # position 1 of block 17173049: 7.4 ETH into Uniswap's universal router
WETH = "0xc02aaa39b223fe8d0a0e5c4f27ead9083c756cc2"
PAYEE = "0x" + "b1" * 20  # seen nowhere else in the blocks
NESTED = "0x" + "f2" * 20
REVERTED = "0x" + "d3" * 20
DELEGATE = "0x" + "e4" * 20


def _tx() -> dict[str, Any]:
    (tx,) = [t for t in read_lines(STREAM / "expected_transactions.json") if t["hash"][:12] == TX]
    return tx


def _traces(tx: dict[str, Any]) -> list[dict[str, Any]]:
    router, value = tx["to_address"], tx["value"]

    def trace(address: list[int], sender: str, to: str, amount: int, **extra: Any) -> Any:
        row = {
            "type": "trace",
            "block_number": tx["block_number"],
            "transaction_hash": tx["hash"],
            "transaction_index": tx["transaction_index"],
            "from_address": sender,
            "to_address": to,
            "value": amount,
            "input": "0x",
            "output": "0x",
            "trace_type": "call",
            "call_type": "call",
            "reward_type": None,
            "gas": 1000,
            "gas_used": 100,
            "subtraces": 0,
            "trace_address": address,
            "error": None,
        }
        row.update(extra)
        return row

    return [
        trace([], tx["from_address"], router, value, subtraces=3),  # the transaction itself
        trace([0], router, PAYEE, 7_000_000_000_000_000_000, subtraces=1),
        trace([0, 0], PAYEE, NESTED, 1_000),
        trace([1], router, REVERTED, 123, error="Reverted"),  # moved nothing
        trace([2], router, DELEGATE, 5, call_type="delegatecall"),  # no value of its own
        {**trace([], None, WETH, 2), "trace_type": "reward", "call_type": None},
    ]


def _export(folder: Path, *, csv_traces: bool = False) -> dict[str, Any]:
    shutil.copytree(STREAM, folder)
    tx = _tx()
    traces = _traces(tx)
    for t in traces:  # ethereum-etl leaves a reward's transaction empty
        if t["trace_type"] == "reward":
            t.update(transaction_hash=None, transaction_index=None, from_address=None)
    if csv_traces:
        with (folder / "traces.csv").open("w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=[k for k in traces[0] if k != "type"])
            writer.writeheader()
            for t in traces:
                row = {k: "" if v is None else v for k, v in t.items() if k != "type"}
                row["trace_address"] = ",".join(str(i) for i in t["trace_address"])
                writer.writerow(row)
    else:
        with (folder / "traces.json").open("w") as fh:
            fh.writelines(json.dumps(t) + "\n" for t in traces)
    return tx


def _low(text: str | None) -> str | None:
    return None if text is None else text.lower()  # shown in checksum case


def _check(root: Path, tx: dict[str, Any]) -> None:
    router = tx["to_address"]
    with ChainStore(root, durable=False) as store, store.reader() as reader:
        stored = store.con.sql(
            "SELECT trace_address, value, status, error, call_type FROM eth_traces ORDER BY ALL"
        ).fetchall()
        assert [(a, int(v), s, e, c) for a, v, s, e, c in stored] == [
            ("0", 7_000_000_000_000_000_000, 1, None, "call"),
            ("0,0", 1_000, 1, None, "call"),
            ("1", 123, 0, "Reverted", "call"),
        ]
        # the payee is known by its internal transfers only: its transactions and balance
        page = reader.address_txs("eth", PAYEE)
        assert [t.hash for t in page.txs] == [tx["hash"]]
        native = reader.address_summary("eth", PAYEE).assets[0]
        assert (native.received, native.sent) == (7_000_000_000_000_000_000, 1_000)
        # ... and its flows: in from the router, out to the nested callee
        ours = flow_records(reader, "eth", flows(reader, "eth", [PAYEE]))
        assert sorted(
            (_low(f.from_address), _low(f.to_address), f.value, f.tx_hash) for f in ours
        ) == sorted(
            [
                (PAYEE, NESTED, 1_000, tx["hash"]),
                (router, PAYEE, 7_000_000_000_000_000_000, tx["hash"]),
            ]
        )
        into = flow_records(reader, "eth", flows(reader, "eth", [PAYEE], direction=Direction.IN))
        assert [(_low(f.from_address), f.value) for f in into] == [
            (router, 7_000_000_000_000_000_000)
        ]
        # the router's ETH out: the internal transfer (the real WETH transfers aside)
        router_out = flows(reader, "eth", [router], direction=Direction.OUT)
        out_of_tx = [
            r
            for r in flow_records(reader, "eth", router_out)
            if r.tx_hash == tx["hash"] and r.asset_id == -1
        ]
        assert [(_low(f.to_address), f.value) for f in out_of_tx] == [
            (PAYEE, 7_000_000_000_000_000_000)
        ]
        # a failed call and a delegatecall move nothing: no flows, no transactions
        assert flows(reader, "eth", [REVERTED]).num_rows == 0
        assert reader.address_id("eth", DELEGATE) is None
        # tracing's flow graph sees the internal transfers too (ETH: asset -1)
        edges = flowsource.read_flows(
            store.con, store.flat("eth"), "eth", 0, flowsource.tx_count(store.con, "eth")
        )
        payee = reader.address_id("eth", PAYEE)
        nested = reader.address_id("eth", NESTED)
        moved = {
            (int(s), int(d), int(h) * flowsource.BASE + int(lo))
            for s, d, a, h, lo in zip(
                edges.src, edges.dst, edges.asset, edges.hi, edges.lo, strict=True
            )
            if a == -1 and payee in (s, d)
        }
        assert moved == {
            (reader.address_id("eth", router), payee, 7_000_000_000_000_000_000),
            (payee, nested, 1_000),
        }


def test_etl_traces_export_loads_internal_transfers(data_dir: Path, tmp_path: Path) -> None:
    tx = _export(tmp_path / "export")
    result = runner.invoke(app, ["ingest", "etl", "eth", str(tmp_path / "export"), "--no-progress"])
    assert result.exit_code == 0, result.output
    root = data_dir / "chains"
    _check(root, tx)
    assert sync_status.load(root, "eth").traces == "ethereum-etl traces file"
    status = runner.invoke(app, ["ingest", "status"])
    assert status.exit_code == 0 and "internal transfers: ethereum-etl traces file" in (
        status.stdout
    )


def test_etl_traces_csv_export(data_dir: Path, tmp_path: Path) -> None:
    tx = _export(tmp_path / "export", csv_traces=True)
    result = runner.invoke(app, ["ingest", "etl", "eth", str(tmp_path / "export"), "--no-progress"])
    assert result.exit_code == 0, result.output
    _check(data_dir / "chains", tx)


def test_traces_of_unknown_transactions_are_refused(data_dir: Path, tmp_path: Path) -> None:
    folder = tmp_path / "export"
    _export(folder)
    lines = (folder / "traces.json").read_text().splitlines()
    bad = json.loads(lines[1])
    bad["transaction_hash"] = "0x" + "99" * 32
    (folder / "traces.json").write_text("\n".join([*lines, json.dumps(bad)]) + "\n")
    result = runner.invoke(app, ["ingest", "etl", "eth", str(folder), "--no-progress"])
    assert result.exit_code == 2, result.output
    (line,) = result.stderr.strip().splitlines()
    assert "internal transfer of 0x9999" in line and "no such transaction" in line


def test_a_store_without_traces_loads_and_reads(tmp_path: Path) -> None:
    """A batch that leaves ``traces`` out (the world generator, older sources) is valid; the
    store's ``traces`` view is then empty, and flows and transactions read as before."""
    source = EtlSource("eth", STREAM)
    assert source.traces is not None and source.traces.startswith("none")
    batch = source.fetch(17173049, 17173050)
    tables = {name: t for name, t in batch.tables.items() if name != "traces"}
    old = BlockRange("eth", 17173049, 17173050, tables)
    old.validate()
    conformed = BlockRange.conform("eth", 17173049, 17173050, tables)
    assert "traces" not in conformed.tables and conformed.table("traces").num_rows == 0
    tx = _tx()
    with ChainStore(tmp_path / "chains", durable=False) as store:
        store.append(old)
        with store.reader() as reader:
            assert store.con.sql("SELECT count(*) FROM eth_traces").fetchall() == [(0,)]
            page = reader.address_txs("eth", tx["from_address"])
            assert tx["hash"] in [t.hash for t in page.txs]
            found = flow_records(reader, "eth", flows(reader, "eth", [tx["from_address"]]))
            assert (tx["to_address"], tx["value"]) in [(_low(f.to_address), f.value) for f in found]


# --- a node's trace methods: trace_block, debug_traceBlockByNumber, or none ----------------

SENDER, CONTRACT = "0x" + "a1" * 20, "0x" + "c5" * 20


def _h(n: int) -> str:
    return "0x" + f"{n:064x}"


class FakeEthNode(FakeBitcoind):
    """Ethereum JSON-RPC over real HTTP: blocks 0 and 1, one transaction into a contract
    that forwards 40 wei to ``PAYEE``; ``methods`` the trace methods it has."""

    def __init__(self, methods: set[str]) -> None:
        super().__init__([])
        self.methods = methods
        self.calls: list[str] = []
        tx = {"hash": _h(0xAA), "from": SENDER, "to": CONTRACT, "value": "0x64", "nonce": "0x0"}
        tx["gasPrice"] = "0x1"
        self.chain = [
            {"number": "0x0", "hash": _h(1), "parentHash": _h(0), "timestamp": "0x1"},
            {"number": "0x1", "hash": _h(2), "parentHash": _h(1), "timestamp": "0x2"},
        ]
        self.chain[0]["transactions"] = []
        self.chain[1]["transactions"] = [tx]
        self.receipt = {"transactionHash": tx["hash"], "gasUsed": "0x5208", "status": "0x1"}
        self.frame = {
            "type": "CALL",
            "from": SENDER,
            "to": CONTRACT,
            "value": "0x64",
            "calls": [{"type": "CALL", "from": CONTRACT, "to": PAYEE, "value": "0x28"}],
        }

    def answer(self, request: dict[str, Any]) -> dict[str, Any]:
        method, params, rid = request["method"], request.get("params") or [], request["id"]
        self.calls.append(method)
        height = int(params[0], 16) if params and isinstance(params[0], str) else 0
        result: Any
        if method == "eth_chainId":
            result = "0x539"
        elif method == "eth_blockNumber":
            result = "0x1"
        elif method == "eth_getBlockByNumber":
            result = self.chain[height]
        elif method == "eth_getBlockReceipts":
            result = [self.receipt] if height == 1 else []
        elif method == "eth_call":
            result = "0x"
        elif method not in self.methods:
            return {"error": {"code": -32601, "message": "Method not found"}, "id": rid}
        elif method == "trace_block":
            result = [] if height == 0 else _parity(self.frame)
        else:
            assert params[1] == {"tracer": "callTracer"}
            result = [] if height == 0 else [{"txHash": _h(0xAA), "result": self.frame}]
        return {"jsonrpc": "2.0", "result": result, "id": rid}


def _parity(frame: dict[str, Any]) -> list[dict[str, Any]]:
    def one(f: dict[str, Any], address: list[int]) -> dict[str, Any]:
        action = {"from": f["from"], "to": f["to"], "value": f["value"], "callType": "call"}
        return {
            "type": "call",
            "action": action,
            "result": {"gasUsed": "0x0", "output": "0x"},
            "traceAddress": address,
            "subtraces": len(f.get("calls", [])),
            "transactionHash": _h(0xAA),
            "transactionPosition": 0,
            "blockNumber": 1,
        }

    return [one(frame, []), *(one(c, [i]) for i, c in enumerate(frame.get("calls", [])))]


@pytest.mark.parametrize(
    ("methods", "used"),
    [
        ({"trace_block", "debug_traceBlockByNumber"}, "trace_block"),
        ({"debug_traceBlockByNumber"}, "debug_traceBlockByNumber"),
        (set(), None),
    ],
)
def test_rpc_ingest_reads_the_nodes_trace_method(
    tmp_path: Path, methods: set[str], used: str | None
) -> None:
    with FakeEthNode(methods) as node, RpcClient(node.url) as client:
        source = EthereumSource(client)
        root = tmp_path / "chains"
        with ChainStore(root, durable=False) as store:
            Syncer(store, source, SyncOptions(batch_blocks=1)).run()
            moved = store.con.sql("SELECT trace_address, value FROM eth_traces").fetchall()
            with store.reader() as reader:
                found = flows(reader, "eth", [PAYEE])
        status = sync_status.load(root, "eth").traces
    if used is None:  # no trace method: skipped silently, said in the status
        assert moved == [] and found.num_rows == 0
        assert status is not None and status.startswith("none")
    else:
        assert [(a, int(v)) for a, v in moved] == [("0", 40)]
        assert [int(v) for v in found["value"].to_pylist()] == [40]
        assert status == used
    # probed once: the methods it lacks are not asked again for the second block
    for missing in {"trace_block", "debug_traceBlockByNumber"} - methods:
        assert node.calls.count(missing) <= 1
