"""bitcoin-etl's and ethereum-etl's own export jobs over recorded JSON-RPC answers.

``bench/ingest.py`` runs this file with the Python of a virtualenv that holds the tool as
installed from PyPI with its dependencies (bitcoin-etl and ethereum-etl pin conflicting
versions, and neither is a dependency of chainsleuth, hence a virtualenv each). Nothing of
chainsleuth is imported here: only the standard library and the tool.

The tool runs its own job, as its CLI does (``bitcoinetl export_blocks_and_transactions``;
``ethereumetl export_blocks_and_transactions``, then ``export_receipts_and_logs`` for the
transactions' hashes, then ``extract_token_transfers`` from the logs), with its own RPC
client, batch executor and item exporters writing JSON-lines files. The one thing replaced
is the HTTP POST: ``make_post_request`` answers each batch request with the recorded
answers' bytes, as a node's reply body would be. The answers are indexed before the clock
starts; each timed run writes into a new folder.

    python bench/etl_jobs.py btc INPUT_DIR OUT_DIR RUNS BATCH WORKERS

prints one JSON line: {"txs": N, "wall": [...], "cpu": [...]} (seconds, one per run).
INPUT_DIR holds ``meta.json`` (``{"chain", "first"}``), ``blocks.jsonl`` (one ``getblock``
/ ``eth_getBlockByNumber`` answer a line, heights from ``first``) and, for eth,
``receipts.jsonl`` (``<height> <tx hash> <receipt JSON>`` a line). ``RecordedNode`` and
``reply`` answer chainsleuth's side of the benchmark too (bench/ingest.py imports them).
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from pathlib import Path

GENESIS = {
    "btc": "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f",
    "eth": "0xd4e56740f876aef8c010b86a40d5f56745a118d0906a34e69aec8a0dee1cb3fa",
}


class RecordedNode:
    """A node's answers, recorded: ``answer(method, params)`` is a result's JSON bytes, or
    None for a method it does not have. Both sides of the benchmark ask this one."""

    def __init__(self, inputs: Path) -> None:
        meta = json.loads((inputs / "meta.json").read_text())
        self.chain, self.first = meta["chain"], meta["first"]
        self.blocks = (inputs / "blocks.jsonl").read_bytes().splitlines()
        self.last = self.first + len(self.blocks) - 1
        self.by_hash: dict[str, bytes] = {}
        self.hash_of: dict[int, bytes] = {}
        self.receipts: dict[str, bytes] = {}
        self.block_receipts: dict[int, bytes] = {}
        # anything else (eth_call, trace methods, ...): "the method does not exist"
        self.handlers = {
            "getblock": lambda p: self.by_hash[p[0]],
            "getblockhash": lambda p: self.hash_of[p[0]],
            "getblockcount": lambda p: str(self.last).encode(),
            "eth_getBlockByNumber": self._eth_block,
            "eth_getTransactionReceipt": lambda p: self.receipts[p[0]],
            "eth_getBlockReceipts": lambda p: self.block_receipts[int(p[0], 16)],
            "eth_blockNumber": lambda p: json.dumps(hex(self.last)).encode(),
            "eth_chainId": lambda p: b'"0x1"',
        }
        if self.chain == "btc":
            for k, raw in enumerate(self.blocks):
                h = json.loads(raw)["hash"]
                self.by_hash[h] = raw
                self.hash_of[self.first + k] = json.dumps(h).encode()
            return
        per_block: dict[int, list[bytes]] = {}
        for line in (inputs / "receipts.jsonl").read_bytes().splitlines():
            height, tx_hash, raw = line.split(b" ", 2)
            self.receipts[tx_hash.decode()] = raw
            per_block.setdefault(int(height), []).append(raw)
        for h in range(self.first, self.last + 1):
            self.block_receipts[h] = b"[" + b",".join(per_block.get(h, [])) + b"]"

    def answer(self, method: str, params: list) -> bytes | None:  # type: ignore[type-arg]
        handler = self.handlers.get(method)
        return None if handler is None else handler(params)

    def _eth_block(self, params: list) -> bytes:  # type: ignore[type-arg]
        h = int(params[0], 16)
        if h < self.first:
            if h == 0:
                return json.dumps({"number": "0x0", "hash": GENESIS["eth"]}).encode()
            return b"null"
        return self.blocks[h - self.first] if h <= self.last else b"null"


def reply(body: bytes, answer) -> bytes:  # type: ignore[no-untyped-def]
    """The reply body a node sends to the JSON-RPC request ``body`` (a batch, or one call),
    made with one copy of each answer."""
    calls = json.loads(body)
    batch = isinstance(calls, list)
    parts = [b"["] if batch else []
    for c in calls if batch else [calls]:
        i = c.get("id")
        rid = str(i).encode() if type(i) is int else json.dumps(i).encode()
        result = answer(c["method"], c.get("params") or [])
        parts.append(b'{"jsonrpc":"2.0","id":' if len(parts) < 2 else b',{"jsonrpc":"2.0","id":')
        parts.append(rid)
        if result is None:
            parts.append(
                b',"error":{"code":-32601,"message":"the method does not exist/is not available"}}'
            )
        else:
            parts += (b',"result":', result, b"}")
    if batch:
        parts.append(b"]")
    return b"".join(parts)


def bitcoin(inputs: Path, out: Path, runs: int, batch: int, workers: int) -> dict[str, object]:
    from bitcoinetl.enumeration.chain import Chain
    from bitcoinetl.jobs.export_blocks_job import ExportBlocksJob
    from bitcoinetl.jobs.exporters.blocks_and_transactions_item_exporter import (
        blocks_and_transactions_item_exporter,
    )
    from bitcoinetl.rpc import bitcoin_rpc

    node = RecordedNode(inputs)
    first, last = node.first, node.last

    def post(uri: str, data: bytes, **_kw: object) -> bytes:
        return reply(data, node.answer)

    bitcoin_rpc.make_post_request = post
    return _timed(
        runs,
        out,
        lambda folder: ExportBlocksJob(
            start_block=first,
            end_block=last,
            batch_size=batch,
            bitcoin_rpc=bitcoin_rpc.BitcoinRpc("http://node.invalid:8332"),
            max_workers=workers,
            item_exporter=blocks_and_transactions_item_exporter(
                str(folder / "blocks.json"), str(folder / "transactions.json")
            ),
            chain=Chain.BITCOIN,
            export_blocks=True,
            export_transactions=True,
        ).run(),
        lambda folder: _lines(folder / "transactions.json"),
    )


def ethereum(inputs: Path, out: Path, runs: int, batch: int, workers: int) -> dict[str, object]:
    from ethereumetl.jobs.export_blocks_job import ExportBlocksJob
    from ethereumetl.jobs.export_receipts_job import ExportReceiptsJob
    from ethereumetl.jobs.exporters.blocks_and_transactions_item_exporter import (
        blocks_and_transactions_item_exporter,
    )
    from ethereumetl.jobs.exporters.receipts_and_logs_item_exporter import (
        receipts_and_logs_item_exporter,
    )
    from ethereumetl.jobs.exporters.token_transfers_item_exporter import (
        token_transfers_item_exporter,
    )
    from ethereumetl.jobs.extract_token_transfers_job import ExtractTokenTransfersJob
    from ethereumetl.providers import rpc
    from ethereumetl.providers.rpc import BatchHTTPProvider

    node = RecordedNode(inputs)
    first, last = node.first, node.last

    def post(uri: str, data: bytes, **_kw: object) -> bytes:
        return reply(data, node.answer)

    rpc.make_post_request = post

    def run(folder: Path) -> None:
        provider = BatchHTTPProvider("http://node.invalid:8545")
        txs_file, logs_file = folder / "transactions.json", folder / "logs.json"
        ExportBlocksJob(
            start_block=first,
            end_block=last,
            batch_size=batch,
            batch_web3_provider=provider,
            max_workers=workers,
            item_exporter=blocks_and_transactions_item_exporter(
                str(folder / "blocks.json"), str(txs_file)
            ),
            export_blocks=True,
            export_transactions=True,
        ).run()
        # as ``export_all``: the transactions' hashes, then their receipts and logs
        with txs_file.open() as f:
            hashes = [json.loads(line)["hash"] for line in f]
        ExportReceiptsJob(
            transaction_hashes_iterable=hashes,
            batch_size=batch,
            batch_web3_provider=provider,
            max_workers=workers,
            item_exporter=receipts_and_logs_item_exporter(
                str(folder / "receipts.json"), str(logs_file)
            ),
            export_receipts=True,
            export_logs=True,
        ).run()
        with logs_file.open() as f:
            logs = [json.loads(line) for line in f]
        ExtractTokenTransfersJob(
            logs_iterable=logs,
            batch_size=batch,
            max_workers=workers,
            item_exporter=token_transfers_item_exporter(str(folder / "token_transfers.json")),
        ).run()

    return _timed(runs, out, run, lambda folder: _lines(folder / "transactions.json"))


def _lines(path: Path) -> int:
    with path.open("rb") as f:
        return sum(1 for _ in f)


def _timed(runs: int, out: Path, run, count) -> dict[str, object]:  # type: ignore[no-untyped-def]
    wall, cpu, txs = [], [], 0
    for k in range(runs):
        folder = out / f"run{k}"
        folder.mkdir(parents=True)
        t0, c0 = time.perf_counter(), time.process_time()
        run(folder)
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
        txs = count(folder)
        shutil.rmtree(folder)
    return {"txs": txs, "wall": wall, "cpu": cpu}


def main() -> None:
    chain, inputs, out, runs, batch, workers = sys.argv[1:7]
    job = bitcoin if chain == "btc" else ethereum
    result = job(Path(inputs), Path(out), int(runs), int(batch), int(workers))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
