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
amounts converted with numpy, block hashes checked in one pass (``hex_hashes``) and
addresses through a per-batch cache. Dicts (tests, saved responses) go through
``msgspec.convert`` into the same records.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from itertools import chain, repeat
from typing import Any

import msgspec
import numpy as np
import pyarrow as pa

from chainsleuth.chain.addresses import AddressError, canonical_btc, canonical_hash
from chainsleuth.chain.batch import BlockRange
from chainsleuth.chain.enums import ScriptType
from chainsleuth.chain.schemas import SOURCE
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


_SCRIPT_TYPES = {k: (str(v), v in ADDRESS_TYPES) for k, v in CORE_TYPES.items()}
_NONSTANDARD = (str(ScriptType.NONSTANDARD), False)


class UtxoColumns:
    """Columns of the four UTXO source tables, filled block by block."""

    def __init__(self, *, verify_checksums: bool = False) -> None:
        #: check each new address's Base58Check/Bech32 checksum (slow in pure Python); else
        #: only its shape, trusting the node that encoded it from the script
        self.verify_checksums = verify_checksums
        self.blocks: dict[str, list[Any]] = {n: [] for n in SOURCE["utxo"]["blocks"].names}
        self.txs: dict[str, list[Any]] = {n: [] for n in SOURCE["utxo"]["txs"].names}
        self.outputs: dict[str, list[Any]] = {n: [] for n in SOURCE["utxo"]["outputs"].names}
        self.inputs: dict[str, list[Any]] = {n: [] for n in SOURCE["utxo"]["inputs"].names}
        self._addresses: dict[str, str] = {}

    @property
    def tx_count(self) -> int:
        return len(self.txs["hash"])

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

    def table(self, name: str) -> pa.Table:
        columns: dict[str, list[Any]] = getattr(self, name)
        return pa.Table.from_pydict(columns, schema=SOURCE["utxo"][name])

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
        return list(hex_hashes(values, where, prefix))  # type: ignore[arg-type]
    given = iter(hex_hashes([v for v in values if v is not None], where, prefix))
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


def _satoshi(values: list[float], where: str) -> list[int]:
    """BTC amounts (doubles) in satoshi, exactly, in bulk: below 2.1e15 satoshi a double's
    error (< 0.36 sat) rounds away."""
    if not values:
        return []
    btc = np.asarray(values, dtype=np.float64)
    bad = ~((btc >= 0) & (btc <= MAX_BTC))
    if bad.any():
        value = values[int(np.argmax(bad))]
        raise MalformedResponse(f"{where}: amount {value!r} is outside 0..21,000,000 BTC")
    out: list[int] = np.rint(btc * COIN).astype(np.int64).tolist()
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


def add_core_blocks(cols: UtxoColumns, blocks: Sequence[Any], first: int | None = None) -> None:
    """Append ``getblock`` (verbosity 2 or 3) results (``CoreBlock``s or dicts) for heights
    ``first..`` (or whatever heights they carry) to ``cols``, column by column."""
    if all(type(b) is CoreBlock for b in blocks):
        parsed: list[CoreBlock] = list(blocks)
    else:
        parsed = [_as_block(b, None if first is None else first + i) for i, b in enumerate(blocks)]
    if not parsed:
        return
    where = f"blocks {parsed[0].height}..{parsed[-1].height} of btc"
    try:
        heights = [blk.height for blk in parsed]
        if first is not None and heights != list(range(first, first + len(parsed))):
            i = next(i for i, h in enumerate(heights) if h != first + i)
            raise MalformedResponse(
                f"asked for block {first + i} of btc, the node sent {heights[i]}"
            )
        b = cols.blocks
        b["height"] += heights
        b["hash"] += hex_hashes([blk.hash for blk in parsed], where)
        b["prev_hash"] += hex_hashes_or_none([blk.previousblockhash for blk in parsed], where)
        b["time"] += [blk.time for blk in parsed]
        tx_lists = [blk.tx for blk in parsed]
        counts = list(map(len, tx_lists))
        txs: list[CoreTx] = list(_flat(tx_lists))  # type: ignore[arg-type]
        if not all(type(tx) is CoreTx for tx in txs):
            h = next(blk.height for blk in parsed if any(type(tx) is not CoreTx for tx in blk.tx))
            raise MalformedResponse(
                f"block {h} of btc carries no transactions (use verbosity 2 or 3)"
            )
        t = cols.txs
        txids = [tx.txid for tx in txs]
        t["hash"] += txids
        t["height"] += _flat(map(repeat, heights, counts))
        t["position"] += _flat(map(range, counts))
        t["time"] += _flat(map(repeat, [blk.time for blk in parsed], counts))
        vin_lists = [tx.vin for tx in txs]
        coinbase = [bool(vin) and vin[0].coinbase is not None for vin in vin_lists]
        t["coinbase"] += coinbase
        fees = [tx.fee for tx in txs]
        if fees.count(None) == len(fees):
            t["fee"] += [0] * len(txs)
        else:
            paying = [f for f, cb in zip(fees, coinbase, strict=True) if f is not None and not cb]
            sats = iter(_satoshi(paying, where))
            t["fee"] += [
                next(sats) if f is not None and not cb else 0
                for f, cb in zip(fees, coinbase, strict=True)
            ]
        t["locktime"] += [tx.locktime for tx in txs]
        t["version"] += [tx.version for tx in txs]
        t["size"] += [tx.size if tx.vsize is None else tx.vsize for tx in txs]

        o = cols.outputs
        vout_lists = [tx.vout for tx in txs]
        vouts: list[CoreOutput] = list(_flat(vout_lists))
        o["tx_hash"] += _flat(map(repeat, txids, map(len, vout_lists)))
        # (list comprehensions: the fastest way to read a field of many records)
        o["n"] += [v.n for v in vouts]
        o["value"] += _satoshi([v.value for v in vouts], where)
        spks = [v.scriptPubKey for v in vouts]
        kinds = list(map(_SCRIPT_TYPES.get, [spk.type for spk in spks]))  # type: ignore[arg-type]
        if None in kinds:
            kinds = [k or _NONSTANDARD for k in kinds]
        script_types = [k[0] for k in kinds]  # type: ignore[index]
        has_address = [k[1] for k in kinds]  # type: ignore[index]
        o["script_type"] += script_types
        # addresses seen before are canonical already: one dict look-up each
        known = list(map(cols._addresses.get, [spk.address for spk in spks]))  # type: ignore[arg-type]
        out = [a if h else None for h, a in zip(has_address, known, strict=True)]
        if out.count(None) != has_address.count(False):
            out = [
                (a or _output_address(cols, spk, k, where)) if h else None
                for a, h, k, spk in zip(out, has_address, script_types, spks, strict=True)
            ]
        o["address"] += out

        ins = cols.inputs
        spending = [vin for vin, cb in zip(vin_lists, coinbase, strict=True) if not cb]
        spending_ids = [txid for txid, cb in zip(txids, coinbase, strict=True) if not cb]
        vins: list[CoreInput] = list(_flat(spending))
        in_counts = list(map(len, spending))
        ins["tx_hash"] += _flat(map(repeat, spending_ids, in_counts))
        ins["n"] += _flat(map(range, in_counts))
        prev = [vi.txid for vi in vins]
        prev_n = [vi.vout for vi in vins]
        if None in prev or None in prev_n:
            raise MalformedResponse(f"{where} is malformed: an input names no txid and vout")
        ins["prev_tx_hash"] += prev
        ins["prev_n"] += prev_n
        prevouts = [vi.prevout for vi in vins]
        given = [p.value for p in prevouts if p is not None]
        if not given:  # verbosity 2: the store resolves the inputs
            ins["address"] += [None] * len(vins)
            ins["value"] += [None] * len(vins)
            return
        values = iter(_satoshi(given, where))
        ins["value"] += [None if p is None else next(values) for p in prevouts]
        ins["address"] += [
            None
            if p is None or p.scriptPubKey is None
            else _input_address(cols, p.scriptPubKey, where)
            for p in prevouts
        ]
    except (TypeError, ValueError, AttributeError, IndexError) as exc:
        if isinstance(exc, MalformedResponse):
            raise
        raise MalformedResponse(f"{where} is malformed: missing or bad field {exc}") from exc


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
            blocks = self.client.batch(
                [("getblock", [h, self.verbosity]) for h in hashes], result_type=CoreBlock
            )
        except RpcError as exc:
            if self.verbosity == 3 and exc.rpc_code == -8:  # before 25.0: verbosity 0..2
                self.verbosity = 2
                return self.fetch(first, last)
            raise
        return parse_core_blocks(blocks, first)
