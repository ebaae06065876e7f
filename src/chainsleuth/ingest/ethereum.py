"""Ethereum JSON-RPC: blocks, receipts and ERC-20 transfers into the store's account batches.

Per block range: ``eth_getBlockByNumber(n, true)`` for the blocks and their transactions,
then the receipts, by ``eth_getBlockReceipts`` where the node has it (geth, erigon, reth,
nethermind) and else by ``eth_getTransactionReceipt`` per transaction (ganache, older
nodes), all in batches. From the receipts: status (1 success, 0 failed; receipts from
before Byzantium carry no status and count as successful), gas used, the fee (gas used x
effective gas price, or the transaction's gas price on nodes that give no effective
price), the created contract's address, and the logs.

An ERC-20 ``Transfer(address indexed, address indexed, uint256)`` is a log whose first topic
is the event's signature and whose topics and data words make four 32-byte values, the
rule ethereum-etl applies (an ERC-721 transfer carries the token id as a fourth topic and
no data: it is not one). Removed logs and amounts that do not fit the store's 38 digits
are skipped (and counted).

Internal transfers (ETH moved by contracts inside a transaction) from the node's traces:
``trace_block`` (erigon, nethermind, reth) or else ``debug_traceBlockByNumber`` with the
``callTracer`` (geth), probed on the first range and kept; a node with neither (ganache)
gives none, silently, and the ingest status says so (``ingest.traces``).

Token metadata for tokens not yet known: ``symbol()``, ``name()`` and ``decimals()`` by
``eth_call`` at the range's last block, tolerant of non-standard tokens: a string or a
``bytes32`` answer is read, anything else (a revert, an empty or garbled answer) is null.

Speed: ``fetch`` takes the answers as the node's JSON bytes and ``add_eth_raw`` reads them
by one compiled pass (``eth_kernels``) straight into Arrow columns; what that pass does not
take (and the per-transaction receipts of nodes without ``eth_getBlockReceipts``) goes the
general way: blocks and receipts are decoded by msgspec into the ``Eth*`` records below (only
the fields read here), and ``add_eth_blocks`` turns a whole batch into columns at once:
hex quantities by ``map(int, .., repeat(16))``, addresses through a cache of those already
checked, hashes checked in one pass, amounts into Arrow through int64 where they fit.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Sequence, Sized
from itertools import chain, repeat
from operator import itemgetter, mul
from typing import Any

import msgspec
import numpy as np
import pyarrow as pa

from chainsleuth.chain.addresses import canonical_hash
from chainsleuth.chain.batch import BlockRange
from chainsleuth.chain.schemas import SOURCE, TIME
from chainsleuth.ingest import eth_kernels
from chainsleuth.ingest.bitcoin import (
    _all_of,
    _bitmap,
    _joined,
    hex_hashes,
    hex_hashes_or_none,
    number_column,
)
from chainsleuth.ingest.columns import gc_paused
from chainsleuth.ingest.columns import tables as arrow_tables
from chainsleuth.ingest.kernels import FULL, GIVE_UP
from chainsleuth.ingest.rpc import MalformedResponse, RpcClient, RpcError
from chainsleuth.ingest.traces import geth_traces, parity_traces, stored_transfers

CHAIN = "eth"
TRANSFER_TOPIC = "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"
SYMBOL, NAME, DECIMALS = "0x95d89b41", "0x06fdde03", "0x313ce567"
MAX_AMOUNT = 10**38 - 1  # decimal128(38, 0)
#: trace methods, in the order tried, with their parameters after the block number
TRACE_METHODS: dict[str, list[Any]] = {
    "trace_block": [],
    "debug_traceBlockByNumber": [{"tracer": "callTracer"}],
}


def hex_int(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return int(value, 16)


_flat = chain.from_iterable
_ADDRESS = re.compile(r"^0x[0-9a-f]{40}$")
_SEEN: dict[str, str] = {}  # addresses already checked (bounded: cleared when large)


def _address(value: Any, where: str) -> str:
    """A node's address string in canonical form (lower-case ``0x`` + 40 hex digits)."""
    seen = _SEEN.get(value) if isinstance(value, str) else None
    if seen is not None:
        return seen
    text = value.lower() if isinstance(value, str) else ""
    if not _ADDRESS.match(text):
        raise MalformedResponse(f"{where}: {value!r} is not an address")
    if len(_SEEN) > 1_000_000:
        _SEEN.clear()
    _SEEN[value] = text
    return text


class AccountColumns:
    """Columns of the account source tables, filled block by block."""

    def __init__(self) -> None:
        schema = SOURCE["account"]
        self.blocks: dict[str, list[Any]] = {n: [] for n in schema["blocks"].names}
        self.txs: dict[str, list[Any]] = {n: [] for n in schema["txs"].names}
        self.token_transfers: dict[str, list[Any]] = {
            n: [] for n in schema["token_transfers"].names
        }
        self.tokens: dict[str, list[Any]] = {n: [] for n in schema["tokens"].names}
        self.traces: dict[str, list[Any]] = {n: [] for n in schema["traces"].names}
        #: transfers left out: removed logs, amounts over 38 digits
        self.skipped_transfers = 0
        #: whole Arrow tables (``add_eth_raw``), each before the rows appended after it
        self._chunks: list[dict[str, pa.Table]] = []

    @property
    def tx_count(self) -> int:
        return len(self.txs["hash"]) + sum(int(c["txs"].num_rows) for c in self._chunks)

    def token_addresses(self) -> set[str]:
        found = set(self.token_transfers["token"])
        for chunk in self._chunks:
            found.update(chunk["token_transfers"].column("token").unique().to_pylist())
        return found

    def add_tables(self, tables: dict[str, pa.Table]) -> None:
        """Whole tables (some of the account tables) after the rows appended so far."""
        pending = {name: getattr(self, name) for name in SOURCE["account"]}
        if any(any(columns.values()) for columns in pending.values()):
            self._chunks.append(self._list_tables(-1, -1))
            for columns in pending.values():
                for values in columns.values():
                    values.clear()
        self._chunks.append(tables)

    def _list_tables(self, first: int, last: int) -> dict[str, pa.Table]:
        schema = SOURCE["account"]
        try:
            return arrow_tables({name: getattr(self, name) for name in schema}, schema)
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError) as exc:
            where = "eth" if first < 0 else f"blocks {first}..{last} of eth"
            raise MalformedResponse(f"{where} hold bad values: {exc}") from exc

    def add_token(
        self, address: str, symbol: str | None, name: str | None, decimals: int | None
    ) -> None:
        self.tokens["address"].append(address)
        self.tokens["symbol"].append(symbol)
        self.tokens["name"].append(name)
        self.tokens["decimals"].append(decimals)

    def add_transfer(
        self, tx_hash: str, log_index: int, token: str, sender: str, to: str, amount: int
    ) -> None:
        if amount > MAX_AMOUNT:
            self.skipped_transfers += 1
            return
        t = self.token_transfers
        t["tx_hash"].append(tx_hash)
        t["log_index"].append(log_index)
        t["token"].append(token)
        t["from_address"].append(sender)
        t["to_address"].append(to)
        t["amount"].append(amount)

    def add_traces(self, table: pa.Table) -> None:
        """Rows of the ``traces`` table (``ingest.traces.stored_transfers``)."""
        for name, values in table.to_pydict().items():
            self.traces[name].extend(values)

    def block_range(self, first: int, last: int) -> BlockRange:
        tables = self._list_tables(first, last)
        if self._chunks:
            parts = [*self._chunks, tables]
            tables = {
                name: _concat([p[name] for p in parts if name in p], schema)
                for name, schema in SOURCE["account"].items()
            }
        return BlockRange(CHAIN, first, last, tables)


def _concat(tables: list[pa.Table], schema: pa.Schema) -> pa.Table:
    """The tables with rows, as one (one chunk a table: no copy where only one has rows)."""
    full = [t for t in tables if t.num_rows]
    if not full:
        return tables[-1] if tables else schema.empty_table()
    return full[0] if len(full) == 1 else pa.concat_tables(full)


def add_log_transfer(cols: AccountColumns, log: dict[str, Any], where: str) -> None:
    """Append the ERC-20 transfer a log records, if it records one."""
    topics = log.get("topics") or []
    if not topics or topics[0] != TRANSFER_TOPIC:
        return
    if log.get("removed"):
        cols.skipped_transfers += 1
        return
    data = log.get("data") or "0x"
    words = [t[2:] for t in topics[1:]] + [data[i : i + 64] for i in range(2, len(data), 64)]
    if len(words) != 3 or any(len(w) != 64 for w in words):
        return  # not an ERC-20 Transfer (ERC-721, or non-standard data)
    cols.add_transfer(
        log["transactionHash"],
        hex_int(log["logIndex"]),
        _address(log["address"], where),
        "0x" + words[0][24:],
        "0x" + words[1][24:],
        int(words[2], 16),
    )


# --- node answers, decoded by msgspec into the fields read here -------------------------------
# gc=False: decoded records hold no reference cycles, so the collector need not track them

Quantity = str | int  # a hex quantity ("0x1a"); some nodes and test tools send numbers


class EthLog(msgspec.Struct, kw_only=True, gc=False):
    address: str
    topics: list[str] | None = None
    data: str | None = None
    transactionHash: str | None = None  # noqa: N815 - the node's names
    logIndex: Quantity | None = None  # noqa: N815
    removed: bool | None = None


class EthReceipt(msgspec.Struct, kw_only=True, gc=False):
    gasUsed: Quantity  # noqa: N815
    transactionHash: str | None = None  # noqa: N815
    blockHash: str | None = None  # noqa: N815
    effectiveGasPrice: Quantity | None = None  # noqa: N815
    status: Quantity | None = None  # before Byzantium: none
    contractAddress: str | None = None  # noqa: N815
    logs: list[EthLog] | None = None


class EthTx(msgspec.Struct, kw_only=True, gc=False):
    hash: str
    sender: str = msgspec.field(name="from")
    to: str | None = None
    value: Quantity
    nonce: Quantity
    gasPrice: Quantity | None = None  # noqa: N815
    input: str | None = None
    data: str | None = None  # old nodes' name of input


class EthBlock(msgspec.Struct, kw_only=True, gc=False):
    number: Quantity
    hash: str
    timestamp: Quantity
    transactions: list[EthTx | str]  # hashes only when asked without transactions
    parentHash: str | None = None  # noqa: N815
    miner: str | None = None


_BLOCK_DECODER = msgspec.json.Decoder(EthBlock)
_RECEIPT_DECODER = msgspec.json.Decoder(EthReceipt)


def decode_eth_block(raw: bytes) -> EthBlock:
    """One ``eth_getBlockByNumber(n, true)`` result (its JSON text) as an ``EthBlock``."""
    try:
        return _BLOCK_DECODER.decode(raw)
    except msgspec.DecodeError as exc:
        raise MalformedResponse(f"an eth_getBlockByNumber answer is malformed: {exc}") from exc


def decode_eth_receipt(raw: bytes) -> EthReceipt:
    """One ``eth_getTransactionReceipt`` result (its JSON text) as an ``EthReceipt``."""
    try:
        return _RECEIPT_DECODER.decode(raw)
    except msgspec.DecodeError as exc:
        raise MalformedResponse(f"an eth_getTransactionReceipt answer is malformed: {exc}") from exc


_RECEIPTS_DECODER = msgspec.json.Decoder(list[EthReceipt])


def decode_eth_receipts(raw: bytes) -> list[EthReceipt]:
    """A block's receipts as one JSON array (``eth_getBlockReceipts``) as ``EthReceipt``s."""
    try:
        return _RECEIPTS_DECODER.decode(raw)
    except msgspec.DecodeError as exc:
        raise MalformedResponse(f"an eth_getBlockReceipts answer is malformed: {exc}") from exc


def _convert(value: Any, kind: type[Any], what: str) -> Any:
    if isinstance(value, kind):
        return value
    if not isinstance(value, dict):
        raise MalformedResponse(f"{what} is missing or not a JSON object")
    try:
        return msgspec.convert(value, kind)
    except msgspec.ValidationError as exc:
        raise MalformedResponse(f"{what} is malformed: missing or bad field ({exc})") from exc


def hex_ints(values: Sequence[Any]) -> list[int]:
    """Hex quantities (``"0x1a"``; numbers pass) as ints, in bulk."""
    try:
        return list(map(int, values, repeat(16)))
    except TypeError:
        return [hex_int(v) for v in values]


def _addresses(values: Sequence[Any], where: str) -> list[Any]:
    """``_address`` of a column (None and "" become None), through the cache of checked
    addresses: one C-level pass where every address was seen before."""
    out = list(map(_SEEN.get, values))
    if out.count(None) != values.count(None):
        out = [None if not v else (_SEEN.get(v) or _address(v, where)) for v in values]
    return out


def _lengths(values: Iterable[Sized]) -> set[int]:
    """The lengths the values have (one C-level pass)."""
    return set(map(len, values))


def _tx_hashes(values: list[str], where: str) -> list[str]:
    return hex_hashes(values, where, "0x")


def add_eth_blocks(
    cols: AccountColumns,
    blocks: Sequence[Any],
    receipts: Sequence[Sequence[Any]],
    first: int | None = None,
) -> None:
    """Append ``eth_getBlockByNumber(n, true)`` results (``EthBlock``s or dicts) and each
    one's receipts (``EthReceipt``s or dicts) for heights ``first..`` to ``cols``, column by
    column."""
    with gc_paused():
        _add_eth_blocks(cols, blocks, receipts, first)


def _add_eth_blocks(
    cols: AccountColumns,
    blocks: Sequence[Any],
    receipts: Sequence[Sequence[Any]],
    first: int | None,
) -> None:
    parsed: list[EthBlock] = list(blocks)
    if not _all_of(parsed, EthBlock):
        parsed = [
            _convert(b, EthBlock, f"block {'?' if first is None else first + i} of eth")
            for i, b in enumerate(blocks)
        ]
    if not parsed:
        return
    where = "blocks of eth"
    try:
        heights = hex_ints([b.number for b in parsed])
        where = f"blocks {heights[0]}..{heights[-1]} of eth"
        if first is not None and heights != list(range(first, first + len(parsed))):
            i = next(i for i, h in enumerate(heights) if h != first + i)
            raise MalformedResponse(
                f"asked for block {first + i} of eth, the node sent {heights[i]}"
            )
        times = hex_ints([b.timestamp for b in parsed])
        raw_hashes = [b.hash for b in parsed]
        hashes = _tx_hashes(raw_hashes, where)
        bc = cols.blocks
        bc["height"] += heights
        bc["hash"] += hashes
        parents = [None if h == 0 else b.parentHash for h, b in zip(heights, parsed, strict=True)]
        bc["prev_hash"] += hex_hashes_or_none(parents, where, "0x")
        bc["time"] += times
        bc["miner"] += _addresses([b.miner or None for b in parsed], where)

        tx_lists = [b.transactions for b in parsed]
        counts = list(map(len, tx_lists))
        if len(receipts) != len(parsed):
            raise MalformedResponse(
                f"{where}: receipts for {len(receipts)} blocks, not {len(parsed)}"
            )
        receipt_counts = list(map(len, receipts))
        if counts != receipt_counts:
            i = next(
                i for i, (a, b) in enumerate(zip(counts, receipt_counts, strict=True)) if a != b
            )
            raise MalformedResponse(
                f"block {heights[i]} of eth has {counts[i]} transactions but the node sent "
                f"{receipt_counts[i]} receipts"
            )
        txs: list[EthTx] = list(_flat(tx_lists))  # type: ignore[arg-type]
        if not _all_of(txs, EthTx):
            i = next(i for i, b in enumerate(tx_lists) if any(type(tx) is not EthTx for tx in b))
            raise MalformedResponse(f"block {heights[i]} of eth lists transaction hashes only")
        tx_hashes = [tx.hash for tx in txs]
        rs: list[EthReceipt] = list(_flat(receipts))
        if not _all_of(rs, EthReceipt):
            rs = [
                _convert(r, EthReceipt, f"{where}: the receipt of transaction {h}")
                for h, r in zip(tx_hashes, rs, strict=True)
            ]
        tx_h = list(_flat(map(repeat, heights, counts)))
        positions = list(_flat(map(range, counts)))
        _check_receipts(
            rs, tx_hashes, list(_flat(map(repeat, raw_hashes, counts))), tx_h, positions
        )

        if not txs:
            return
        # (list comprehensions: the fastest way to read a field of many records)
        senders = [tx.sender for tx in txs]
        tos = [tx.to for tx in txs]
        values = [tx.value for tx in txs]
        nonces = [tx.nonce for tx in txs]
        inputs = [tx.input for tx in txs]
        gas_used = [r.gasUsed for r in rs]
        prices = [r.effectiveGasPrice for r in rs]
        statuses = [r.status for r in rs]
        created = [r.contractAddress for r in rs]
        t = cols.txs
        t["hash"] += tx_hashes
        t["height"] += tx_h
        t["position"] += positions
        t["time"] += _flat(map(repeat, times, counts))
        t["from_address"] += _addresses(senders, where)
        tos = _addresses(tos, where)
        t["to_address"] += tos
        t["value"] += hex_ints(values)
        gas = hex_ints(gas_used)
        if None in prices:  # nodes that give no effective price: the transaction's
            prices = [p or tx.gasPrice or "0x0" for p, tx in zip(prices, txs, strict=True)]
        t["fee"] += map(mul, gas, hex_ints(prices))
        if None in statuses:
            t["status"] += [1 if s is None else hex_int(s) for s in statuses]
        else:
            t["status"] += hex_ints(statuses)
        datas: list[str] = inputs  # type: ignore[assignment]
        if None in inputs:
            datas = [i or tx.data or "0x" for i, tx in zip(inputs, txs, strict=True)]
        t["method"] += [
            d[:10] if to and len(d) >= 10 else None for d, to in zip(datas, tos, strict=True)
        ]
        t["created_contract"] += _addresses(created, where)
        t["nonce"] += hex_ints(nonces)
        t["gas_used"] += gas
        _add_transfers(cols, rs, tx_hashes, where)
    except (TypeError, ValueError, AttributeError, IndexError) as exc:
        if isinstance(exc, MalformedResponse):
            raise
        raise MalformedResponse(f"{where} is malformed: missing or bad field {exc}") from exc


def _check_receipts(
    rs: list[EthReceipt],
    tx_hashes: list[str],
    block_hashes: list[str],
    heights: list[int],
    positions: list[int],
) -> None:
    """Each receipt names its transaction and block (where it names them)."""
    named = [r.transactionHash for r in rs]
    if named != tx_hashes:
        for i, (ours, theirs) in enumerate(zip(named, tx_hashes, strict=True)):
            if ours is not None and ours != theirs:
                raise MalformedResponse(
                    f"block {heights[i]} of eth: receipt {positions[i]} is not its transaction's"
                )
    named = [r.blockHash for r in rs]
    if named != block_hashes:
        for i, (ours, theirs) in enumerate(zip(named, block_hashes, strict=True)):
            if ours is not None and ours != theirs:
                raise MalformedResponse(
                    f"block {heights[i]} of eth: the receipt of {tx_hashes[i]} is from another "
                    "block (a re-org while fetching?)"
                )


def _add_transfers(
    cols: AccountColumns, rs: list[EthReceipt], tx_hashes: list[str], where: str
) -> None:
    """The ERC-20 transfers the receipts' logs record (see ``add_log_transfer``), in bulk."""
    found = [
        (h, log)
        for h, r in zip(tx_hashes, rs, strict=True)
        if r.logs
        for log in r.logs
        if log.topics and log.topics[0] == TRANSFER_TOPIC
    ]
    if not found:
        return
    if any(log.removed for _h, log in found):
        cols.skipped_transfers += sum(1 for _h, log in found if log.removed)
        found = [(h, log) for h, log in found if not log.removed]
    topics: list[list[str]] = [log.topics for _h, log in found]  # type: ignore[misc]
    datas = [log.data or "0x" for _h, log in found]
    if (
        _lengths(topics) == {3}
        and _lengths(datas) == {66}
        and _lengths(map(itemgetter(1), topics)) == _lengths(map(itemgetter(2), topics)) == {66}
    ):  # the standard shape, all of them: column by column
        hashes = [log.transactionHash or h for h, log in found]
        indexes: list[Any] = [log.logIndex for _h, log in found]
        tokens = [log.address for _h, log in found]
        senders = ["0x" + t[1][26:] for t in topics]
        receivers = ["0x" + t[2][26:] for t in topics]
        amounts = list(map(int, datas, repeat(16)))
    else:
        hashes, indexes, tokens, senders, receivers, amounts = [], [], [], [], [], []
        for (tx_hash, log), ts, data in zip(found, topics, datas, strict=True):
            words = [t[2:] for t in ts[1:]] + [data[i : i + 64] for i in range(2, len(data), 64)]
            if len(words) != 3 or any(len(w) != 64 for w in words):
                continue  # not an ERC-20 Transfer (ERC-721, or non-standard data)
            hashes.append(log.transactionHash or tx_hash)
            indexes.append(log.logIndex)
            tokens.append(log.address)
            senders.append("0x" + words[0][24:])
            receivers.append("0x" + words[1][24:])
            amounts.append(int(words[2], 16))
    if None in indexes:
        raise MalformedResponse(f"{where}: a transfer log has no logIndex")
    keep = [a <= MAX_AMOUNT for a in amounts]
    if not all(keep):
        cols.skipped_transfers += keep.count(False)
        hashes, indexes, tokens, senders, receivers, amounts = (
            [v for v, k in zip(col, keep, strict=True) if k]
            for col in (hashes, indexes, tokens, senders, receivers, amounts)
        )
    tt = cols.token_transfers
    tt["tx_hash"] += hashes
    tt["log_index"] += hex_ints(indexes)
    tt["token"] += _addresses(tokens, where)
    tt["from_address"] += senders
    tt["to_address"] += receivers
    tt["amount"] += amounts


def add_eth_block(
    cols: AccountColumns,
    block: Any,
    receipts: Sequence[Any],
    height: int | None = None,
) -> None:
    """Append one ``eth_getBlockByNumber(n, true)`` result and its receipts to ``cols``."""
    if not isinstance(block, dict | EthBlock):
        raise MalformedResponse(f"block {height} of eth is missing or not a JSON object")
    add_eth_blocks(cols, [block], [receipts], height)


# --- the compiled pass over the nodes' JSON bytes ---------------------------------------------

_I64, _I32 = pa.int64(), pa.int32()


def _amounts(lo: np.ndarray, hi: np.ndarray) -> pa.Array:
    """128-bit words (low, high) as a ``decimal128(38, 0)`` array, without a conversion."""
    words = np.empty((lo.size, 2), dtype=np.int64)
    words[:, 0] = lo
    words[:, 1] = hi
    return pa.Array.from_buffers(
        SOURCE["account"]["txs"].field("value").type, lo.size, [None, pa.py_buffer(words)]
    )


def eth_raw_tables(
    blocks: Sequence[Any], receipts: Sequence[Any], first: int | None = None
) -> tuple[dict[str, pa.Table], int] | None:
    """``eth_getBlockByNumber(n, true)`` answers and each block's receipts as one JSON array
    (their bytes) as the blocks, txs and token_transfers tables, and the transfers left out,
    by one compiled pass (``eth_kernels.eth_blocks``); None where the fast path does not
    take them (the general path then decodes them, and says what is wrong if anything is)."""
    nb = len(blocks)
    if nb == 0 or len(receipts) != nb:
        return None
    answers = [*blocks, *receipts]
    data, words, starts, ends = _joined(answers)
    bs, be, rs, re_ = starts[:nb], ends[:nb], starts[nb:], ends[nb:]
    caps = [max(16, data.size // 800), max(16, data.size // 800)]
    while True:
        status, _ntr, skipped, blk, txc, trc = eth_kernels.eth_blocks(
            data, words, bs, be, rs, re_, *caps
        )
        if status != FULL:
            break
        caps = [2 * c for c in caps]
    if status == GIVE_UP:
        return None
    heights, times, _hash_at, _prev_at, _miner_at, block_txs = blk
    if first is not None and not np.array_equal(heights, np.arange(first, first + nb)):
        return None  # the general path says which
    n_tx = txc.shape[1]
    tx_block = np.repeat(np.arange(nb), block_txs)
    tx_start = np.cumsum(block_txs) - block_txs
    tr_tx = trc[0]
    n_tr = tr_tx.size
    offsets, chars, valid = eth_kernels.eth_strings(data, blk, txc, trc)
    bitmap, nulls = _bitmap(valid)
    flat = pa.Array.from_buffers(
        pa.string(), valid.size, [bitmap, pa.py_buffer(offsets), pa.py_buffer(chars)], nulls
    )
    sizes = [nb] * 3 + [n_tx] * 5 + [n_tr] * 4
    strings, at = [], 0
    for size in sizes:
        strings.append(flat.slice(at, size))
        at += size
    (
        b_hash,
        b_prev,
        b_miner,
        t_hash,
        t_from,
        t_to,
        t_method,
        t_created,
        r_hash,
        r_token,
        r_from,
        r_to,
    ) = strings
    account = SOURCE["account"]
    tables = {
        "blocks": pa.Table.from_arrays(
            [number_column(heights, _I64), b_hash, b_prev, number_column(times, TIME), b_miner],
            schema=account["blocks"],
        ),
        "txs": pa.Table.from_arrays(
            [
                t_hash,
                number_column(heights[tx_block], _I64),
                number_column((np.arange(n_tx) - tx_start[tx_block]).astype(np.int32), _I32),
                number_column(times[tx_block], TIME),
                t_from,
                t_to,
                _amounts(txc[eth_kernels._T_VLO], txc[eth_kernels._T_VHI]),
                _amounts(txc[eth_kernels._T_FLO], txc[eth_kernels._T_FHI]),
                number_column(txc[eth_kernels._T_STATUS].astype(np.int8), pa.int8()),
                t_method,
                t_created,
                number_column(txc[eth_kernels._T_NONCE], _I64),
                number_column(txc[eth_kernels._T_GAS], _I64),
            ],
            schema=account["txs"],
        ),
        "token_transfers": pa.Table.from_arrays(
            [
                r_hash,
                number_column(trc[1].astype(np.int32), _I32),
                r_token,
                r_from,
                r_to,
                _amounts(trc[5], trc[6]),
            ],
            schema=account["token_transfers"],
        ),
    }
    return tables, int(skipped)


def add_eth_raw(
    cols: AccountColumns,
    blocks: Sequence[Any],
    receipts: Sequence[Any],
    first: int | None = None,
) -> None:
    """Append ``eth_getBlockByNumber(n, true)`` answers and each block's receipts, as the
    node's JSON bytes (``bytes`` or ``msgspec.Raw``; the receipts of a block as one JSON
    array, as ``eth_getBlockReceipts`` answers), for heights ``first..`` to ``cols``: by
    the compiled pass where it takes them, else decoded into records and added by
    ``add_eth_blocks``."""
    if not blocks:
        return
    with gc_paused():
        found = eth_raw_tables(blocks, receipts, first)
    if found is not None:
        tables, skipped = found
        cols.add_tables(tables)
        cols.skipped_transfers += skipped
        return
    with gc_paused():
        decoded = [decode_eth_block(b) for b in blocks]
        decoded_receipts = [decode_eth_receipts(r) for r in receipts]
    add_eth_blocks(cols, decoded, decoded_receipts, first)


# --- token metadata --------------------------------------------------------------------------


def decode_text(result: Any) -> str | None:
    """An ``eth_call`` answer to ``symbol()``/``name()``: an ABI string or a ``bytes32``."""
    if not isinstance(result, str) or not result.startswith("0x"):
        return None
    try:
        raw = bytes.fromhex(result[2:])
    except ValueError:
        return None
    text: bytes | None = None
    if len(raw) >= 64:
        offset = int.from_bytes(raw[:32], "big")
        if offset + 32 <= len(raw):
            length = int.from_bytes(raw[offset : offset + 32], "big")
            if offset + 32 + length <= len(raw):
                text = raw[offset + 32 : offset + 32 + length]
    if text is None and len(raw) == 32:
        text = raw  # bytes32, right-padded with zeros (MKR, early tokens)
    if text is None:
        return None
    text = text.rstrip(b"\x00")
    try:
        decoded = text.decode("utf-8")
    except UnicodeDecodeError:
        return None
    decoded = decoded.strip()
    if not decoded or not decoded.isprintable():
        return None
    return decoded[:64]


def decode_decimals(result: Any) -> int | None:
    if not isinstance(result, str) or not result.startswith("0x") or len(result) < 3:
        return None
    try:
        value = int(result[2:66] or "0", 16)
    except ValueError:
        return None
    return value if 0 <= value <= 255 else None


def token_metadata(
    client: RpcClient, tokens: Iterable[str], block: int
) -> list[tuple[str, str | None, str | None, int | None]]:
    """(address, symbol, name, decimals) of each token, by ``eth_call`` at ``block``."""
    addresses = sorted(tokens)
    if not addresses:
        return []
    tag = hex(block)
    calls = [
        ("eth_call", [{"to": a, "data": selector}, tag])
        for a in addresses
        for selector in (SYMBOL, NAME, DECIMALS)
    ]
    answers = client.batch(calls, tolerate=True)
    out = []
    for i, address in enumerate(addresses):
        symbol, name, decimals = answers[3 * i : 3 * i + 3]
        out.append(
            (
                address,
                None if isinstance(symbol, RpcError) else decode_text(symbol),
                None if isinstance(name, RpcError) else decode_text(name),
                None if isinstance(decimals, RpcError) else decode_decimals(decimals),
            )
        )
    return out


# --- the source ------------------------------------------------------------------------------


class EthereumSource:
    """Blocks of an Ethereum JSON-RPC node."""

    chain = CHAIN

    def __init__(self, client: RpcClient) -> None:
        self.client = client
        self.label = client.url
        self.block_receipts: bool | None = None  # eth_getBlockReceipts works; None: untried
        self.known_tokens: set[str] = set()
        self.skipped_transfers = 0
        # fetch runs on several threads at once (ingest.follow): one asks for new tokens'
        # metadata, one probes the node's methods
        self._lock = threading.Lock()
        self._probe = threading.Lock()
        #: the node's trace method (``TRACE_METHODS``), "" where it has none; None: untried
        self.trace_method: str | None = None

    @property
    def traces(self) -> str | None:
        """What the ingest status says of internal transfers."""
        if self.trace_method is None:
            return None
        if not self.trace_method:
            return "none: the node has no trace method (internal transfers not loaded)"
        return self.trace_method

    def _traces(self, heights: Sequence[int], blocks: Sequence[Any]) -> pa.Table | None:
        """The blocks' traces by the node's trace method (probed on the first range and
        kept, by one fetch while the others wait), or None where it has none."""
        if self.trace_method is None:
            with self._probe:
                return self._traces_of(heights, blocks)
        return self._traces_of(heights, blocks)

    def _traces_of(self, heights: Sequence[int], blocks: Sequence[Any]) -> pa.Table | None:
        if self.trace_method == "":
            return None
        methods = [self.trace_method] if self.trace_method else list(TRACE_METHODS)
        for method in methods:
            calls = [(method, [hex(h), *TRACE_METHODS[method]]) for h in heights]
            answers = self.client.batch(calls, tolerate=True)
            failed = next((a for a in answers if isinstance(a, RpcError)), None)
            if failed is not None:
                if self.trace_method:  # it worked before: a real failure
                    raise failed
                continue
            self.trace_method = method
            if method == "trace_block":
                return parity_traces(answers, heights)
            decoded = [b if isinstance(b, EthBlock) else decode_eth_block(b) for b in blocks]
            hashes = [
                [tx.hash if isinstance(tx, EthTx) else tx for tx in b.transactions] for b in decoded
            ]
            return geth_traces(answers, heights, hashes)
        self.trace_method = ""
        return None

    def network(self) -> str:
        chain_id, genesis = self.client.batch(
            [("eth_chainId", []), ("eth_getBlockByNumber", ["0x0", False])]
        )
        if not isinstance(genesis, dict) or "hash" not in genesis:
            raise MalformedResponse(f"the node at {self.client.url} has no genesis block")
        return f"ethereum:{hex_int(chain_id)}:{canonical_hash(CHAIN, genesis['hash'])}"

    def tip(self) -> int:
        return hex_int(self.client.call("eth_blockNumber"))

    def block_hashes(self, heights: Sequence[int]) -> list[str]:
        blocks = self.client.batch([("eth_getBlockByNumber", [hex(h), False]) for h in heights])
        out = []
        for h, block in zip(heights, blocks, strict=True):
            if not isinstance(block, dict) or "hash" not in block:
                raise MalformedResponse(f"the node has no block {h} of eth")
            out.append(canonical_hash(CHAIN, block["hash"]))
        return out

    def _receipts(self, blocks: list[EthBlock], heights: Sequence[int]) -> list[list[Any]]:
        if self.block_receipts is not False:
            answers = self.client.batch(
                [("eth_getBlockReceipts", [hex(h)]) for h in heights],
                tolerate=True,
                result_type=list[EthReceipt],
            )
            if not any(isinstance(a, RpcError) for a in answers):
                self.block_receipts = True
                return [a if isinstance(a, list) else [] for a in answers]
            if self.block_receipts:
                raise next(a for a in answers if isinstance(a, RpcError))
            self.block_receipts = False  # the node lacks it: per-transaction receipts
        hashes = [tx.hash if isinstance(tx, EthTx) else tx for b in blocks for tx in b.transactions]
        flat = self.client.batch(
            [("eth_getTransactionReceipt", [h]) for h in hashes], result_type=EthReceipt
        )
        out, i = [], 0
        for b in blocks:
            n = len(b.transactions)
            out.append(flat[i : i + n])
            i += n
        return out

    def _raw_block_receipts(self, heights: Sequence[int]) -> list[Any] | None:
        """Each block's receipts by ``eth_getBlockReceipts`` as the node's JSON bytes (one
        array a block), or None where the node lacks the method (probed by one fetch while
        the others wait)."""
        if self.block_receipts is None:
            with self._probe:
                return self._raw_block_receipts_of(heights)
        return self._raw_block_receipts_of(heights)

    def _raw_block_receipts_of(self, heights: Sequence[int]) -> list[Any] | None:
        if self.block_receipts is False:
            return None
        answers = self.client.batch(
            [("eth_getBlockReceipts", [hex(h)]) for h in heights],
            tolerate=True,
            result_type=msgspec.Raw,
        )
        failed = next((a for a in answers if isinstance(a, RpcError)), None)
        if failed is None:
            self.block_receipts = True
            return [b"[]" if bytes(memoryview(a)[:4]) == b"null" else a for a in answers]
        if self.block_receipts:
            raise failed
        self.block_receipts = False  # the node lacks it: per-transaction receipts
        return None

    def fetch(self, first: int, last: int) -> BlockRange:
        heights = range(first, last + 1)
        # each answer's JSON bytes, for the compiled pass (add_eth_raw)
        raw_blocks = self.client.batch(
            [("eth_getBlockByNumber", [hex(h), True]) for h in heights], result_type=msgspec.Raw
        )
        for h, raw in zip(heights, raw_blocks, strict=True):
            if bytes(memoryview(raw)[:4]) == b"null":
                raise MalformedResponse(f"the node sent no block {h} of eth (or a malformed one)")
        blocks: list[EthBlock] | None = None
        cols = AccountColumns()
        raw_receipts = self._raw_block_receipts(heights)
        if raw_receipts is not None:
            add_eth_raw(cols, raw_blocks, raw_receipts, first)
        else:
            blocks = [decode_eth_block(raw) for raw in raw_blocks]
            receipts = self._receipts(blocks, heights)
            add_eth_blocks(cols, blocks, receipts, first)
        with self._lock:  # each new token's metadata is asked for once, by one batch
            new = cols.token_addresses() - self.known_tokens
            for address, symbol, name, decimals in token_metadata(self.client, new, last):
                cols.add_token(address, symbol, name, decimals)
            self.known_tokens |= new
            self.skipped_transfers += cols.skipped_transfers
        traces = self._traces(heights, blocks if blocks is not None else raw_blocks)
        if traces is not None:
            cols.add_traces(stored_transfers(traces))
        return cols.block_range(first, last)
