"""Bitcoin Core ingest against ``FakeBitcoind``: a real HTTP JSON-RPC server answering with
Bitcoin's real blocks 0 and 1 (the fixtures) and blocks built on them in Core's format
(Bitcoin Core itself cannot be installed here; see docs/ingest.md)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from ingest_helpers import (
    GENESIS,
    FakeBitcoind,
    coinbase,
    core_block,
    extend,
    out,
    p2pkh,
    p2sh,
    segwit,
    tx,
)
from typer.testing import CliRunner, Result

from chainsleuth.chain.store import ChainStore
from chainsleuth.chain.synthetic import UtxoSynth
from chainsleuth.cli import app
from chainsleuth.core.errors import InvalidInput
from chainsleuth.ingest import follow
from chainsleuth.ingest import status as sync_status
from chainsleuth.ingest.bitcoin import BitcoinCoreSource
from chainsleuth.ingest.follow import Reorg, Syncer, SyncOptions, SyncReport
from chainsleuth.ingest.rpc import (
    Credentials,
    CredentialsRefused,
    NodeUnreachable,
    RpcClient,
    RpcError,
)
from harness.ganache import free_port

runner = CliRunner()


def client(url: str, **kw: Any) -> RpcClient:
    kw.setdefault("retries", 1)
    kw.setdefault("backoff_s", 0.01)
    kw.setdefault("timeout_s", 5.0)
    return RpcClient(url, parse_float=Decimal, **kw)


def sync(root: Path, url: str, **opts: Any) -> SyncReport:
    with ChainStore(root, durable=False) as store, client(url) as c:
        return Syncer(store, BitcoinCoreSource(c), SyncOptions(**opts)).run()


def stored_hashes(root: Path) -> list[str]:
    with ChainStore(root, durable=False) as store, store.reader() as reader:
        rows = reader.latest_blocks("btc", limit=10_000)
    return [h for _height, h, _t, _n in sorted(rows)]


def refused(result: Result, message: str) -> str:
    assert result.exit_code == 2, (result.output, result.exception)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ") and message in lines[0], lines[0]
    assert "Traceback" not in result.output
    return lines[0]


# --- script types, inputs, idempotence ----------------------------------------------------


def every_script_type(chain: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Block 2 spends block 1's coinbase (a P2PK output) into every kind of output; a second
    transaction spends one of them in the same block; block 3 spends one from the store."""
    block1_cb = chain[1]["tx"][0]["txid"]
    pay = tx(
        "pay all",
        [
            {
                "txid": block1_cb,
                "vout": 0,
                "prevout": {"value": Decimal("50"), "scriptPubKey": {"type": "pubkey"}},
            }
        ],
        [
            out(0, "1", "pubkeyhash", p2pkh("a")),
            out(1, "1", "scripthash", p2sh("b")),
            out(2, "1", "witness_v0_keyhash", segwit("c", 0, 20)),
            out(3, "1", "witness_v0_scripthash", segwit("d", 0, 32)),
            out(4, "1", "witness_v1_taproot", segwit("e", 1, 32)),
            out(5, "1", "witness_unknown", segwit("f", 2, 16)),
            out(6, "1", "pubkey"),
            out(7, "1", "multisig"),
            out(8, "0", "nulldata"),
            out(9, "1", "nonstandard"),
            out(10, "40.5", "pubkeyhash", p2pkh("change")),
        ],
    )
    pay["fee"] = Decimal("0.5")
    spend_in_block = tx(
        "spend in block",
        [{"txid": pay["txid"], "vout": 2}],  # verbosity 2: no prevout
        [out(0, "0.9999", "witness_v0_keyhash", segwit("g", 0, 20))],
    )
    b2 = core_block(2, chain[1]["hash"], [coinbase("cb2", p2pkh("m2")), pay, spend_in_block])
    spend_from_store = tx(
        "spend from store",
        [{"txid": pay["txid"], "vout": 4}],
        [out(0, "0.99", "pubkeyhash", p2pkh("h"))],
    )
    b3 = core_block(3, b2["hash"], [coinbase("cb3", p2pkh("m3")), spend_from_store])
    return [*chain, b2, b3]


def test_every_script_type_and_input_resolution(
    tmp_path: Path, mainnet_start: list[dict[str, Any]]
) -> None:
    blocks = every_script_type(mainnet_start)
    with FakeBitcoind(blocks) as node:
        report = sync(tmp_path, node.url, batch_blocks=2)
    assert (report.blocks, report.txs, report.first_height, report.last_height) == (4, 7, 0, 3)
    with ChainStore(tmp_path, durable=False) as store, store.reader() as reader:
        pay = reader.tx("btc", blocks[2]["tx"][1]["txid"])
        assert [(o.script_type, o.address is not None) for o in pay.outputs] == [
            ("p2pkh", True),
            ("p2sh", True),
            ("p2wpkh", True),
            ("p2wsh", True),
            ("p2tr", True),
            ("witness_unknown", True),
            ("p2pk", False),
            ("multisig", False),
            ("nulldata", False),
            ("nonstandard", False),
            ("p2pkh", True),
        ]
        assert pay.outputs[2].address == segwit("c", 0, 20)
        assert pay.inputs[0].value == 50 * 10**8 and pay.inputs[0].address is None  # P2PK
        assert pay.fee == 50_000_000
        assert pay.outputs[2].spent_by == blocks[2]["tx"][2]["txid"]  # spent in its block
        assert pay.outputs[4].spent_by == blocks[3]["tx"][1]["txid"]  # spent from the store
        later = reader.tx("btc", blocks[3]["tx"][1]["txid"])
        assert later.inputs[0].address == segwit("e", 1, 32)
        assert later.inputs[0].value == 10**8 and later.fee == 10**6
        genesis = reader.block("btc", 0, limit=5)
        assert genesis.hash == GENESIS and genesis.txs[0].value == 50 * 10**8


def test_the_same_range_twice_changes_nothing(
    tmp_path: Path, mainnet_start: list[dict[str, Any]]
) -> None:
    blocks = extend(mainnet_start, 20)
    with FakeBitcoind(blocks) as node:
        first = sync(tmp_path, node.url, from_block=0, to_block=15, batch_blocks=4)
        with ChainStore(tmp_path, durable=False) as store:
            before = (store.state("btc"), len(store.events()))
        again = sync(tmp_path, node.url, from_block=0, to_block=15, batch_blocks=4)
        with ChainStore(tmp_path, durable=False) as store:
            assert (store.state("btc"), len(store.events())) == before
        rest = sync(tmp_path, node.url, batch_blocks=4)
    assert (first.blocks, again.blocks, rest.blocks) == (16, 0, 6)
    assert stored_hashes(tmp_path) == [b["hash"] for b in blocks]


def test_by_default_a_sparse_chain_is_appended_in_few_batches(
    tmp_path: Path, mainnet_start: list[dict[str, Any]]
) -> None:
    """Without --batch-blocks, fetches of 100 blocks are appended together (up to
    APPEND_TXS transactions): 250 one-transaction blocks are one append, where
    --batch-blocks 50 makes five; the stores hold the same chain."""
    blocks = extend(mainnet_start, 248)  # 0..249
    with FakeBitcoind(blocks) as node:
        default = sync(tmp_path / "a", node.url)
        explicit = sync(tmp_path / "b", node.url, batch_blocks=50)
    assert (default.blocks, default.txs) == (explicit.blocks, explicit.txs) == (250, 250)
    with ChainStore(tmp_path / "a", durable=False) as a, ChainStore(tmp_path / "b") as b:
        assert [(e.first_height, e.last_height) for e in a.events()] == [(0, 249)]
        assert [(e.first_height, e.last_height) for e in b.events()] == [
            (k, k + 49) for k in range(0, 250, 50)
        ]
        assert a.state("btc").tip_hash == b.state("btc").tip_hash == blocks[-1]["hash"]
    assert stored_hashes(tmp_path / "a") == stored_hashes(tmp_path / "b")


def test_fetches_held_for_an_append_are_appended_after_append_s(
    tmp_path: Path, mainnet_start: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The default batch also ends APPEND_S seconds after it was begun (progress and a
    kill's loss stay bounded on a slow node): with no time at all, every fetch of 100
    blocks is an append of its own."""
    monkeypatch.setattr(follow, "APPEND_S", 0.0)
    with FakeBitcoind(extend(mainnet_start, 248)) as node:
        assert sync(tmp_path, node.url).blocks == 250
    with ChainStore(tmp_path, durable=False) as store:
        assert [(e.first_height, e.last_height) for e in store.events()] == [
            (0, 99),
            (100, 199),
            (200, 249),
        ]


def test_replies_out_of_order_are_matched_by_id(
    tmp_path: Path, mainnet_start: list[dict[str, Any]]
) -> None:
    """A node may answer a batch in any order: the client matches replies to calls by id
    (the in-order fast path does not take such a reply)."""
    blocks = extend(mainnet_start, 8)
    with FakeBitcoind(blocks) as node:
        node.reverse_batches = True
        report = sync(tmp_path, node.url, batch_blocks=4)
    assert report.blocks == 10
    assert stored_hashes(tmp_path) == [b["hash"] for b in blocks]


# --- re-orgs ------------------------------------------------------------------------------


def test_a_reorg_rolls_back_the_orphans_and_loads_the_new_branch(
    tmp_path: Path, mainnet_start: list[dict[str, Any]]
) -> None:
    base = extend(mainnet_start, 5)  # 0..6
    # on the old branch, block 7 spends block 3's coinbase; the new branch spends it again
    # at block 8, which the store accepts only if the roll-back put the output back
    cb3 = base[3]["tx"][0]["txid"]

    def spender(seed: str) -> dict[str, Any]:
        return tx(seed, [{"txid": cb3, "vout": 0}], [out(0, "49", "pubkeyhash", p2pkh(seed))])

    old = [*base, core_block(7, base[-1]["hash"], [coinbase("cb7a", p2pkh("x")), spender("a")])]
    old = extend(old, 4, seed="old")  # ..11
    new = extend(base, 1, seed="new")  # 7'
    new = [*new, core_block(8, new[-1]["hash"], [coinbase("cb8b", p2pkh("y")), spender("b")])]
    new = extend(new, 6, seed="new")  # ..14
    with FakeBitcoind(old) as node:
        assert sync(tmp_path, node.url, batch_blocks=3).last_height == 11
        node.blocks = new
        report = sync(tmp_path, node.url, batch_blocks=3)
    assert report.reorgs == [Reorg(fork_height=6, rolled_back=5)]
    assert stored_hashes(tmp_path) == [b["hash"] for b in new]
    with ChainStore(tmp_path, durable=False) as store, store.reader() as reader:
        spent = reader.tx("btc", cb3)
        assert spent.outputs[0].spent_by == new[8]["tx"][1]["txid"]
        kinds = [e.kind for e in store.events()]
        assert kinds[-4:] == ["truncate", "append", "append", "append"]


def test_a_reorg_deeper_than_allowed_is_refused(
    tmp_path: Path, mainnet_start: list[dict[str, Any]]
) -> None:
    old = extend(mainnet_start, 30, seed="old")
    new = extend(mainnet_start, 35, seed="new")
    with FakeBitcoind(old) as node:
        sync(tmp_path, node.url)
        node.blocks = new
        with pytest.raises(Exception, match="deeper than 10 blocks"):
            sync(tmp_path, node.url, max_reorg=10)
    assert stored_hashes(tmp_path) == [b["hash"] for b in old]


# --- bad input: one line, exit 2, nothing written -----------------------------------------


def test_unreachable_node(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"http://127.0.0.1:{free_port()}/"
    with pytest.raises(NodeUnreachable), client(url) as c:
        c.call("getblockcount")
    monkeypatch.setenv("CHAINSLEUTH_RPC_RETRIES", "1")
    refused(runner.invoke(app, ["ingest", "btc-rpc", url, "--no-progress"]), "cannot reach")
    assert sync_status.load(data_dir / "chains", "btc").state == "failed"


def test_credentials_from_settings_or_cookie_file(
    data_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    mainnet_start: list[dict[str, Any]],
) -> None:
    with FakeBitcoind(mainnet_start, user="__cookie__", password="s3cret") as node:
        with pytest.raises(CredentialsRefused), client(node.url) as c:
            c.call("getblockcount")
        monkeypatch.setenv("CHAINSLEUTH_BTC_RPC_USER", "__cookie__")
        monkeypatch.setenv("CHAINSLEUTH_BTC_RPC_PASSWORD", "wrong")
        refused(
            runner.invoke(app, ["ingest", "btc-rpc", node.url, "--no-progress"]),
            "refused the credentials (HTTP 401)",
        )
        cookie = tmp_path / ".cookie"
        cookie.write_text("__cookie__:s3cret\n")
        monkeypatch.setenv("CHAINSLEUTH_BTC_RPC_COOKIE_FILE", str(cookie))
        monkeypatch.setenv("CHAINSLEUTH_BTC_RPC_URL", node.url)
        result = runner.invoke(app, ["ingest", "btc-rpc", "--no-progress"])
        assert result.exit_code == 0, result.output
        assert "loaded blocks 0..1" in result.stdout
        # never on the command line
        refused(
            runner.invoke(
                app, ["ingest", "btc-rpc", node.url.replace("//", "//u:p@"), "--no-progress"]
            ),
            "carries credentials",
        )
    assert Credentials.from_cookie_file(cookie) == Credentials("__cookie__", "s3cret")


def test_a_node_on_another_network_is_refused(
    data_dir: Path, mainnet_start: list[dict[str, Any]]
) -> None:
    testnet = [{**mainnet_start[0], "hash": "00" * 31 + "01"}]
    with FakeBitcoind(testnet) as node:
        refused(
            runner.invoke(app, ["ingest", "btc-rpc", node.url, "--no-progress"]),
            "is not on Bitcoin mainnet",
        )
    # a store loaded from elsewhere (here: synthetic blocks) does not match a mainnet node
    with ChainStore(data_dir / "chains", durable=False) as store:
        store.append(UtxoSynth(seed=3, txs_per_block=5).batch(20))
        before = store.state("btc")
    with FakeBitcoind(extend(mainnet_start, 10)) as node:
        refused(
            runner.invoke(app, ["ingest", "btc-rpc", node.url, "--no-progress"]),
            "does not hold the store's block 0",
        )
    with ChainStore(data_dir / "chains", durable=False) as store:
        assert store.state("btc") == before


@pytest.mark.parametrize("fault", ["truncate", "garble", "bad_field", "broken_link"])
def test_bad_responses_write_nothing_for_their_range(
    data_dir: Path, mainnet_start: list[dict[str, Any]], fault: str
) -> None:
    blocks = extend(mainnet_start, 8)  # 0..9
    with FakeBitcoind(blocks[:4]) as node:  # 0..3 load fine
        assert runner.invoke(app, ["ingest", "btc-rpc", node.url, "--no-progress"]).exit_code == 0
        node.blocks = blocks
        message = {
            "truncate": "truncated",
            "garble": "malformed",
            "bad_field": "malformed",
            "broken_link": "does not link to block 6",
        }[fault]
        if fault in ("truncate", "garble"):
            setattr(node, fault, True)
        elif fault == "bad_field":
            bad = dict(blocks[6])
            bad["tx"] = [{**bad["tx"][0], "vout": [{"n": 0, "value": "fifty"}]}]
            node.blocks = [*blocks[:6], bad, *blocks[7:]]
        else:
            bad = dict(blocks[7], previousblockhash="ab" * 32)
            node.blocks = [*blocks[:7], bad, *blocks[8:]]
        refused(
            runner.invoke(
                app, ["ingest", "btc-rpc", node.url, "--no-progress", "--batch-blocks", "6"]
            ),
            message,
        )
    with ChainStore(data_dir / "chains", durable=False) as store:
        assert store.tip("btc") == 3


def test_retries_ride_out_a_busy_node(tmp_path: Path, mainnet_start: list[dict[str, Any]]) -> None:
    with FakeBitcoind(extend(mainnet_start, 3)) as node:
        node.fail_next = 2
        with ChainStore(tmp_path, durable=False) as store, client(node.url, retries=2) as c:
            report = Syncer(store, BitcoinCoreSource(c)).run()
        assert report.blocks == 5 and node.requests >= 4


# --- a killed ingest resumes with no gap and no duplicate ---------------------------------


INGEST = "from chainsleuth.ingest.cli import app; app(prog_name='chainsleuth ingest')"


def test_a_killed_ingest_resumes_without_gap_or_duplicate(
    data_dir: Path, mainnet_start: list[dict[str, Any]]
) -> None:
    """``ingest btc-rpc`` in a subprocess, SIGKILLed between two batches or in one; the next
    run goes on from the last committed batch."""
    blocks = extend(mainnet_start, 118)  # 0..119
    root = data_dir / "chains"
    env = {**os.environ, "CHAINSLEUTH_DATA_DIR": str(data_dir)}
    with FakeBitcoind(blocks) as node:
        node.delay_s = 0.02
        proc = subprocess.Popen(
            [sys.executable, "-c", INGEST, "btc-rpc", node.url, "--no-progress"]
            + ["--batch-blocks", "5"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 90
        while (sync_status.load(root, "btc").store_tip or 0) < 20:
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        with ChainStore(root, durable=False) as store:
            killed_at = store.tip("btc")
        assert killed_at is not None and 20 <= killed_at < 119
        node.delay_s = 0
        report = sync(root, node.url, batch_blocks=50)
    assert (report.first_height, report.last_height) == (killed_at + 1, 119)
    assert stored_hashes(root) == [b["hash"] for b in blocks]
    with ChainStore(root, durable=False) as store:
        assert store.state("btc").tx_count == 120  # one coinbase a block, none twice


def test_rpc_client_errors(mainnet_start: list[dict[str, Any]]) -> None:
    with pytest.raises(InvalidInput, match="not an http"):
        RpcClient("ftp://node")
    with FakeBitcoind(mainnet_start) as node, client(node.url, batch_size=2, concurrency=3) as c:
        with pytest.raises(RpcError, match="error -32601: Method not found") as caught:
            c.call("getwalletinfo")
        assert caught.value.rpc_code == -32601
        answers = c.batch([("getblockhash", [h]) for h in range(5)], tolerate=True)
        assert answers[:2] == [b["hash"] for b in mainnet_start]
        assert all(isinstance(a, RpcError) and a.rpc_code == -8 for a in answers[2:])
        assert c.posts == 4 and c.calls == 6  # 1 + three batches of at most 2


# --- from any height -----------------------------------------------------------------------


def test_from_a_height_above_genesis_with_prevouts(
    tmp_path: Path, mainnet_start: list[dict[str, Any]]
) -> None:
    """An empty store loaded from block 2: inputs spending outputs below it take the node's
    prevout (verbosity 3) and have no spent-by link; the rest resolve as usual."""
    blocks = every_script_type(mainnet_start)
    pay = blocks[2]["tx"][1]
    pay["vin"][0]["prevout"]["scriptPubKey"] = {"type": "pubkeyhash", "address": p2pkh("old")}
    with FakeBitcoind(blocks) as node:
        report = sync(tmp_path, node.url, from_block=2, batch_blocks=1)
        assert (report.blocks, report.first_height, report.last_height) == (2, 2, 3)
        again = sync(tmp_path, node.url, from_block=2)  # idempotent
        assert again.blocks == 0
    with ChainStore(tmp_path, durable=False) as store, store.reader() as reader:
        assert store.state("btc").first_height == 2
        stored = reader.tx("btc", pay["txid"])
        (spent,) = stored.inputs
        assert (spent.prev_hash, spent.prev_n, spent.value) == (None, 0, 50 * 10**8)
        assert spent.address == p2pkh("old")
        assert stored.fee == 50_000_000  # 50 in, 49.5 out
        assert stored.outputs[2].spent_by == blocks[2]["tx"][2]["txid"]  # in its batch
        assert stored.outputs[4].spent_by == blocks[3]["tx"][1]["txid"]  # from the store
        later = reader.tx("btc", blocks[2]["tx"][2]["txid"])
        assert later.inputs[0].prev_hash == pay["txid"]
        assert reader.address_id("btc", p2pkh("old")) is not None


def test_from_a_height_above_genesis_without_prevouts_is_refused(
    data_dir: Path, mainnet_start: list[dict[str, Any]]
) -> None:
    """Verbosity 2 (Bitcoin Core before 25) gives no prevouts: an input spending an output
    below the store's first block cannot be resolved; one line, exit 2, nothing written."""
    blocks = every_script_type(mainnet_start)
    del blocks[2]["tx"][1]["vin"][0]["prevout"]
    with FakeBitcoind(blocks) as node:
        line = refused(
            runner.invoke(
                app, ["ingest", "btc-rpc", node.url, "--from-block", "2", "--no-progress"]
            ),
            "nor described by the source",
        )
    assert "verbosity 3" in line
    with ChainStore(data_dir / "chains", durable=False) as store:
        assert store.tip("btc") is None
