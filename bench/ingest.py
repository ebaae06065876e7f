"""Benchmark of ingest: JSON-RPC responses parsed and loaded, and a local node end to end.

1. **Parsing, against blockchain-etl.** The real mainnet responses of the fixtures
   (tests/ingest/fixtures: Bitcoin blocks 0, 1, 50000-50002; Ethereum blocks 483920,
   1755634-1755635 with their receipts) repeated ``--repeat`` times, turned by us into the
   store's batches (Arrow) and by bitcoin-etl / ethereum-etl's own mappers into their
   export (JSON lines), from the same response bytes, in the same process. Ours takes
   the bytes as the ingester has them: Bitcoin ``getblock`` answers as raw JSON
   (``BitcoinCoreSource.fetch`` asks the RPC client for ``msgspec.Raw`` results) read by
   ``add_core_raw``'s compiled pass, 100 blocks a batch; Ethereum blocks and each block's
   receipts (one JSON array, as ``eth_getBlockReceipts`` answers) as raw JSON too
   (``EthereumSource.fetch`` asks for ``msgspec.Raw`` results) read by ``add_eth_raw``'s
   compiled pass. Numba compiles those passes once and caches them: the best of
   ``--runs`` leaves the compilation out.
2. **Parsing and loading, against the tools' own export jobs.** A loadable chain in the
   nodes' formats: Bitcoin mainnet's genesis block (the real answer) and ``--btc-blocks``
   - 1 blocks in Bitcoin Core's ``getblock`` (verbosity 3) format built here (coinbase +
   ``--btc-txs`` spending transactions a block, valid P2PKH/P2WPKH addresses); the
   Ethereum fixture blocks and receipts repeated ``--eth-blocks`` times with fresh
   heights and hashes. Both sides read them from the same recorded node
   (``bench/etl_jobs.py``'s ``RecordedNode``), the HTTP POST replaced on both by the same
   reply builder (``etl_jobs.reply``): the answers' bytes as a node's reply body.
   *Ours* is ``chainsleuth ingest btc-rpc`` / ``eth-rpc`` as the CLI runs it (the real
   RPC client, source, syncer and its defaults) into a new store, closed at the end.
   *Theirs* is the tool's own job as its CLI runs it (bitcoin-etl
   ``export_blocks_and_transactions``; ethereum-etl ``export_blocks_and_transactions``,
   ``export_receipts_and_logs`` and ``extract_token_transfers``), batch size 100 and
   their default 5 workers, writing their JSON-lines exports; installed from PyPI with
   pinned dependencies (bench/etl-baseline/*.txt) into a virtualenv each in
   bench/results, run as a subprocess and timed inside it (start-up and imports left
   out, as ours are). Their mappers alone on the same answers are shown for reference.
3. **End to end from a local Ethereum node** (ganache, from npm): ``--ganache-txs``
   transactions (native transfers and ERC-20 transfers, ``--per-block`` a block) made
   first and read once (ganache decodes a block the first time it is read: both runs then
   find the same warm node), then the whole chain ingested into a new store with batched,
   concurrent JSON-RPC, ``--batch-blocks`` blocks an append; the baseline is the same
   ingest with one call per request, one request at a time.

bitcoin-etl and ethereum-etl are not dependencies of chainsleuth. For part 1 (and the
reference line of part 2) their sources are fetched from PyPI with ``pip download`` into
bench/results/etl-baseline (once) and only their pure-Python mappers are imported into this
process; where that fails, the baseline is a straightforward per-row Python conversion
written here, and the output says so. Part 2 installs each tool with its dependencies (once)
into a virtualenv of its own, as their pins conflict with each other and with ours.

    .venv/bin/python bench/ingest.py                 # full size
    .venv/bin/python bench/ingest.py --small         # a quick look
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import base58
import bech32m

from chainsleuth.chain.store import ChainStore
from chainsleuth.ingest.bitcoin import BitcoinCoreSource, UtxoColumns, add_core_raw
from chainsleuth.ingest.columns import gc_paused
from chainsleuth.ingest.ethereum import (
    AccountColumns,
    EthereumSource,
    add_eth_blocks,
    add_eth_raw,
    decode_eth_block,
    decode_eth_receipt,
    decode_eth_receipts,
)
from chainsleuth.ingest.follow import Syncer, SyncOptions
from chainsleuth.ingest.rpc import RpcClient

sys.path.insert(0, str(Path(__file__).resolve().parent))
from etl_jobs import RecordedNode, reply  # noqa: E402 - bench/etl_jobs.py, stdlib only

ROOT = Path(__file__).resolve().parents[1]
FIX = ROOT / "tests" / "ingest" / "fixtures"
BTC_FIX = FIX / "bitcoin-etl" / "test_export_blocks_job" / "bitcoin"
ETH_FIX = FIX / "ethereum-etl"
BASELINE_DIR = ROOT / "bench" / "results" / "etl-baseline"
PACKAGES = {"bitcoin-etl": "1.5.2", "ethereum-etl": "2.4.2"}


# --- the baseline: bitcoin-etl / ethereum-etl from PyPI -------------------------------------


def etl_baseline() -> str | None:
    """Put bitcoin-etl's and ethereum-etl's sources on sys.path; None if they cannot be had."""
    BASELINE_DIR.mkdir(parents=True, exist_ok=True)
    pip = shutil.which("pip3") or shutil.which("pip")
    for name, version in PACKAGES.items():
        folder = BASELINE_DIR / f"{name}-{version}"
        if not folder.exists():
            archive = BASELINE_DIR / f"{name}-{version}.tar.gz"
            if not archive.exists():
                if pip is None:
                    return "pip not found"
                done = subprocess.run(
                    [
                        pip,
                        "download",
                        "--no-deps",
                        "--no-binary",
                        ":all:",
                        "-d",
                        str(BASELINE_DIR),
                        f"{name}=={version}",
                    ],
                    capture_output=True,
                    text=True,
                )
                if done.returncode != 0 or not archive.exists():
                    return f"pip download {name}=={version} failed: {done.stderr.strip()[-200:]}"
            with tarfile.open(archive) as tar:
                tar.extractall(BASELINE_DIR, filter="data")
        sys.path.insert(0, str(folder))
    return None


def theirs_btc() -> Callable[[list[bytes]], int]:
    from bitcoinetl.mappers.block_mapper import BtcBlockMapper  # type: ignore[import-not-found]
    from bitcoinetl.mappers.transaction_mapper import (  # type: ignore[import-not-found]
        BtcTransactionMapper,
    )

    blocks_m, tx_m = BtcBlockMapper(), BtcTransactionMapper()

    def convert(responses: list[bytes]) -> int:
        out = io.StringIO()
        n = 0
        for raw in responses:
            block = blocks_m.json_dict_to_block(json.loads(raw, parse_float=Decimal))
            out.write(json.dumps(blocks_m.block_to_dict(block)) + "\n")
            for tx in block.transactions:
                out.write(json.dumps(tx_m.transaction_to_dict(tx)) + "\n")
                n += 1
        return n

    return convert


def theirs_eth() -> Callable[[list[tuple[bytes, Any]]], int]:
    from ethereumetl.mappers.block_mapper import EthBlockMapper  # type: ignore[import-not-found]
    from ethereumetl.mappers.receipt_log_mapper import (  # type: ignore[import-not-found]
        EthReceiptLogMapper,
    )
    from ethereumetl.mappers.receipt_mapper import EthReceiptMapper  # type: ignore[import-not-found]
    from ethereumetl.mappers.token_transfer_mapper import (  # type: ignore[import-not-found]
        EthTokenTransferMapper,
    )
    from ethereumetl.mappers.transaction_mapper import (  # type: ignore[import-not-found]
        EthTransactionMapper,
    )
    from ethereumetl.service.token_transfer_extractor import (  # type: ignore[import-not-found]
        EthTokenTransferExtractor,
    )

    bm, tm, rm, lm = (
        EthBlockMapper(),
        EthTransactionMapper(),
        EthReceiptMapper(),
        EthReceiptLogMapper(),
    )
    ttm, tte = EthTokenTransferMapper(), EthTokenTransferExtractor()

    def convert(responses: list[tuple[bytes, Any]]) -> int:
        out = io.StringIO()
        n = 0
        for raw_block, raw_receipts in responses:
            block = bm.json_dict_to_block(json.loads(raw_block))
            out.write(json.dumps(bm.block_to_dict(block)) + "\n")
            for tx in block.transactions:
                out.write(json.dumps(tm.transaction_to_dict(tx)) + "\n")
                n += 1
            for receipt_dict in _receipt_dicts(raw_receipts):
                receipt = rm.json_dict_to_receipt(receipt_dict)
                out.write(json.dumps(rm.receipt_to_dict(receipt)) + "\n")
                for log in receipt.logs:
                    out.write(json.dumps(lm.receipt_log_to_dict(log)) + "\n")
                    transfer = tte.extract_transfer_from_log(log)
                    if transfer is not None:
                        out.write(json.dumps(ttm.token_transfer_to_dict(transfer)) + "\n")
        return n

    return convert


def plain_btc(responses: list[bytes]) -> int:
    """The fallback baseline: one dict per row, the straightforward way."""
    out = io.StringIO()
    n = 0
    for raw in responses:
        block = json.loads(raw, parse_float=Decimal)
        out.write(json.dumps({"hash": block["hash"], "number": block["height"]}) + "\n")
        for i, tx in enumerate(block["tx"]):
            row = {
                "hash": tx["txid"],
                "block_number": block["height"],
                "index": i,
                "outputs": [
                    {
                        "index": o["n"],
                        "value": int(o["value"] * 100_000_000),
                        "type": o["scriptPubKey"].get("type"),
                        "addresses": [o["scriptPubKey"]["address"]]
                        if "address" in o["scriptPubKey"]
                        else o["scriptPubKey"].get("addresses", []),
                    }
                    for o in tx["vout"]
                ],
                "inputs": [
                    {"spent_transaction_hash": x.get("txid"), "spent_output_index": x.get("vout")}
                    for x in tx["vin"]
                ],
            }
            out.write(json.dumps(row) + "\n")
            n += 1
    return n


def plain_eth(responses: list[tuple[bytes, Any]]) -> int:
    out = io.StringIO()
    n = 0
    for raw_block, raw_receipts in responses:
        block = json.loads(raw_block)
        receipts = _receipt_dicts(raw_receipts)
        for tx, r in zip(block["transactions"], receipts, strict=True):
            row = {k: tx.get(k) for k in ("hash", "from", "to", "nonce")}
            row["value"] = int(tx["value"], 16)
            row["gas_used"] = int(r["gasUsed"], 16)
            row["status"] = int(r["status"], 16) if r.get("status") else None
            out.write(json.dumps(row) + "\n")
            n += 1
    return n


# --- ours ---------------------------------------------------------------------------------------


BATCH_BLOCKS = 100  # the ingester's default --batch-blocks: one Arrow batch per 100 blocks


def ours_btc(responses: list[bytes]) -> int:
    n = 0
    for i in range(0, len(responses), BATCH_BLOCKS):
        cols = UtxoColumns()
        # the answers' JSON bytes, as BitcoinCoreSource.fetch has them from the RPC client
        add_core_raw(cols, responses[i : i + BATCH_BLOCKS])
        cols.block_range(0, 0).tables  # noqa: B018 - build the Arrow tables
        n += cols.tx_count
    return n


def _receipt_dicts(raw: bytes | list[bytes]) -> list[Any]:
    """A block's receipts: one JSON array (eth_getBlockReceipts) or one text each."""
    return json.loads(raw) if isinstance(raw, bytes) else [json.loads(r) for r in raw]


def _receipts(raw: bytes | list[bytes]) -> list[Any]:
    return (
        decode_eth_receipts(raw) if isinstance(raw, bytes) else list(map(decode_eth_receipt, raw))
    )


def ours_eth(responses: list[tuple[bytes, Any]]) -> int:
    n = 0
    for i in range(0, len(responses), BATCH_BLOCKS):
        chunk = responses[i : i + BATCH_BLOCKS]
        cols = AccountColumns()
        if isinstance(chunk[0][1], bytes):
            # the answers' JSON bytes, as EthereumSource.fetch has them from the RPC client
            add_eth_raw(cols, [b for b, _ in chunk], [r for _, r in chunk])
        else:
            with gc_paused():  # as the RPC client decodes a batch reply
                blocks = [decode_eth_block(raw_block) for raw_block, _ in chunk]
                receipts = [_receipts(raw_receipts) for _, raw_receipts in chunk]
            add_eth_blocks(cols, blocks, receipts)
        cols.block_range(0, 0)
        n += cols.tx_count
    return n


class ReplayClient(RpcClient):
    """chainsleuth's RPC client with the HTTP POST replaced, as bitcoin-etl's and
    ethereum-etl's ``make_post_request`` is on their side: a batch request is answered
    with the recorded answers' bytes (``etl_jobs.reply``); the rest is the client's own."""

    def __init__(self, node: RecordedNode) -> None:
        super().__init__("http://node.invalid:8332")
        self.node = node

    def _post_once(self, body: bytes) -> bytes:
        return reply(body, self.node.answer)


def ours_ingest(node: RecordedNode, root: Path) -> int:
    """``chainsleuth ingest btc-rpc`` / ``eth-rpc`` of the node's blocks into a new store:
    the real source, syncer and store, with their defaults."""
    with ReplayClient(node) as client, ChainStore(root) as store:
        source = BitcoinCoreSource(client) if node.chain == "btc" else EthereumSource(client)
        return Syncer(store, source, SyncOptions(from_block=node.first)).run().txs


ETL_REQUIREMENTS = ROOT / "bench" / "etl-baseline"


def etl_venv(name: str) -> Path | str:
    """The Python of a virtualenv holding ``name`` (bitcoin-etl or ethereum-etl) installed
    from PyPI with the pinned dependencies of bench/etl-baseline/NAME.txt (made once, kept
    in bench/results); a reason where it cannot be made."""
    folder = BASELINE_DIR / f"venv-{name}-{PACKAGES[name]}"
    python = folder / "bin" / "python"
    stamp = folder / ".installed"
    requirements = ETL_REQUIREMENTS / f"{name}.txt"
    if stamp.exists() and stamp.read_text() == requirements.read_text():
        return python
    shutil.rmtree(folder, ignore_errors=True)
    steps = [
        [sys.executable, "-m", "venv", str(folder)],
        [str(python), "-m", "pip", "install", "-q", "--no-deps", "-r", str(requirements)],
    ]
    for step in steps:
        done = subprocess.run(step, capture_output=True, text=True)
        if done.returncode != 0:
            return f"{' '.join(step[:4])} failed: {done.stderr.strip()[-300:]}"
    stamp.write_text(requirements.read_text())
    return python


def theirs_job(python: Path, inputs: Path, out: Path) -> tuple[int, float, float]:
    """(transactions, wall-clock s, CPU s) of the tool's own export job over the recorded
    answers, timed inside its process (its start-up and imports left out, as ours are)."""
    chain = json.loads((inputs / "meta.json").read_text())["chain"]
    done = subprocess.run(
        [str(python), str(ROOT / "bench" / "etl_jobs.py"), chain, str(inputs), str(out)]
        + ["1", "100", "5"],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise SystemExit(f"{chain} baseline job failed:\n{done.stderr[-2000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return result["txs"], result["wall"][0], result["cpu"][0]


def write_node(
    folder: Path, chain: str, first: int, blocks: list[bytes], receipts: list[list[bytes]] | None
) -> Path:
    """The answers in etl_jobs.RecordedNode's files."""
    folder.mkdir(parents=True)
    (folder / "meta.json").write_text(json.dumps({"chain": chain, "first": first}))
    (folder / "blocks.jsonl").write_bytes(b"\n".join(blocks) + b"\n")
    if receipts is not None:
        with (folder / "receipts.jsonl").open("wb") as f:
            for k, block_receipts in enumerate(receipts):
                for raw in block_receipts:
                    tx_hash = json.loads(raw)["transactionHash"]
                    f.write(b"%d %s %s\n" % (first + k, tx_hash.encode(), raw))
    return folder


def ingest_vs_jobs(
    chain: str, node_dir: Path, python: Path | str, runs: int, mappers: Callable[[], int]
) -> None:
    """Ours (ingest into a new store) and theirs (their export job), ``runs`` times in
    turn; the best of each; then their mappers alone, for reference."""
    node = RecordedNode(node_dir)
    best, best_cpu, counts = [float("inf")] * 2, [float("inf")] * 2, [0, 0]
    for _ in range(max(1, runs)):
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp) / "chains"
            counts[0], seconds, cpu = timed(lambda: ours_ingest(node, root))  # noqa: B023
        best[0], best_cpu[0] = min(best[0], seconds), min(best_cpu[0], cpu)
        if isinstance(python, Path):
            with tempfile.TemporaryDirectory() as tmp:
                counts[1], seconds, cpu = theirs_job(python, node_dir, Path(tmp))
            best[1], best_cpu[1] = min(best[1], seconds), min(best_cpu[1], cpu)
    blocks = node.last - node.first + 1
    tool = "bitcoin-etl" if chain == "btc" else "ethereum-etl"
    ours = line(
        f"{chain}: chainsleuth ingest into a store ({blocks:,} blocks)",
        counts[0],
        best[0],
        best_cpu[0],
    )
    if isinstance(python, Path):
        theirs = line(f"{chain}: {tool} export job (JSON files)", counts[1], best[1], best_cpu[1])
        ratio(chain, ours, theirs)
    else:
        print(f"  {chain}: {tool}'s own job not run: {python}")
    n, s, c = timed(mappers)
    theirs = line(f"{chain}: {tool}'s mappers alone (no job, client, exporter)", n, s, c)
    ratio(chain, ours, theirs)


# --- inputs -----------------------------------------------------------------------------------


def _result(path: Path) -> Any:
    data = json.loads(path.read_text(), parse_float=Decimal)
    return data["result"] if isinstance(data, dict) and "jsonrpc" in data else data


def _dumps(value: Any) -> bytes:
    return json.dumps(value, default=lambda d: float(d)).encode()


def btc_fixture_responses() -> list[bytes]:
    out = []
    for case, heights in [
        ("block_0", [0]),
        ("block_1", [1]),
        ("block_without_transactions", [50000]),
        ("block_with_transactions", [50001, 50002]),
    ]:
        for h in heights:
            block_hash = _result(BTC_FIX / case / f"rpc_response_getblockhash_{h}.json")
            out.append(
                _dumps(_result(BTC_FIX / case / f"rpc_response_getblock_{block_hash}_2.json"))
            )
    return out


def eth_fixture_responses() -> list[tuple[bytes, list[bytes]]]:
    cases = [
        (ETH_FIX / "test_stream" / "blocks_1755634_1755635", 1755634, None),
        (ETH_FIX / "test_stream" / "blocks_1755634_1755635", 1755635, None),
        (
            ETH_FIX / "test_export_blocks_job" / "block_with_logs",
            483920,
            ETH_FIX / "test_export_receipts_job" / "receipts_with_logs",
        ),
    ]
    out = []
    for folder, height, receipts_folder in cases:
        block = _result(folder / f"web3_response.eth_getBlockByNumber_{hex(height)}_true.json")
        rfolder = receipts_folder or folder
        receipts = [
            _dumps(_result(rfolder / f"web3_response.eth_getTransactionReceipt_{tx['hash']}.json"))
            for tx in block["transactions"]
        ]
        out.append((_dumps(block), receipts))
    return out


def _hash(*parts: object) -> str:
    return hashlib.sha256(repr(parts).encode()).hexdigest()


def eth_chain(
    templates: list[tuple[bytes, list[bytes]]], blocks: int, first: int
) -> list[tuple[bytes, list[bytes]]]:
    """The template blocks over and over, with fresh heights, block and transaction hashes."""
    out = []
    parent = "0x" + _hash("genesis")
    for i in range(blocks):
        raw_block, raw_receipts = templates[i % len(templates)]
        block = json.loads(raw_block)
        height = first + i
        block.update(number=hex(height), hash="0x" + _hash("b", height), parentHash=parent)
        parent = block["hash"]
        receipts = [json.loads(r) for r in raw_receipts]
        for tx, r in zip(block["transactions"], receipts, strict=True):
            new = "0x" + _hash("t", height, tx["hash"])
            tx["hash"] = r["transactionHash"] = new
            r["blockHash"] = block["hash"]
            for log in r.get("logs") or []:
                log["transactionHash"] = new
        out.append((json.dumps(block).encode(), [json.dumps(r).encode() for r in receipts]))
    return out


def btc_chain(blocks: int, txs_per_block: int) -> list[bytes]:
    """Bitcoin Core getblock (verbosity 3) answers of a chain whose transactions each spend
    one earlier output into two (a payment and change), with valid addresses: mainnet's
    genesis block (the real answer, so that the ingester takes the node for mainnet), then
    ``blocks - 1`` blocks made here."""
    addresses = [
        base58.b58encode_check(b"\x00" + hashlib.sha256(b"a%d" % i).digest()[:20]).decode()
        if i % 2
        else bech32m.encode("bc", 0, list(hashlib.sha256(b"w%d" % i).digest()[:20]))
        for i in range(2000)
    ]

    def spk(i: int) -> dict[str, Any]:
        a = addresses[i % len(addresses)]
        return {"type": "witness_v0_keyhash" if a.startswith("bc1") else "pubkeyhash", "address": a}

    unspent: list[tuple[str, int, int, dict[str, Any]]] = []  # txid, n, sat, spk
    genesis = btc_fixture_responses()[0]
    out = [genesis]
    prev = json.loads(genesis)["hash"]
    k = 0
    for height in range(1, blocks):
        txs = []
        cb_id = _hash("cb", height)
        cb_spk = spk(k)
        k += 1
        txs.append(
            {
                "txid": cb_id,
                "hash": cb_id,
                "version": 1,
                "size": 120,
                "vsize": 120,
                "locktime": 0,
                "vin": [{"coinbase": "04ffff001d", "sequence": 4294967295}],
                "vout": [{"n": 0, "value": Decimal(50), "scriptPubKey": cb_spk}],
            }
        )
        spendable = unspent[:txs_per_block]
        del unspent[: len(spendable)]
        created = []
        for txid_in, n_in, sat, prev_spk in spendable:
            txid = _hash("tx", height, txid_in, n_in)
            fee = 1000
            pay = (sat - fee) // 2
            change = sat - fee - pay
            a, b = spk(k), spk(k + 1)
            k += 2
            txs.append(
                {
                    "txid": txid,
                    "hash": txid,
                    "version": 2,
                    "size": 225,
                    "vsize": 144,
                    "locktime": 0,
                    "fee": Decimal(fee) / 100_000_000,
                    "vin": [
                        {
                            "txid": txid_in,
                            "vout": n_in,
                            "sequence": 4294967295,
                            "prevout": {
                                "value": Decimal(sat) / 100_000_000,
                                "scriptPubKey": prev_spk,
                            },
                        }
                    ],
                    "vout": [
                        {"n": 0, "value": Decimal(pay) / 100_000_000, "scriptPubKey": a},
                        {"n": 1, "value": Decimal(change) / 100_000_000, "scriptPubKey": b},
                    ],
                }
            )
            created += [(txid, 0, pay, a), (txid, 1, change, b)]
        unspent += [(cb_id, 0, 50 * 100_000_000, cb_spk), *created]
        block_hash = _hash("block", height)
        out.append(
            _dumps(
                {
                    "hash": block_hash,
                    "height": height,
                    "previousblockhash": prev,
                    "time": 1231006505 + 600 * height,
                    "version": 1,
                    "nonce": height,
                    "bits": "1d00ffff",
                    "size": 1000,
                    "strippedsize": 1000,
                    "weight": 4000,
                    "merkleroot": block_hash,
                    "tx": txs,
                }
            )
        )
        prev = block_hash
    return out


# --- measuring ----------------------------------------------------------------------------------


def timed(fn: Callable[[], int]) -> tuple[int, float, float]:
    """(result, wall-clock seconds, CPU seconds of this process)."""
    t0, c0 = time.perf_counter(), time.process_time()
    n = fn()
    return n, time.perf_counter() - t0, time.process_time() - c0


def line(label: str, txs: int, seconds: float, cpu: float | None = None) -> tuple[float, float]:
    """Prints wall-clock and CPU figures (the machine may be shared: CPU seconds say what
    the work itself cost); returns (tx/s by wall-clock, tx/s by CPU)."""
    rate = txs / seconds if seconds > 0 else float("inf")
    cpu_rate = txs / cpu if cpu else float("nan")
    cpu_text = "" if cpu is None else f" {cpu:>7.2f} s CPU {cpu_rate:>10,.0f} tx/CPU-s"
    print(f"  {label:<52} {txs:>9,} txs {seconds:>7.2f} s {rate:>10,.0f} tx/s{cpu_text}")
    return rate, cpu_rate


def ratio(chain: str, ours: tuple[float, float], theirs: tuple[float, float]) -> None:
    print(
        f"  {chain}: {ours[0] / theirs[0]:.1f}x the baseline by wall-clock, "
        f"{ours[1] / theirs[1]:.1f}x by CPU time"
    )


def compare(
    chain: str,
    ours: tuple[str, Callable[[], int]],
    theirs: tuple[str, Callable[[], int]],
    runs: int,
) -> None:
    """Both, ``runs`` times in turn (so that both see the same load); the best of each."""
    best = [float("inf"), float("inf")]
    best_cpu = [float("inf"), float("inf")]
    counts = [0, 0]
    for _ in range(max(1, runs)):
        for k, (_label, fn) in enumerate((ours, theirs)):
            counts[k], seconds, cpu = timed(fn)
            best[k] = min(best[k], seconds)
            best_cpu[k] = min(best_cpu[k], cpu)
    rate_ours = line(f"{chain}: {ours[0]}", counts[0], best[0], best_cpu[0])
    rate_theirs = line(f"{chain}: {theirs[0]}", counts[1], best[1], best_cpu[1])
    ratio(chain, rate_ours, rate_theirs)


def ganache_chain(node: Any, n_txs: int, per_block: int) -> None:
    """``n_txs`` transactions on ``node``: native and ERC-20 transfers, ``per_block`` a block."""
    sys.path.insert(0, str(ROOT / "tests" / "ingest"))
    from ingest_helpers import deploy_test_token, transfer_data  # noqa: PLC0415

    a = node.accounts()
    deploy = node.send(
        from_=a[0], data=deploy_test_token("Bench USD", "BUSD", 6, 10**15), gas=3_000_000
    )
    token = node.receipt(deploy)["contractAddress"]
    for i in range(1, 20):  # every account holds some tokens
        node.send(from_=a[0], to=token, data=transfer_data(a[i], 10**12), gas=100_000)
    t0 = time.perf_counter()
    node.rpc("miner_stop")
    sent = 0
    while sent < n_txs:
        calls = []
        for j in range(min(per_block, n_txs - sent)):
            i = sent + j
            frm, to = a[i % 20], a[(i * 7 + 3) % 20]
            if i % 3 == 0:
                tx = {
                    "from": frm,
                    "to": token,
                    "data": transfer_data(to, 1 + i),
                    "gas": hex(100_000),
                }
            else:
                tx = {"from": frm, "to": to, "value": hex(1000 + i), "gas": hex(21_000)}
            calls.append(("eth_sendTransaction", [tx]))
        node.rpc_batch(calls)
        node.rpc("evm_mine")
        sent += len(calls)
    node.rpc("miner_start")
    tip = node.block_number()
    made = time.perf_counter() - t0
    print(f"  ganache: {sent:,} txs made in {made:.1f} s, a chain of {tip + 1} blocks")


def ganache_e2e(n_txs: int, per_block: int, batch_blocks: int) -> None:
    sys.path.insert(0, str(ROOT / "tests"))
    from harness.ganache import Ganache  # noqa: PLC0415

    with Ganache(accounts=20, block_gas_limit=2_000_000_000) as node:
        ganache_chain(node, n_txs, per_block)

        # ganache decodes a block from its database the first time it is read, and keeps it:
        # the first ingest finds a cold node; the two after it (ours, the baseline) the same
        # warm one
        runs = [
            (f"chainsleuth, cold node (--batch-blocks {batch_blocks})", 100, 4),
            (f"chainsleuth ingest eth-rpc (--batch-blocks {batch_blocks})", 100, 4),
            ("baseline: one call per request, one at a time", 1, 1),
        ]
        for label, batch_size, concurrency in runs:
            with tempfile.TemporaryDirectory() as tmp:
                client = RpcClient(node.url, batch_size=batch_size, concurrency=concurrency)
                with ChainStore(Path(tmp) / "chains") as store:
                    t0, c0 = time.perf_counter(), time.process_time()
                    report = Syncer(
                        store, EthereumSource(client), SyncOptions(batch_blocks=batch_blocks)
                    ).run()
                    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
                client.close()
                # (CPU: this process only; ganache's own work is in node's process)
                line(label + f" [{client.posts:,} POSTs]", report.txs, seconds, cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=4000, help="fixture responses repeated")
    parser.add_argument("--btc-blocks", type=int, default=1000)
    parser.add_argument("--btc-txs", type=int, default=100, help="spending txs per block")
    parser.add_argument("--eth-blocks", type=int, default=100_000)
    parser.add_argument("--ganache-txs", type=int, default=5000)
    parser.add_argument("--per-block", type=int, default=250)
    parser.add_argument("--batch-blocks", type=int, default=10, help="ganache: blocks a batch")
    parser.add_argument("--runs", type=int, default=5, help="parse runs (the best is shown)")
    parser.add_argument("--load-runs", type=int, default=3, help="ingest runs (the best)")
    parser.add_argument("--small", action="store_true", help="a tenth of every size")
    args = parser.parse_args()
    if args.small:
        args.repeat //= 10
        args.btc_blocks //= 10
        args.eth_blocks //= 10
        args.ganache_txs //= 5
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    problem = etl_baseline()
    if problem is None:
        btc_base, eth_base = theirs_btc(), theirs_eth()
        versions = " / ".join(f"{k} {v}" for k, v in PACKAGES.items())
        base = f"{versions}: their mappers + JSON export"
    else:
        btc_base, eth_base = plain_btc, plain_eth
        base = f"per-row Python conversion (blockchain-etl unavailable: {problem})"
    print(f"baseline: {base}")

    print(
        f"\n1. real fixture responses, parsed only, against the tools' mappers alone "
        f"({args.repeat:,} repeats; the best of {args.runs} runs each, taken in turn; the "
        "10x target is part 2's: the tools themselves)"
    )
    btc = btc_fixture_responses() * args.repeat
    compare(
        "btc",
        ("chainsleuth (Core JSON -> Arrow batch)", lambda: ours_btc(btc)),
        ("baseline (Core JSON -> export)", lambda: btc_base(btc)),
        args.runs,
    )
    # each block's receipts as one JSON array, as eth_getBlockReceipts answers (and as a
    # batch of eth_getTransactionReceipt replies is one array to decode)
    eth = [
        (raw_block, b"[" + b",".join(raw_receipts) + b"]")
        for raw_block, raw_receipts in eth_fixture_responses()
    ] * args.repeat
    compare(
        "eth",
        ("chainsleuth (blocks+receipts -> Arrow batch)", lambda: ours_eth(eth)),
        ("baseline (blocks+receipts -> export)", lambda: eth_base(eth)),
        args.runs,
    )

    print(
        "\n2. a loadable chain, ingested into a store, against the tools' own export jobs "
        f"(the best of {args.load_runs} runs each, taken in turn; target 10x)"
    )
    chain = btc_chain(args.btc_blocks, args.btc_txs)
    echain = eth_chain(eth_fixture_responses(), args.eth_blocks, 1_000_000)
    eth_answers = [(rb, b"[" + b",".join(rr) + b"]") for rb, rr in echain]
    with tempfile.TemporaryDirectory() as tmp:
        btc_dir = write_node(Path(tmp) / "btc", "btc", 0, chain, None)
        eth_dir = write_node(
            Path(tmp) / "eth", "eth", 1_000_000, [rb for rb, _ in echain], [rr for _, rr in echain]
        )
        del echain
        ingest_vs_jobs(
            "btc", btc_dir, etl_venv("bitcoin-etl"), args.load_runs, lambda: btc_base(chain)
        )
        ingest_vs_jobs(
            "eth", eth_dir, etl_venv("ethereum-etl"), args.load_runs, lambda: eth_base(eth_answers)
        )

    print(f"\n3. end to end from ganache ({args.ganache_txs:,} txs, target 2,000 tx/s)")
    ganache_e2e(args.ganache_txs, args.per_block, args.batch_blocks)
    print(f"\nload average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
