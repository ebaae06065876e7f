"""blockchain-etl export files (bitcoin-etl, ethereum-etl) as a source, for offline loads.

``PATH`` is one file or a folder of them. Each file is JSON lines or CSV; what a file holds
is told by the ``type`` field of its JSON lines (the ``stream`` command's output) or else by
its name: ``blocks``, ``transactions``, ``receipts``, ``token_transfers``, ``tokens`` or
``logs``, optionally with a prefix (``expected_blocks.json``, ``0001_transactions.csv``).
Other files (saved node responses, notes) are left alone.

Bitcoin (bitcoin-etl ``export_blocks_and_transactions``): ``blocks.json`` and
``transactions.json`` with nested ``inputs`` and ``outputs`` (values in satoshi). Input
values are used when the export was enriched, else the store resolves them. bitcoin-etl's
blocks carry no parent hash; links are then checked by the store's spent outputs only.
Pseudo-addresses that bitcoin-etl makes up for non-standard scripts (``nonstandard...``)
are not addresses and are dropped, as are P2PK public keys (see ``ingest.bitcoin``).

Ethereum (ethereum-etl ``export_blocks_and_transactions``, ``export_receipts_and_logs``,
``export_token_transfers`` / ``extract_token_transfers``, ``export_tokens``, or
``stream``): blocks, transactions, and their receipts, either as ``receipt_*`` fields of
the transactions (``stream``) or in a receipts file; token transfers from a
token_transfers file or else extracted from a logs file; token metadata from a tokens file;
internal transfers from a traces file (``export_traces``, or ``export_geth_traces`` +
``extract_geth_traces``), see ``ingest.traces``.
"""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from chainsleuth.chain.addresses import canonical_hash
from chainsleuth.chain.batch import BlockRange
from chainsleuth.chain.chains import get_chain
from chainsleuth.chain.enums import ChainKind
from chainsleuth.ingest.bitcoin import _NONSTANDARD, _SCRIPT_TYPES, UtxoColumns
from chainsleuth.ingest.ethereum import AccountColumns, _address, add_log_transfer
from chainsleuth.ingest.rpc import MalformedResponse
from chainsleuth.ingest.traces import etl_traces, stored_transfers

KINDS = ("blocks", "transactions", "receipts", "token_transfers", "tokens", "logs", "traces")
_TYPE_FIELD = {
    "block": "blocks",
    "transaction": "transactions",
    "receipt": "receipts",
    "token_transfer": "token_transfers",
    "token": "tokens",
    "log": "logs",
    "trace": "traces",
}


def _kind_of(path: Path) -> str | None:
    stem = path.name.split(".")[0]
    for kind in sorted(KINDS, key=len, reverse=True):
        if stem == kind or stem.endswith("_" + kind):
            return kind
    return None


def _files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    if path.is_dir():
        return sorted(
            p for p in path.iterdir() if p.is_file() and p.suffix.lower() in (".json", ".csv")
        )
    raise MalformedResponse(f"no such file or folder: {path}")


def _typed_lines(path: Path) -> bool:
    """Whether a JSON file is ``stream`` output: lines of objects with a known ``type``."""
    with path.open() as fh:
        first = fh.readline()
    try:
        record = json.loads(first)
    except ValueError:
        return False
    return isinstance(record, dict) and record.get("type") in _TYPE_FIELD


def read_records(path: Path) -> dict[str, list[dict[str, Any]]]:
    """Every record of the export files under ``path``, by kind."""
    found: dict[str, list[dict[str, Any]]] = defaultdict(list)
    files = _files(Path(path))
    for file in files:
        named = _kind_of(file)
        try:
            if file.suffix.lower() == ".csv":
                if named is None:
                    continue
                with file.open(newline="") as fh:
                    found[named].extend(csv.DictReader(fh))
                continue
            if named is None and not _typed_lines(file):
                continue  # not an export (a node response, notes): left alone
            with file.open() as fh:
                for number, line in enumerate(fh, 1):
                    if not line.strip():
                        continue
                    try:
                        record = json.loads(line)
                    except ValueError as exc:
                        raise MalformedResponse(
                            f"{file.name} line {number} is not JSON (truncated?): {exc}"
                        ) from exc
                    kind = _TYPE_FIELD.get(record.get("type", ""), named)
                    if kind is not None:
                        found[kind].append(record)
        except (OSError, UnicodeDecodeError, csv.Error) as exc:
            raise MalformedResponse(f"cannot read {file}: {exc}") from exc
    if not found.get("blocks"):
        raise MalformedResponse(f"no blockchain-etl blocks file under {path}")
    return dict(found)


def _int(value: Any) -> int:
    if isinstance(value, int):
        return int(value)
    if isinstance(value, str) and value.startswith("0x"):
        return int(value, 16)
    return int(value)


def _opt_int(value: Any) -> int | None:
    return None if value is None or value == "" else _int(value)


def _opt(value: Any) -> Any:
    return None if value == "" else value


# --- Bitcoin ---------------------------------------------------------------------------------


def _first_address(cols: UtxoColumns, type_name: Any, addresses: Any, where: str) -> str | None:
    _script_type, has_address = _SCRIPT_TYPES.get(type_name, _NONSTANDARD)
    if not has_address or not addresses:
        return None
    if isinstance(addresses, str):
        addresses = json.loads(addresses)
    text = addresses[0]
    if not isinstance(text, str) or text.startswith("nonstandard"):
        return None
    return cols.address(text, where)


def btc_columns(records: dict[str, list[dict[str, Any]]]) -> tuple[UtxoColumns, list[list[int]]]:
    """The UTXO columns of bitcoin-etl records, with the height of every output and input."""
    cols = UtxoColumns()
    out_h: list[int] = []
    in_h: list[int] = []
    blocks = sorted(records["blocks"], key=lambda b: _int(b["number"]))
    txs = sorted(
        records.get("transactions", []), key=lambda t: (_int(t["block_number"]), _int(t["index"]))
    )
    try:
        for block in blocks:
            b = cols.blocks
            b["height"].append(_int(block["number"]))
            b["hash"].append(canonical_hash("btc", block["hash"]))
            prev = _opt(block.get("previous_block_hash") or block.get("prev_hash"))
            b["prev_hash"].append(canonical_hash("btc", prev) if prev else None)
            b["time"].append(_int(block["timestamp"]))
        t, o, i = cols.txs, cols.outputs, cols.inputs
        for tx in txs:
            h = _int(tx["block_number"])
            where = f"transaction {tx.get('hash')} of btc"
            coinbase = tx["is_coinbase"] in (True, "true", "True")
            inputs = tx.get("inputs") or []
            outputs = tx.get("outputs") or []
            if isinstance(inputs, str):  # CSV: nested lists as JSON text
                inputs = json.loads(inputs)
            if isinstance(outputs, str):
                outputs = json.loads(outputs)
            fee = _opt_int(tx.get("fee"))
            enriched = all(x.get("value") is not None for x in inputs)
            t["hash"].append(tx["hash"])
            t["height"].append(h)
            t["position"].append(_int(tx["index"]))
            t["time"].append(_int(tx["block_timestamp"]))
            t["coinbase"].append(coinbase)
            t["fee"].append(fee if fee is not None and fee > 0 and enriched else 0)
            t["locktime"].append(_int(tx["lock_time"]))
            t["version"].append(_int(tx["version"]))
            t["size"].append(_int(tx.get("virtual_size") or tx.get("size") or 0))
            for out in outputs:
                script_type = _SCRIPT_TYPES.get(out.get("type"), _NONSTANDARD)[0]
                o["tx_hash"].append(tx["hash"])
                o["n"].append(_int(out["index"]))
                o["address"].append(
                    _first_address(cols, out.get("type"), out.get("addresses"), where)
                )
                o["value"].append(_int(out["value"]))
                o["script_type"].append(script_type)
                out_h.append(h)
            if coinbase:
                continue
            for x in inputs:
                value = _opt_int(x.get("value"))
                i["tx_hash"].append(tx["hash"])
                i["n"].append(_int(x["index"]))
                i["prev_tx_hash"].append(x["spent_transaction_hash"])
                i["prev_n"].append(_int(x["spent_output_index"]))
                i["address"].append(
                    _first_address(cols, x.get("type"), x.get("addresses"), where)
                    if value is not None
                    else None
                )
                i["value"].append(value)
                in_h.append(h)
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        if isinstance(exc, MalformedResponse):
            raise
        raise MalformedResponse(f"a bitcoin-etl record is malformed: bad field {exc}") from exc
    return cols, [out_h, in_h]


# --- Ethereum --------------------------------------------------------------------------------


def eth_columns(records: dict[str, list[dict[str, Any]]]) -> tuple[AccountColumns, list[list[int]]]:
    """The account columns of ethereum-etl records, with the height of every token transfer
    and of every internal transfer."""
    cols = AccountColumns()
    receipts = {r["transaction_hash"]: r for r in records.get("receipts", [])}
    tx_height: dict[str, int] = {}
    blocks = sorted(records["blocks"], key=lambda b: _int(b["number"]))
    txs = sorted(
        records.get("transactions", []),
        key=lambda t: (_int(t["block_number"]), _int(t["transaction_index"])),
    )
    times = {}
    try:
        for block in blocks:
            h = _int(block["number"])
            b = cols.blocks
            b["height"].append(h)
            b["hash"].append(canonical_hash("eth", block["hash"]))
            parent = _opt(block.get("parent_hash"))
            b["prev_hash"].append(canonical_hash("eth", parent) if parent and h > 0 else None)
            times[h] = _int(block["timestamp"])
            b["time"].append(times[h])
            miner = _opt(block.get("miner"))
            b["miner"].append(_address(miner, f"block {h} of eth") if miner else None)
        t = cols.txs
        for tx in txs:
            h = _int(tx["block_number"])
            where = f"transaction {tx.get('hash')} of eth"
            receipt = receipts.get(tx["hash"])
            if receipt is not None:
                gas_used = _opt_int(receipt.get("gas_used"))
                status = _opt_int(receipt.get("status"))
                price = _opt_int(receipt.get("effective_gas_price"))
                created = _opt(receipt.get("contract_address"))
            else:
                gas_used = _opt_int(tx.get("receipt_gas_used"))
                status = _opt_int(tx.get("receipt_status"))
                price = _opt_int(tx.get("receipt_effective_gas_price"))
                created = _opt(tx.get("receipt_contract_address"))
            if gas_used is None:
                raise MalformedResponse(
                    f"{where} has no receipt (gas used, status): export the receipts too "
                    "(ethereum-etl export_receipts_and_logs)"
                )
            if price is None:
                price = _int(tx["gas_price"])
            to = _opt(tx.get("to_address"))
            data = tx.get("input") or "0x"
            tx_height[tx["hash"]] = h
            t["hash"].append(tx["hash"])
            t["height"].append(h)
            t["position"].append(_int(tx["transaction_index"]))
            t["time"].append(times.get(h, _opt_int(tx.get("block_timestamp")) or 0))
            t["from_address"].append(_address(tx["from_address"], where))
            t["to_address"].append(_address(to, where) if to else None)
            t["value"].append(_int(tx["value"]))
            t["fee"].append(gas_used * price)
            t["status"].append(1 if status is None else status)
            t["method"].append(data[:10] if to and len(data) >= 10 else None)
            t["created_contract"].append(_address(created, where) if created else None)
            t["nonce"].append(_int(tx["nonce"]))
            t["gas_used"].append(gas_used)
        if "token_transfers" in records:
            for tr in records["token_transfers"]:
                where = f"token transfer {tr.get('transaction_hash')} of eth"
                cols.add_transfer(
                    tr["transaction_hash"],
                    _int(tr["log_index"]),
                    _address(tr["token_address"], where),
                    _address(tr["from_address"], where),
                    _address(tr["to_address"], where),
                    _int(tr["value"]),
                )
        else:
            for log in records.get("logs", []):
                topics = log.get("topics")
                if isinstance(topics, str):
                    topics = [x for x in topics.split(",") if x]
                add_log_transfer(
                    cols,
                    {
                        "topics": topics,
                        "data": log.get("data"),
                        "transactionHash": log["transaction_hash"],
                        "logIndex": _int(log["log_index"]),
                        "address": log["address"],
                    },
                    f"log {log.get('log_index')} of {log.get('transaction_hash')}",
                )
        for token in records.get("tokens", []):
            decimals = _opt_int(token.get("decimals"))
            cols.add_token(
                _address(token["address"], "a token of eth"),
                _opt(token.get("symbol")),
                _opt(token.get("name")),
                decimals if decimals is not None and 0 <= decimals <= 255 else None,
            )
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        if isinstance(exc, MalformedResponse):
            raise
        raise MalformedResponse(f"an ethereum-etl record is malformed: bad field {exc}") from exc
    transfer_h: list[int] = []
    for tx_hash in cols.token_transfers["tx_hash"]:
        found = tx_height.get(tx_hash)
        if found is None:
            raise MalformedResponse(
                f"token transfer of {tx_hash}: no such transaction in the files"
            )
        transfer_h.append(found)
    trace_h: list[int] = []
    if records.get("traces"):
        cols.add_traces(stored_transfers(etl_traces(records["traces"])))
        for tx_hash in cols.traces["tx_hash"]:
            found = tx_height.get(tx_hash)
            if found is None:
                raise MalformedResponse(
                    f"internal transfer of {tx_hash}: no such transaction in the files"
                )
            trace_h.append(found)
    return cols, [transfer_h, trace_h]


# --- the source ------------------------------------------------------------------------------


def _signature(path: Path) -> list[tuple[str, int, int]]:
    try:
        files = _files(path)
        return [(f.name, f.stat().st_size, f.stat().st_mtime_ns) for f in files]
    except OSError:
        return []


class EtlSource:
    """The blocks of blockchain-etl export files (read whole at start)."""

    def __init__(self, chain: str, path: Path) -> None:
        self.path = Path(path)
        self._signature = _signature(self.path)
        self._load(chain)

    def _load(self, chain: str) -> None:
        info = get_chain(chain)
        self.chain = info.id
        self.label = str(self.path)
        path = self.path
        records = read_records(path)
        self.tables: dict[str, pa.Table] = {}
        self._heights: dict[str, pa.Array] = {}
        self.traces: str | None = None  # account chains: whether the files held traces
        if info.kind is ChainKind.UTXO:
            utxo, (out_h, in_h) = btc_columns(records)
            for name in ("blocks", "txs", "outputs", "inputs"):
                self.tables[name] = utxo.table(name)
            self._heights["outputs"] = pa.array(out_h, pa.int64())
            self._heights["inputs"] = pa.array(in_h, pa.int64())
        else:
            acct, (transfer_h, trace_h) = eth_columns(records)
            whole = acct.block_range(0, 0).tables
            self.tables = dict(whole)
            self._heights["token_transfers"] = pa.array(transfer_h, pa.int64())
            self._heights["traces"] = pa.array(trace_h, pa.int64())
            self.traces = (
                "ethereum-etl traces file"
                if records.get("traces")
                else "none: no ethereum-etl traces file (internal transfers not loaded)"
            )
        heights = self.tables["blocks"]["height"].to_pylist()
        if not heights:
            raise MalformedResponse(f"no blocks under {path}")
        if heights != list(range(heights[0], heights[-1] + 1)):
            raise MalformedResponse(
                f"the blocks under {path} are not consecutive ({heights[0]}..{heights[-1]} "
                f"with {len(heights)} blocks)"
            )
        self.first_available = int(heights[0])
        self._last = int(heights[-1])
        self._hashes = dict(zip(heights, self.tables["blocks"]["hash"].to_pylist(), strict=True))
        self.txs = self.tables["txs"].num_rows

    def network(self) -> str:
        return ""

    def tip(self) -> int:
        """The files' last block; files added or grown since (``--follow``) are read again."""
        signature = _signature(self.path)
        if signature != self._signature:
            self._signature = signature
            self._load(self.chain)
        return self._last

    def block_hashes(self, heights: Sequence[int]) -> list[str | None]:
        return [self._hashes.get(h) for h in heights]

    def fetch(self, first: int, last: int) -> BlockRange:
        if first < self.first_available:
            raise MalformedResponse(
                f"the store needs block {first} of {self.chain} next, but the files under "
                f"{self.label} start at block {self.first_available}: loading them would leave "
                "a gap"
            )
        if last > self._last:
            raise MalformedResponse(
                f"the files under {self.label} hold blocks {self.first_available}..{self._last} "
                f"of {self.chain}: the store needs {first}..{last}"
            )
        out: dict[str, pa.Table] = {}
        for name, table in self.tables.items():
            if name == "tokens":
                out[name] = table
                continue
            heights = self._heights.get(name)
            column = table["height"] if heights is None else heights
            mask = pc.and_(pc.greater_equal(column, first), pc.less_equal(column, last))
            out[name] = table.filter(mask)
        return BlockRange(self.chain, first, last, out)
