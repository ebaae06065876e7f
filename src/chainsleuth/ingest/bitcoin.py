"""Bitcoin Core JSON-RPC: blocks (``getblock`` verbosity 2 or 3) into the store's UTXO batches.

What Bitcoin Core's ``scriptPubKey.type`` becomes (``chainsleuth.chain.enums.ScriptType``):

========================= ================ ======================================
Core type                 script_type      address
========================= ================ ======================================
pubkeyhash                p2pkh            the Base58Check address
scripthash                p2sh             the Base58Check address
witness_v0_keyhash        p2wpkh           the Bech32 address (lower-case)
witness_v0_scripthash     p2wsh            the Bech32 address
witness_v1_taproot        p2tr             the Bech32m address
witness_unknown, anchor   witness_unknown  the Bech32m address
pubkey                    p2pk             none (a public key, not an address)
multisig                  multisig         none (bare multisig)
nulldata                  nulldata         none (OP_RETURN; never spendable)
nonstandard, other        nonstandard      none
========================= ================ ======================================

Old nodes (before 22.0) give ``addresses: [..]`` instead of ``address``; both are read.
Amounts arrive as JSON numbers in BTC. Read as doubles they convert to satoshi exactly
(at most 21 million BTC: the double's error stays below 0.36 satoshi and rounds away);
decimals (``Decimal``, in dicts) are taken as well. Addresses are canonicalised (Bech32
lower-cased) and checked for their shape; their checksums are not recomputed by default
(the node encoded them from the script; ``UtxoColumns(verify_checksums=True)`` does).

Inputs are named by ``(txid, vout)``. Their address and value come from ``prevout`` when
the node gives it (verbosity 3); otherwise they are left null and the store resolves them
from the spent output: one in the same batch, or one of its unspent outputs.

Speed: the RPC client decodes a batch reply with msgspec straight into the ``Core*``
records below (only the fields read here; no dict per object), and ``add_core_blocks``
turns a whole batch of them into columns at once: a list comprehension per column,
amounts converted with numpy, block hashes checked in one pass (``hex_hashes``), the txids
repeated for outputs and inputs by numpy (not Arrow's ``take``) and addresses through a
per-batch cache. Dicts (tests, saved responses) go through
``msgspec.convert`` into the same records.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from itertools import chain, compress, repeat
from operator import is_not
from typing import Any

import msgspec
import numpy as np
import pyarrow as pa

from chainsleuth.chain.addresses import AddressError, canonical_btc, canonical_hash
from chainsleuth.chain.batch import BlockRange
from chainsleuth.chain.enums import ScriptType
from chainsleuth.chain.schemas import SOURCE, TIME
from chainsleuth.ingest import kernels
from chainsleuth.ingest.columns import gc_paused, repeat_strings
from chainsleuth.ingest.columns import tables as arrow_tables
from chainsleuth.ingest.rpc import MalformedResponse, RpcClient, RpcError

CHAIN = "btc"
MAINNET_GENESIS = "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f"
COIN = 100_000_000
MAX_BTC = 21_000_000

CORE_TYPES: dict[str, ScriptType] = {
    "pubkeyhash": ScriptType.P2PKH,
    "scripthash": ScriptType.P2SH,
    "witness_v0_keyhash": ScriptType.P2WPKH,
    "witness_v0_scripthash": ScriptType.P2WSH,
    "witness_v1_taproot": ScriptType.P2TR,
    "witness_unknown": ScriptType.WITNESS_UNKNOWN,
    "anchor": ScriptType.WITNESS_UNKNOWN,
    "pubkey": ScriptType.P2PK,
    "multisig": ScriptType.MULTISIG,
    "nulldata": ScriptType.NULLDATA,
    "nonstandard": ScriptType.NONSTANDARD,
}
ADDRESS_TYPES = frozenset(
    {
        ScriptType.P2PKH,
        ScriptType.P2SH,
        ScriptType.P2WPKH,
        ScriptType.P2WSH,
        ScriptType.P2TR,
        ScriptType.WITNESS_UNKNOWN,
    }
)
_ADDRESS_SHAPE = re.compile(
    r"^(?:[13][1-9A-HJ-NP-Za-km-z]{25,34}|bc1[qpzry9x8gf2tvdw0s3jn54khce6mua7l]{8,87})$"
)
_HEX = re.compile("[0-9a-fA-F]{64}")
_flat = chain.from_iterable
_I64, _I32, _STR = pa.int64(), pa.int32(), pa.string()


_SCRIPT_TYPES = {k: (str(v), v in ADDRESS_TYPES) for k, v in CORE_TYPES.items()}
_NONSTANDARD = (str(ScriptType.NONSTANDARD), False)


class UtxoColumns:
    """Columns of the four UTXO source tables, filled block by block.

    Two ways in: rows appended to the lists of ``blocks``/``txs``/``outputs``/``inputs``
    (files, one record at a time), or whole Arrow tables (``add_core_blocks``: a batch of
    node answers at once) kept as chunks; ``table`` joins both, in the order added."""

    def __init__(self, *, verify_checksums: bool = False) -> None:
        #: check each new address's Base58Check/Bech32 checksum (slow in pure Python); else
        #: only its shape, trusting the node that encoded it from the script
        self.verify_checksums = verify_checksums
        self.blocks: dict[str, list[Any]] = {n: [] for n in SOURCE["utxo"]["blocks"].names}
        self.txs: dict[str, list[Any]] = {n: [] for n in SOURCE["utxo"]["txs"].names}
        self.outputs: dict[str, list[Any]] = {n: [] for n in SOURCE["utxo"]["outputs"].names}
        self.inputs: dict[str, list[Any]] = {n: [] for n in SOURCE["utxo"]["inputs"].names}
        self._chunks: dict[str, list[pa.Table]] = {n: [] for n in SOURCE["utxo"]}
        self._addresses: dict[str, str] = {}

    @property
    def tx_count(self) -> int:
        return len(self.txs["hash"]) + sum(int(t.num_rows) for t in self._chunks["txs"])

    def address(self, text: Any, where: str) -> str:
        known = self._addresses.get(text)
        if known is not None:
            return known
        if not isinstance(text, str):
            raise MalformedResponse(f"{where}: address {text!r} is not a string")
        if self.verify_checksums:
            try:
                canonical = canonical_btc(text)
            except AddressError as exc:
                raise MalformedResponse(f"{where}: {exc.message}") from exc
        else:
            canonical = text.lower() if text[:3].lower() == "bc1" else text
            if not _ADDRESS_SHAPE.match(canonical):
                raise MalformedResponse(f"{where}: {text!r} is not a Bitcoin mainnet address")
        self._addresses[text] = canonical
        return canonical

    def _flush(self) -> None:
        """Rows appended to the lists become a chunk (so that chunks keep their order)."""
        pending = {name: getattr(self, name) for name in SOURCE["utxo"]}
        if not any(any(columns.values()) for columns in pending.values()):
            return
        for name, table in arrow_tables(pending, SOURCE["utxo"]).items():
            if table.num_rows:
                self._chunks[name].append(table)
        for columns in pending.values():
            for values in columns.values():
                values.clear()

    def add_tables(self, tables: dict[str, pa.Table]) -> None:
        self._flush()
        for name, table in tables.items():
            self._chunks[name].append(table)

    def table(self, name: str) -> pa.Table:
        self._flush()
        chunks = self._chunks[name]
        if not chunks:
            return SOURCE["utxo"][name].empty_table()
        if len(chunks) > 1:
            self._chunks[name] = [pa.concat_tables(chunks)]
        return self._chunks[name][0]

    def block_range(self, first: int, last: int) -> BlockRange:
        try:
            tables = {name: self.table(name) for name in SOURCE["utxo"]}
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError) as exc:
            raise MalformedResponse(
                f"blocks {first}..{last} of btc hold bad values: {exc}"
            ) from exc
        return BlockRange(CHAIN, first, last, tables)


# --- getblock answers, decoded by msgspec into the fields read here ---------------------------


# gc=False: decoded records hold no reference cycles, so the collector need not track them


class CoreScript(msgspec.Struct, gc=False):
    type: str | None = None
    address: str | None = None
    addresses: list[str] | None = None  # before Core 22.0


class CoreOutput(msgspec.Struct, kw_only=True, gc=False):
    n: int
    value: float
    scriptPubKey: CoreScript  # noqa: N815 - Core's name


class CorePrevout(msgspec.Struct, kw_only=True, gc=False):
    value: float
    scriptPubKey: CoreScript | None = None  # noqa: N815


class CoreInput(msgspec.Struct, gc=False):
    coinbase: str | None = None
    txid: str | None = None
    vout: int | None = None
    prevout: CorePrevout | None = None  # verbosity 3


class CoreTx(msgspec.Struct, kw_only=True, gc=False):
    txid: str
    vin: list[CoreInput]
    vout: list[CoreOutput]
    locktime: int
    version: int
    size: int = 0
    vsize: int | None = None
    fee: float | None = None  # verbosity 3


class CoreBlock(msgspec.Struct, kw_only=True, gc=False):
    hash: str
    height: int
    time: int
    tx: list[CoreTx | str]  # hashes only at verbosity 1
    previousblockhash: str | None = None


_BLOCK_DECODER = msgspec.json.Decoder(CoreBlock)


def decode_core_block(raw: bytes) -> CoreBlock:
    """One ``getblock`` result (the JSON text of the result object) as a ``CoreBlock``."""
    try:
        return _BLOCK_DECODER.decode(raw)
    except msgspec.DecodeError as exc:
        raise MalformedResponse(f"a getblock answer is malformed: {exc}") from exc


def hex_hashes(values: list[str], where: str, prefix: str = "") -> list[str]:
    """Block or transaction hashes (64 hex digits after ``prefix``) in canonical form
    (lower-case), checked in bulk: one pass over all of them, not a regex per hash."""
    if not values:
        return []
    size, n = 64 + len(prefix), len(values)
    joined = "".join(values)
    # every one of the right length, each starting with the prefix, all hex digits after it
    ok = len(joined) == size * n and " " not in joined and set(map(len, values)) == {size}
    if ok and prefix:
        ok = all(joined[i::size] == c * n for i, c in enumerate(prefix))
        body = joined.replace(prefix, "")
    else:
        body = joined
    if ok:
        try:
            bytes.fromhex(body)
        except ValueError:
            ok = False
    if not ok:
        bad = next(
            (v for v in values if len(v) != size or not _HEX.fullmatch(v[len(prefix) :])), values[0]
        )
        raise MalformedResponse(f"{where}: {bad!r} is not a block or transaction hash")
    return values if joined.lower() == joined else [v.lower() for v in values]


def hex_hashes_or_none(values: list[str | None], where: str, prefix: str = "") -> list[str | None]:
    """``hex_hashes`` of a column with nulls."""
    if None not in values:
        return hex_hashes(values, where, prefix)  # type: ignore[arg-type,return-value]
    present: list[str] = list(compress(values, map(is_not, values, repeat(None))))  # type: ignore[arg-type]
    checked = hex_hashes(present, where, prefix)
    if checked is present:  # canonical already: the column as it came
        return values
    given = iter(checked)
    return [None if v is None else next(given) for v in values]


def _as_block(block: Any, height: int | None) -> CoreBlock:
    if isinstance(block, CoreBlock):
        return block
    if not isinstance(block, dict):
        raise MalformedResponse(f"block {height} of btc is not a JSON object")
    try:
        return msgspec.convert(block, CoreBlock)
    except msgspec.ValidationError as exc:
        where = f"block {block.get('height', height)} of btc"
        raise MalformedResponse(f"{where} is malformed: missing or bad field ({exc})") from exc


def _satoshi(values: list[float], where: str) -> np.ndarray:
    """BTC amounts (doubles) in satoshi, exactly, in bulk: below 2.1e15 satoshi a double's
    error (< 0.36 sat) rounds away."""
    if not values:
        return np.zeros(0, dtype=np.int64)
    btc = np.asarray(values, dtype=np.float64)
    bad = ~((btc >= 0) & (btc <= MAX_BTC))
    if bad.any():
        value = values[int(np.argmax(bad))]
        raise MalformedResponse(f"{where}: amount {value!r} is outside 0..21,000,000 BTC")
    out: np.ndarray = np.rint(btc * COIN).astype(np.int64)
    return out


def _output_address(cols: UtxoColumns, spk: CoreScript, script_type: str, where: str) -> str:
    text = spk.address
    if text is None and spk.addresses:
        known = cols._addresses.get(spk.addresses[0])
        if known is not None:
            return known
    if text is None and spk.addresses:
        text = spk.addresses[0]
    if text is None:
        raise MalformedResponse(f"{where}: a {script_type} output has no address")
    return cols.address(text, where)


def _input_address(cols: UtxoColumns, spk: CoreScript, where: str) -> str | None:
    if spk.address is None or not _SCRIPT_TYPES.get(str(spk.type), _NONSTANDARD)[1]:
        return None
    return cols._addresses.get(spk.address) or cols.address(spk.address, where)


def _all_of(values: list[Any], kind: type) -> bool:
    """Every value is exactly a ``kind`` (one C-level pass)."""
    return not values or set(map(type, values)) == {kind}


def _lengths(values: list[str]) -> set[int]:
    """The lengths the strings have (one C-level pass)."""
    return set(map(len, values))


def _repeat(values: pa.Array, rows: np.ndarray, width: int | None) -> pa.Array:
    """``values.take(rows)``; by numpy where every string has ``width`` characters."""
    if width is not None and values.null_count == 0 and values.offset == 0:
        data = values.buffers()[2]
        if data is not None and data.size == width * len(values):  # ASCII: 1 byte a char
            return repeat_strings(values, rows, width)
    return values.take(pa.array(rows))


def _strings(*columns: list[Any]) -> list[pa.Array]:
    """String columns converted to Arrow in one call (the per-call cost is what counts for
    small blocks), handed back as slices of the one array."""
    flat = pa.array(list(_flat(columns)), _STR)
    out, at = [], 0
    for values in columns:
        out.append(flat.slice(at, len(values)))
        at += len(values)
    return out


def _ints(where: str, *columns: tuple[list[Any], pa.DataType]) -> list[pa.Array]:
    """Integer columns (int64 or int32) through one numpy conversion, sliced; the int32
    ones range-checked and narrowed together."""
    total = sum(len(c) for c, _kind in columns)
    flat = np.fromiter(_flat(c for c, _kind in columns), np.int64, total)
    narrow = [kind == _I32 for _c, kind in columns]
    small = np.empty(0, dtype=np.int32)
    if any(narrow):
        wide = np.concatenate(
            [
                flat[a : a + len(c)]
                for (c, _k), a, w in zip(columns, _starts(columns), narrow, strict=True)
                if w
            ]
        )
        if wide.size and (wide.min() < -(2**31) or wide.max() >= 2**31):
            raise MalformedResponse(f"{where}: a number is out of range")
        small = wide.astype(np.int32)
    out, at, at_small = [], 0, 0
    for (values, _kind), w in zip(columns, narrow, strict=True):
        n = len(values)
        if w:
            out.append(pa.array(small[at_small : at_small + n]))
            at_small += n
        else:
            out.append(pa.array(flat[at : at + n]))
        at += n
    return out


def _starts(columns: Sequence[tuple[list[Any], Any]]) -> list[int]:
    out, at = [], 0
    for values, _kind in columns:
        out.append(at)
        at += len(values)
    return out


def add_core_blocks(cols: UtxoColumns, blocks: Sequence[Any], first: int | None = None) -> None:
    """Append ``getblock`` (verbosity 2 or 3) results (``CoreBlock``s or dicts) for heights
    ``first..`` (or whatever heights they carry) to ``cols``, as Arrow tables built column
    by column: one list comprehension per field read, the rest in numpy and Arrow."""
    parsed: list[CoreBlock] = list(blocks)
    if not _all_of(parsed, CoreBlock):
        parsed = [_as_block(b, None if first is None else first + i) for i, b in enumerate(blocks)]
    if not parsed:
        return
    where = f"blocks {parsed[0].height}..{parsed[-1].height} of btc"
    try:
        with gc_paused():
            cols.add_tables(_core_tables(cols, parsed, first, where))
    except (TypeError, ValueError, AttributeError, IndexError, OverflowError) as exc:
        if isinstance(exc, MalformedResponse):
            raise
        raise MalformedResponse(f"{where} is malformed: missing or bad field {exc}") from exc
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise MalformedResponse(f"{where} hold bad values: {exc}") from exc


def _core_tables(
    cols: UtxoColumns, parsed: list[CoreBlock], first: int | None, where: str
) -> dict[str, pa.Table]:
    heights = [blk.height for blk in parsed]
    if first is not None and heights != list(range(first, first + len(parsed))):
        i = next(i for i, h in enumerate(heights) if h != first + i)
        raise MalformedResponse(f"asked for block {first + i} of btc, the node sent {heights[i]}")
    times = [blk.time for blk in parsed]
    tx_lists = [blk.tx for blk in parsed]
    counts = np.fromiter(map(len, tx_lists), np.int64, len(tx_lists))
    txs: list[CoreTx] = list(_flat(tx_lists))  # type: ignore[arg-type]
    if not _all_of(txs, CoreTx):
        h = next(blk.height for blk in parsed if not _all_of(blk.tx, CoreTx))
        raise MalformedResponse(f"block {h} of btc carries no transactions (use verbosity 2 or 3)")
    n_tx = len(txs)
    tx_block = np.repeat(np.arange(len(parsed)), counts)
    starts = np.cumsum(counts) - counts
    txids = [tx.txid for tx in txs]
    vin_lists = [tx.vin for tx in txs]
    coinbase = [bool(vin) and vin[0].coinbase is not None for vin in vin_lists]
    fees = [tx.fee for tx in txs]
    if fees.count(None) == n_tx:
        fee = np.zeros(n_tx, dtype=np.int64)
    else:
        paying = [f for f, cb in zip(fees, coinbase, strict=True) if f is not None and not cb]
        sats = iter(_satoshi(paying, where).tolist())
        fee = np.array(
            [
                next(sats) if f is not None and not cb else 0
                for f, cb in zip(fees, coinbase, strict=True)
            ],
            dtype=np.int64,
        )
    sizes = [tx.vsize for tx in txs]
    if None in sizes:
        sizes = [tx.size if tx.vsize is None else tx.vsize for tx in txs]

    vout_lists = [tx.vout for tx in txs]
    vouts: list[CoreOutput] = list(_flat(vout_lists))
    out_tx = np.repeat(np.arange(n_tx), np.fromiter(map(len, vout_lists), np.int64, n_tx))
    spks = [v.scriptPubKey for v in vouts]
    kinds = list(map(_SCRIPT_TYPES.get, [spk.type for spk in spks]))  # type: ignore[arg-type]
    if None in kinds:
        kinds = [k or _NONSTANDARD for k in kinds]
    script_types = [k[0] for k in kinds]  # type: ignore[index]
    has_address = [k[1] for k in kinds]  # type: ignore[index]
    # addresses seen before are canonical already: one dict look-up each
    known = list(map(cols._addresses.get, [spk.address for spk in spks]))  # type: ignore[arg-type]
    out = [a if h else None for h, a in zip(has_address, known, strict=True)]
    if out.count(None) != has_address.count(False):
        out = [
            (a or _output_address(cols, spk, k, where)) if h else None
            for a, h, k, spk in zip(out, has_address, script_types, spks, strict=True)
        ]

    spending_rows = [i for i, cb in enumerate(coinbase) if not cb]
    spending = [vin_lists[i] for i in spending_rows]
    vins: list[CoreInput] = list(_flat(spending))
    in_counts = np.fromiter(map(len, spending), np.int64, len(spending))
    in_tx = np.repeat(np.asarray(spending_rows, dtype=np.int64), in_counts)
    in_n = np.arange(len(vins), dtype=np.int64) - np.repeat(
        np.cumsum(in_counts) - in_counts, in_counts
    )
    prev = [vi.txid for vi in vins]
    prev_n = [vi.vout for vi in vins]
    if None in prev or None in prev_n:
        raise MalformedResponse(f"{where} is malformed: an input names no txid and vout")
    prevouts = [vi.prevout for vi in vins]
    given = [p.value for p in prevouts if p is not None]
    in_addresses: list[str | None]
    if not given:  # verbosity 2: the store resolves the inputs
        in_value = pa.nulls(len(vins), _I64)
        in_addresses = []
    else:
        values = iter(_satoshi(given, where).tolist())
        in_value = pa.array([None if p is None else next(values) for p in prevouts], _I64)
        in_addresses = [
            None
            if p is None or p.scriptPubKey is None
            else _input_address(cols, p.scriptPubKey, where)
            for p in prevouts
        ]

    txid_width = 64 if _lengths(txids) == {64} else None
    txid_array = pa.array(txids, _STR)  # (its own array: _repeat reads its buffer)
    block_hash, prev_hash, out_address, script_type, prev_hash_in, in_address = _strings(
        hex_hashes([blk.hash for blk in parsed], where),
        hex_hashes_or_none([blk.previousblockhash for blk in parsed], where),
        out,
        script_types,
        prev,
        in_addresses,
    )
    if not given:
        in_address = pa.nulls(len(vins), _STR)
    height, time, locktime, version, size, out_n, in_prev_n = _ints(
        where,
        (heights, _I64),
        (times, _I64),
        ([tx.locktime for tx in txs], _I64),
        ([tx.version for tx in txs], _I32),
        (sizes, _I32),
        ([v.n for v in vouts], _I32),
        (prev_n, _I32),
    )
    heights_np, times_np = height.to_numpy(), time.to_numpy()
    blocks = pa.Table.from_arrays(
        [height, block_hash, prev_hash, time.view(TIME)], schema=SOURCE["utxo"]["blocks"]
    )
    tx_table = pa.Table.from_arrays(
        [
            txid_array,
            pa.array(heights_np[tx_block]),
            pa.array((np.arange(n_tx, dtype=np.int64) - starts[tx_block]).astype(np.int32)),
            pa.array(times_np[tx_block]).view(TIME),
            pa.array(np.array(coinbase, dtype=bool)),
            pa.array(fee),
            locktime,
            version,
            size,
        ],
        schema=SOURCE["utxo"]["txs"],
    )
    outputs = pa.Table.from_arrays(
        [
            _repeat(txid_array, out_tx, txid_width),
            out_n,
            out_address,
            pa.array(_satoshi([v.value for v in vouts], where)),
            script_type,
        ],
        schema=SOURCE["utxo"]["outputs"],
    )
    inputs = pa.Table.from_arrays(
        [
            _repeat(txid_array, in_tx, txid_width),
            pa.array(in_n.astype(np.int32)),
            prev_hash_in,
            in_prev_n,
            in_address,
            in_value,
        ],
        schema=SOURCE["utxo"]["inputs"],
    )
    return {"blocks": blocks, "txs": tx_table, "outputs": outputs, "inputs": inputs}


# --- the compiled fast path: raw answers straight into columns --------------------------------

_TYPE_NAMES = [_SCRIPT_TYPES[t][0] for t in kernels.CORE_TYPE_NAMES]
_TYPE_BYTES = "".join(_TYPE_NAMES).encode()
_TYPE_LEN = np.array([len(t) for t in _TYPE_NAMES], dtype=np.int64)
_TYPE_START = np.cumsum(_TYPE_LEN) - _TYPE_LEN
assert [k for k, (_n, has) in _SCRIPT_TYPES.items() if has] == list(
    kernels.CORE_TYPE_NAMES[: kernels.CORE_ADDRESS_TYPES]
)


def _bitmap(valid: np.ndarray) -> tuple[pa.Buffer | None, int]:
    """An Arrow validity bitmap of a bool array (None where all are valid), and the nulls."""
    nulls = int(valid.size - np.count_nonzero(valid))
    if nulls == 0:
        return None, 0
    return pa.py_buffer(np.packbits(valid, bitorder="little")), nulls


def number_column(
    values: np.ndarray, kind: pa.DataType, valid: np.ndarray | None = None
) -> pa.Array:
    """A numpy array (of ``kind``'s width) as an Arrow array of ``kind``, without a copy."""
    bitmap, nulls = (None, 0) if valid is None else _bitmap(valid)
    return pa.Array.from_buffers(
        kind, values.size, [bitmap, pa.py_buffer(np.ascontiguousarray(values))], nulls
    )


def bool_column(values: np.ndarray) -> pa.Array:
    bits = np.packbits(values.astype(np.bool_), bitorder="little")
    return pa.Array.from_buffers(pa.bool_(), values.size, [None, pa.py_buffer(bits)], 0)


def string_columns(
    data: np.ndarray, columns: list[tuple[np.ndarray, np.ndarray, np.ndarray | None]]
) -> list[pa.Array]:
    """String columns, each the strings ``data[s:s+l]`` (ASCII) of its (starts, lengths,
    valid or None), gathered by one compiled call into one Arrow array, handed back as
    slices of it."""
    starts = np.concatenate([c[0] for c in columns])
    lengths = np.concatenate([c[1] for c in columns])
    offsets, chars = kernels.gather(data, starts, lengths)
    if all(c[2] is None for c in columns):
        bitmap, nulls = None, 0
    else:
        valid = np.concatenate(
            [np.ones(c[0].size, np.bool_) if c[2] is None else c[2] for c in columns]
        )
        bitmap, nulls = _bitmap(valid)
    flat = pa.Array.from_buffers(
        _STR, starts.size, [bitmap, pa.py_buffer(offsets), pa.py_buffer(chars)], nulls
    )
    out, at = [], 0
    for c in columns:
        out.append(flat.slice(at, c[0].size))
        at += c[0].size
    return out


def _joined(
    answers: Sequence[Any], tail: bytes = b""
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The answers' bytes as one array and as int64 words (the compiled scans read strings
    eight bytes at a time), with each answer's start and end in it; then ``tail``, spaces
    to a whole word, and a quote (the sentinel the compiled scans of strings stop at)."""
    lengths = np.fromiter(map(len, answers), np.int64, len(answers))
    ends = np.cumsum(lengths)
    pad = b" " * (-(int(lengths.sum()) + len(tail) + 1) % 8)
    data = np.frombuffer(b"".join([*answers, tail, pad, b'"']), dtype=np.uint8)
    words = data.view(np.int64)
    if not words.flags.aligned:
        data = data.copy()
        words = data.view(np.int64)
    return data, words, ends - lengths, ends


def core_raw_tables(answers: Sequence[Any], first: int | None = None) -> dict[str, pa.Table] | None:
    """``getblock`` answers (their JSON bytes) as the four UTXO tables by one compiled pass
    (``kernels.core_blocks``); None where the fast path does not take them (the general
    path then decodes them, and says what is wrong if anything is)."""
    # the store's script type names follow the answers
    data, words, starts, ends = _joined(answers, _TYPE_BYTES)
    names_at = int(ends[-1])
    caps = [max(64, data.size // 400), max(64, data.size // 128), max(64, data.size // 128)]
    while True:
        status, _no, _ni, blk, txc, outc, inc = kernels.core_blocks(
            data, words, starts, ends, *caps
        )
        if status != kernels.FULL:
            break
        caps = [2 * c for c in caps]
    if status == kernels.GIVE_UP:
        return None
    heights, times, hash_at, prev_at, block_txs = blk
    txid_at, txid_len, coinbase, fee, locktime, version, size = txc
    out_tx, out_n, out_value, out_type, out_addr, out_addr_len = outc
    in_tx, in_n, in_prev, in_prev_len, in_prev_n, in_value, in_has_value, in_addr, in_addr_len = inc
    nb, n_tx = heights.size, txid_at.size
    if first is not None and not np.array_equal(heights, np.arange(first, first + nb)):
        return None  # the general path says which
    tx_block = np.repeat(np.arange(nb), block_txs)
    tx_start = np.cumsum(block_txs) - block_txs
    hash64 = np.full(nb, 64, dtype=np.int64)
    has_prev = prev_at >= 0
    has_address = out_addr_len >= 0
    has_in_address = in_addr_len >= 0
    (
        block_hash,
        prev_hash,
        txid,
        out_txid,
        out_address,
        script_type,
        in_txid,
        in_prev_txid,
        in_address,
    ) = string_columns(
        data,
        [
            (hash_at, hash64, None),
            (np.maximum(prev_at, 0), hash64 * has_prev, has_prev),
            (txid_at, txid_len, None),
            (txid_at[out_tx], txid_len[out_tx], None),
            (out_addr, np.maximum(out_addr_len, 0), has_address),
            (names_at + _TYPE_START[out_type], _TYPE_LEN[out_type], None),
            (txid_at[in_tx], txid_len[in_tx], None),
            (in_prev, in_prev_len, None),
            (in_addr, np.maximum(in_addr_len, 0), has_in_address),
        ],
    )
    blocks = pa.Table.from_arrays(
        [number_column(heights, _I64), block_hash, prev_hash, number_column(times, TIME)],
        schema=SOURCE["utxo"]["blocks"],
    )
    txs = pa.Table.from_arrays(
        [
            txid,
            number_column(heights[tx_block], _I64),
            number_column((np.arange(n_tx) - tx_start[tx_block]).astype(np.int32), _I32),
            number_column(times[tx_block], TIME),
            bool_column(coinbase),
            number_column(fee, _I64),
            number_column(locktime, _I64),
            number_column(version.astype(np.int32), _I32),
            number_column(size.astype(np.int32), _I32),
        ],
        schema=SOURCE["utxo"]["txs"],
    )
    outputs = pa.Table.from_arrays(
        [
            out_txid,
            number_column(out_n.astype(np.int32), _I32),
            out_address,
            number_column(out_value, _I64),
            script_type,
        ],
        schema=SOURCE["utxo"]["outputs"],
    )
    inputs = pa.Table.from_arrays(
        [
            in_txid,
            number_column(in_n.astype(np.int32), _I32),
            in_prev_txid,
            number_column(in_prev_n.astype(np.int32), _I32),
            in_address,
            number_column(in_value, _I64, in_has_value.astype(np.bool_)),
        ],
        schema=SOURCE["utxo"]["inputs"],
    )
    return {"blocks": blocks, "txs": txs, "outputs": outputs, "inputs": inputs}


_RAW_DECODER = msgspec.json.Decoder(CoreBlock | None)


def add_core_raw(cols: UtxoColumns, answers: Sequence[Any], first: int | None = None) -> None:
    """Append ``getblock`` (verbosity 2 or 3) answers, as the node's JSON bytes (``bytes``
    or ``msgspec.Raw``), for heights ``first..`` to ``cols``: by the compiled pass where it
    takes them, else decoded into ``CoreBlock``s and added by ``add_core_blocks``."""
    if not answers:
        return
    if not cols.verify_checksums:
        with gc_paused():
            tables = core_raw_tables(answers, first)
        if tables is not None:
            cols.add_tables(tables)
            return
    blocks = []
    with gc_paused():
        for k, answer in enumerate(answers):
            try:
                blocks.append(_RAW_DECODER.decode(answer))  # a null: "not a JSON object"
            except msgspec.DecodeError as exc:
                where = "a getblock answer" if first is None else f"block {first + k} of btc"
                raise MalformedResponse(f"{where} is malformed: {exc}") from exc
    add_core_blocks(cols, blocks, first)


def add_core_block(cols: UtxoColumns, block: Any, height: int | None = None) -> None:
    """Append one ``getblock`` (verbosity 2 or 3) result to ``cols``."""
    add_core_blocks(cols, [block], height)


def parse_core_blocks(blocks: Sequence[Any], first: int) -> BlockRange:
    """``getblock`` results (``CoreBlock``s or dicts) for heights ``first..`` as one batch."""
    cols = UtxoColumns()
    add_core_blocks(cols, blocks, first)
    return cols.block_range(first, first + len(blocks) - 1)


class BitcoinCoreSource:
    """Blocks from a Bitcoin Core node (``getblockcount``, ``getblockhash``, ``getblock``)."""

    chain = CHAIN

    def __init__(self, client: RpcClient, *, verbosity: int = 3) -> None:
        self.client = client
        self.verbosity = verbosity
        self.label = client.url

    def network(self) -> str:
        genesis = self.block_hashes([0])[0]
        if genesis != MAINNET_GENESIS:
            raise MalformedResponse(
                f"the node at {self.client.url} is not on Bitcoin mainnet (its genesis block "
                f"is {genesis}): chainsleuth's btc chain is mainnet"
            )
        return f"bitcoin:{genesis}"

    def tip(self) -> int:
        count = self.client.call("getblockcount")
        if not isinstance(count, int) or count < 0:
            raise MalformedResponse(f"getblockcount answered {count!r}")
        return count

    def block_hashes(self, heights: Sequence[int]) -> list[str]:
        hashes = self.client.batch([("getblockhash", [h]) for h in heights])
        try:
            return [canonical_hash(CHAIN, h) for h in hashes]
        except (AttributeError, TypeError) as exc:
            raise MalformedResponse(f"getblockhash answered a non-string: {exc}") from exc

    def fetch(self, first: int, last: int) -> BlockRange:
        heights = list(range(first, last + 1))
        hashes = self.block_hashes(heights)
        try:
            # each answer's JSON bytes, for the compiled pass (add_core_raw)
            blocks = self.client.batch(
                [("getblock", [h, self.verbosity]) for h in hashes], result_type=msgspec.Raw
            )
        except RpcError as exc:
            if self.verbosity == 3 and exc.rpc_code == -8:  # before 25.0: verbosity 0..2
                self.verbosity = 2
                return self.fetch(first, last)
            raise
        cols = UtxoColumns()
        add_core_raw(cols, blocks, first)
        return cols.block_range(first, last)
