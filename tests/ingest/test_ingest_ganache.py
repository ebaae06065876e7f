"""Ethereum ingest against a real local node (ganache, started by tests/harness/ganache.py):
an ERC-20 deployed, transfers, a failed transaction, a non-standard token; a re-org made
with evm_snapshot/evm_revert under a following ingester; a node on another network."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ingest_helpers import deploy_bytes32_token, deploy_test_token, transfer_data
from typer.testing import CliRunner

from chainsleuth.chain.store import ChainStore
from chainsleuth.cli import app
from chainsleuth.ingest.ethereum import EthereumSource
from chainsleuth.ingest.follow import Syncer, SyncOptions, SyncReport
from chainsleuth.ingest.rpc import RpcClient
from harness.ganache import Ganache

runner = CliRunner()
ETHER = 10**18


def low(address: str | None) -> str | None:
    """Lookups show EIP-55 checksummed addresses; the node and the store use lower case."""
    return None if address is None else address.lower()


@pytest.fixture
def ganache() -> Iterator[Ganache]:
    with Ganache() as node:
        yield node


def test_erc20_transfers_failures_and_tokens_from_a_real_node(
    ganache: Ganache, data_dir: Path
) -> None:
    a = ganache.accounts()
    deploy = ganache.send(
        from_=a[0], data=deploy_test_token("Test USD", "TUSD", 6, 10**12), gas=3_000_000
    )
    token = ganache.receipt(deploy)["contractAddress"]
    pay = ganache.send(from_=a[0], to=token, data=transfer_data(a[1], 250 * 10**6), gas=100_000)
    native = ganache.send(from_=a[0], to=a[2], value=ETHER, gas=21_000)
    # more than a[1] holds: with a fixed gas limit it is mined, and reverts (status 0)
    failed = ganache.send(from_=a[1], to=token, data=transfer_data(a[2], 10**9), gas=100_000)
    assert ganache.receipt(failed)["status"] == "0x0"
    odd = ganache.receipt(ganache.send(from_=a[0], data=deploy_bytes32_token(1000), gas=900_000))
    mkr = odd["contractAddress"]
    odd_pay = ganache.send(from_=a[0], to=mkr, data=transfer_data(a[3], 10), gas=100_000)
    assert ganache.block_number() == 6

    result = runner.invoke(app, ["ingest", "eth-rpc", ganache.url, "--no-progress"])
    assert result.exit_code == 0, result.output
    assert "loaded blocks 0..6 (7 blocks, 6 txs)" in result.stdout

    with ChainStore(data_dir / "chains", durable=False) as store, store.reader() as reader:
        created = reader.tx("eth", deploy)
        assert (low(created.created_contract), created.to_address, created.status) == (
            token,
            None,
            1,
        )
        assert created.method is None
        (mint,) = created.token_transfers
        assert (low(mint.from_address), low(mint.to_address), mint.amount) == (
            "0x" + "0" * 40,
            a[0],
            10**12,
        )

        t = reader.tx("eth", pay)
        assert (t.status, t.method, t.value) == (1, "0xa9059cbb", 0)
        (tr,) = t.token_transfers
        assert (low(tr.from_address), low(tr.to_address), tr.amount) == (a[0], a[1], 250 * 10**6)
        assert (tr.token.symbol, tr.token.decimals, low(tr.token.token)) == ("TUSD", 6, token)

        n = reader.tx("eth", native)
        receipt = ganache.receipt(native)
        assert (n.value, n.status, low(n.to_address), n.gas_used) == (ETHER, 1, a[2], 21_000)
        assert n.fee == int(receipt["gasUsed"], 16) * int(receipt["effectiveGasPrice"], 16)

        f = reader.tx("eth", failed)
        assert (f.status, f.token_transfers) == (0, [])
        assert f.gas_used == int(ganache.receipt(failed)["gasUsed"], 16) and f.fee > 0

        (odd_tr,) = reader.tx("eth", odd_pay).token_transfers
        assert (odd_tr.token.symbol, odd_tr.amount, low(odd_tr.token.token)) == ("MKR", 10, mkr)

        holder = reader.address_summary("eth", a[1])
        balances = {x.asset.symbol: x.balance for x in holder.assets}
        assert balances["TUSD"] == 250 * 10**6
        native_in = reader.address_summary("eth", a[2])
        assert native_in.assets[0].asset.symbol == "ETH" and native_in.assets[0].balance == ETHER

    again = runner.invoke(app, ["ingest", "eth-rpc", ganache.url, "--no-progress"])
    assert again.exit_code == 0 and "up to date at block 6" in again.stdout


def _hashes(root: Path) -> list[str]:
    with ChainStore(root, durable=False) as store, store.reader() as reader:
        return [h for _n, h, _t, _c in sorted(reader.latest_blocks("eth", limit=1000))]


def _node_hashes(node: Ganache) -> list[str]:
    top = node.block_number()
    blocks = node.rpc_batch([("eth_getBlockByNumber", [hex(h), False]) for h in range(top + 1)])
    return [b["hash"] for b in blocks]


def test_a_reorg_under_a_following_ingester(ganache: Ganache, tmp_path: Path) -> None:
    a = ganache.accounts()
    for i in range(3):
        ganache.send(from_=a[0], to=a[1], value=1000 + i, gas=21_000)
    snap = ganache.snapshot()  # at block 3
    orphaned = [ganache.send(from_=a[0], to=a[2], value=7 + i, gas=21_000) for i in range(4)]

    stop = threading.Event()
    report: list[SyncReport] = []
    errors: list[BaseException] = []
    store = ChainStore(tmp_path, durable=False)
    client = RpcClient(ganache.url, retries=1, backoff_s=0.01)

    def follow() -> None:
        try:
            options = SyncOptions(follow=True, poll_s=0.05, batch_blocks=2, stop=stop)
            report.append(Syncer(store, EthereumSource(client), options).run())
        except BaseException as exc:  # pragma: no cover - shown by the assertion below
            errors.append(exc)

    def wait_for(check: Any) -> None:
        deadline = time.monotonic() + 30
        while not check():
            assert not errors, errors
            assert time.monotonic() < deadline, "the ingester did not catch up"
            time.sleep(0.05)

    thread = threading.Thread(target=follow)
    thread.start()
    try:
        wait_for(lambda: store.tip("eth") == 7)
        assert ganache.revert(snap) and ganache.block_number() == 3
        kept = [ganache.send(from_=a[0], to=a[3], value=99 + i, gas=21_000) for i in range(6)]
        wait_for(lambda: store.tip("eth") == 9)
    finally:
        stop.set()
        thread.join(timeout=30)
        client.close()
    assert not errors, errors
    (done,) = report
    assert [(r.fork_height, r.rolled_back) for r in done.reorgs] == [(3, 4)]
    with store.reader() as reader:
        assert all(reader.tx_id("eth", h) is None for h in orphaned)
        assert all(reader.tx_id("eth", h) is not None for h in kept)
        assert reader.address_summary("eth", a[3]).assets[0].balance == sum(
            99 + i for i in range(6)
        )
    store.close()
    assert _hashes(tmp_path) == _node_hashes(ganache)


def test_a_node_on_another_network_is_refused(ganache: Ganache, data_dir: Path) -> None:
    ganache.mine(2)
    assert runner.invoke(app, ["ingest", "eth-rpc", ganache.url, "--no-progress"]).exit_code == 0
    with ChainStore(data_dir / "chains", durable=False) as store:
        before = store.state("eth")
    time.sleep(1.1)  # ganache's genesis carries the start time: another chain
    with Ganache() as other:
        other.mine(5)
        result = runner.invoke(app, ["ingest", "eth-rpc", other.url, "--no-progress"])
    assert result.exit_code == 2, result.output
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("error: ") and "is on network ethereum:1337:0x" in line, line
    with ChainStore(data_dir / "chains", durable=False) as store:
        assert store.state("eth") == before
