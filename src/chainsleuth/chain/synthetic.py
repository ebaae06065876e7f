"""Synthetic batches for benchmarks and load tests of the store (not the world generator).

Built vectorised with numpy so that millions of transactions take seconds: a UTXO chain
whose transactions spend random unspent outputs (1-3 inputs, 1-3 outputs, a fee), paying
new addresses, random earlier ones and a few very busy ones; and an account chain with
native transfers, failed transactions, contract creations and ERC-20 transfers of one
token. Addresses and hashes have the canonical shapes but no valid checksums.
"""

from __future__ import annotations

import binascii
from datetime import UTC, datetime

import numpy as np
import pyarrow as pa

from chainsleuth.chain.batch import BlockRange
from chainsleuth.chain.schemas import SOURCE

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_BECH32 = np.frombuffer(b"qpzry9x8gf2tvdw0s3jn54khce6mua7l", dtype=np.uint8)
_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
_GENESIS = int(datetime(2023, 1, 1, tzinfo=UTC).timestamp())
HOT_ADDRESSES = 1000  # ids 0..999 receive a tenth of all payments


def _splitmix(x: np.ndarray) -> np.ndarray:
    z = x.astype(np.uint64) * _GOLDEN + _GOLDEN
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def _random_bytes(ids: np.ndarray, salt: int, n_bytes: int) -> np.ndarray:
    """Deterministic pseudo-random bytes per id: an (n, n_bytes) uint8 matrix."""
    words = (n_bytes + 7) // 8
    base = ids.astype(np.uint64) * np.uint64(words * 7919) + np.uint64(salt)
    cols = [_splitmix(base + np.uint64(j)) for j in range(words)]
    return np.stack(cols, axis=1).view(np.uint8).reshape(len(ids), words * 8)[:, :n_bytes]


def _strings(matrix: np.ndarray) -> pa.StringArray:
    n, width = matrix.shape
    offsets = (np.arange(n + 1, dtype=np.int32) * width).tobytes()
    return pa.StringArray.from_buffers(
        n, pa.py_buffer(offsets), pa.py_buffer(np.ascontiguousarray(matrix).tobytes())
    )


def tx_hashes(ids: np.ndarray, *, prefixed: bool, salt: int = 1) -> pa.StringArray:
    raw = np.ascontiguousarray(_random_bytes(ids, salt, 32))
    text = np.frombuffer(binascii.hexlify(raw.tobytes()), dtype=np.uint8).reshape(len(ids), 64)
    if prefixed:
        text = np.concatenate(
            [np.broadcast_to(np.frombuffer(b"0x", np.uint8), (len(ids), 2)), text], 1
        )
    return _strings(text)


_GEN = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)
_HRP_BC = [3, 3, 0, 2, 3]  # 'bc' expanded (BIP-173)
_P2WPKH_GROUPS = 33  # witness version and 32 groups of the 20-byte program


def _polymod(values: list[int]) -> int:
    chk = 1
    for value in values:
        top = chk >> 25
        chk = (chk & 0x1FFFFFF) << 5 ^ value
        for i, gen in enumerate(_GEN):
            chk ^= gen if (top >> i) & 1 else 0
    return chk


# The checksum is affine in the data: precompute each position's contribution once.
_ZERO = _polymod(_HRP_BC + [0] * (_P2WPKH_GROUPS + 6))
_CONTRIBUTION = np.array(
    [
        [
            _polymod(_HRP_BC + [v if i == j else 0 for i in range(_P2WPKH_GROUPS)] + [0] * 6)
            ^ _ZERO
            for v in range(32)
        ]
        for j in range(_P2WPKH_GROUPS)
    ],
    dtype=np.uint32,
)


def _bech32_checksum(data: np.ndarray) -> np.ndarray:
    """Bech32 (BIP-173) checksums of 'bc' addresses, vectorised: ``data`` is (n, 33) 5-bit
    groups; returns (n, 6) 5-bit groups."""
    chk = np.full(data.shape[0], _ZERO ^ 1, dtype=np.uint32)
    for j in range(_P2WPKH_GROUPS):
        chk ^= _CONTRIBUTION[j][data[:, j]]
    shifts = np.array([25, 20, 15, 10, 5, 0], np.uint32)
    return ((chk[:, None] >> shifts) & np.uint32(31)).astype(np.uint8)


def btc_addresses(ids: np.ndarray) -> pa.StringArray:
    """Valid P2WPKH (bech32, witness v0) addresses, one per id."""
    program = np.ascontiguousarray(_random_bytes(ids, 77, 21)).astype(np.uint16)
    data = np.zeros((len(ids), _P2WPKH_GROUPS), np.uint8)  # group 0: witness version 0
    for k in range(32):  # 5-bit groups of the 20-byte program, big-endian
        bit = 5 * k
        pair = (program[:, bit // 8] << 8) | program[:, bit // 8 + 1]
        data[:, k + 1] = (pair >> (11 - bit % 8)) & 31
    chars = _BECH32[np.concatenate([data, _bech32_checksum(data)], axis=1)]
    head = np.broadcast_to(np.frombuffer(b"bc1", np.uint8), (len(ids), 3))
    return _strings(np.concatenate([head, chars], axis=1))


def eth_addresses(ids: np.ndarray) -> pa.StringArray:
    nibbles = _random_bytes(ids, 99, 40) & np.uint8(15)
    head = np.broadcast_to(np.frombuffer(b"0x", np.uint8), (len(ids), 2))
    return _strings(np.concatenate([head, _HEX[nibbles]], axis=1))


def _times(heights: np.ndarray, seconds: int) -> pa.Array:
    return pa.array(_GENESIS + heights * seconds, pa.int64()).cast(pa.timestamp("s", tz="UTC"))


class UtxoSynth:
    """Consecutive batches of a synthetic UTXO chain."""

    def __init__(self, chain: str = "btc", *, seed: int = 1, txs_per_block: int = 2000) -> None:
        self.chain = chain
        self.rng = np.random.default_rng(seed)
        self.txs_per_block = txs_per_block
        self.height = 0
        self.next_tx = 0
        self.next_address = HOT_ADDRESSES
        self.pool_tx = np.empty(0, np.int64)
        self.pool_n = np.empty(0, np.int32)
        self.pool_value = np.empty(0, np.int64)
        self.pool_addr = np.empty(0, np.int64)

    def _new_addresses(self, n: int) -> np.ndarray:
        ids = np.arange(self.next_address, self.next_address + n, dtype=np.int64)
        self.next_address += n
        return ids

    def _payees(self, n: int) -> np.ndarray:
        rng = self.rng
        kind = rng.random(n)
        out = self._new_addresses(n)  # ids of fresh addresses, some replaced below
        reuse = kind < 0.35
        out[reuse] = rng.integers(0, self.next_address, size=int(reuse.sum()))
        hot = kind > 0.9
        out[hot] = rng.integers(0, HOT_ADDRESSES, size=int(hot.sum()))
        return out

    def batch(self, n_txs: int) -> BlockRange:
        rng = self.rng
        first_height = self.height
        seeding = self.pool_tx.size == 0
        blocks = 1 if seeding else max(1, -(-n_txs // self.txs_per_block))
        heights_of_block = first_height + np.arange(blocks, dtype=np.int64)
        if seeding:  # block 0: coinbase-like funding transactions, 2 outputs each
            n_coinbase = n_txs
            n_regular = 0
        else:
            n_coinbase = blocks
            n_regular = n_txs - blocks
        # coinbase transactions
        cb_height = np.full(n_coinbase, first_height, np.int64) if seeding else heights_of_block
        cb_outputs = 2 if seeding else 1
        # regular transactions: inputs from the pool
        k = rng.choice([1, 2, 3], size=n_regular, p=[0.55, 0.35, 0.10])
        total_in = int(k.sum())
        if total_in > self.pool_tx.size:  # not enough coins: fewer inputs
            k = np.minimum(k, 1)
            total_in = int(k.sum())
            if total_in > self.pool_tx.size:
                raise ValueError("the synthetic UTXO pool is too small for this batch")
        pick = rng.choice(self.pool_tx.size, size=total_in, replace=False)
        reg_height = np.sort(rng.integers(0, blocks, size=n_regular)) + first_height
        # global order: per block the coinbase first, then its regular transactions
        all_height = np.concatenate([cb_height, reg_height])
        is_cb = np.concatenate([np.ones(n_coinbase, bool), np.zeros(n_regular, bool)])
        order = np.lexsort((~is_cb, all_height))
        position_height = all_height[order]
        tx_index = np.empty(n_txs, np.int64)  # global tx number of each (cb, reg) row
        tx_index[order] = self.next_tx + np.arange(n_txs, dtype=np.int64)
        starts = np.searchsorted(position_height, position_height, side="left")
        positions = (np.arange(n_txs) - starts).astype(np.int32)
        cb_ids, reg_ids = tx_index[:n_coinbase], tx_index[n_coinbase:]

        # inputs
        in_tx = np.repeat(reg_ids, k)
        in_n = (np.arange(total_in) - np.repeat(np.cumsum(k) - k, k)).astype(np.int32)
        in_value = self.pool_value[pick]
        bounds = np.concatenate([[0], np.cumsum(k)[:-1]]).astype(np.int64)[:n_regular]
        value_in = np.add.reduceat(in_value, bounds) if n_regular else np.empty(0, np.int64)
        fee = np.minimum(value_in // 50, 1000 + rng.integers(0, 20000, size=n_regular))
        # outputs of regular transactions
        m = rng.choice([1, 2, 3], size=n_regular, p=[0.3, 0.6, 0.1])
        total_out = int(m.sum())
        out_tx = np.repeat(reg_ids, m)
        out_n = (np.arange(total_out) - np.repeat(np.cumsum(m) - m, m)).astype(np.int32)
        share = rng.random(total_out) + 0.05
        out_bounds = np.concatenate([[0], np.cumsum(m)[:-1]]).astype(np.int64)[:n_regular]
        share_sum = np.add.reduceat(share, out_bounds) if n_regular else np.empty(0)
        spend = np.repeat(value_in - fee, m)
        out_value = np.floor(spend * (share / np.repeat(share_sum, m))).astype(np.int64)
        short = (value_in - fee) - (
            np.add.reduceat(out_value, out_bounds) if n_regular else np.empty(0, np.int64)
        )
        if n_regular:
            out_value[out_bounds] += short  # the first output takes the rounding
        out_addr = self._payees(total_out)
        # coinbase outputs
        cb_m = np.full(n_coinbase, cb_outputs)
        cb_tx = np.repeat(cb_ids, cb_m)
        cb_n = (np.arange(n_coinbase * cb_outputs) % cb_outputs).astype(np.int32)
        if seeding:
            cb_value = rng.integers(10_000_000, 5_000_000_000, size=n_coinbase * cb_outputs)
            cb_addr = self._new_addresses(n_coinbase * cb_outputs)
        else:
            block_fees = np.bincount(reg_height - first_height, weights=fee, minlength=blocks)
            cb_value = 625_000_000 + block_fees.astype(np.int64)
            cb_addr = rng.integers(HOT_ADDRESSES - 20, HOT_ADDRESSES, size=n_coinbase)

        all_out_tx = np.concatenate([cb_tx, out_tx])
        all_out_n = np.concatenate([cb_n, out_n])
        all_out_value = np.concatenate([cb_value, out_value]).astype(np.int64)
        all_out_addr = np.concatenate([cb_addr, out_addr])
        # pool: drop spent, add new
        keep = np.ones(self.pool_tx.size, bool)
        keep[pick] = False
        prev_tx, prev_n = self.pool_tx[pick], self.pool_n[pick]
        self.pool_tx = np.concatenate([self.pool_tx[keep], all_out_tx])
        self.pool_n = np.concatenate([self.pool_n[keep], all_out_n])
        self.pool_value = np.concatenate([self.pool_value[keep], all_out_value])
        self.pool_addr = np.concatenate([self.pool_addr[keep], all_out_addr])

        fees_all = np.concatenate([np.zeros(n_coinbase, np.int64), fee])
        n_in_all = np.concatenate([np.zeros(n_coinbase, np.int64), k])
        txs = pa.table(
            {
                "hash": tx_hashes(self.next_tx + np.arange(n_txs, dtype=np.int64), prefixed=False),
                "height": position_height,
                "position": positions,
                "time": _times(position_height, 600),
                "coinbase": is_cb[order],
                "fee": fees_all[order],
                "locktime": np.zeros(n_txs, np.int64),
                "version": np.full(n_txs, 2, np.int32),
                "size": (150 + 70 * n_in_all[order]).astype(np.int32),
            }
        )
        outputs = pa.table(
            {
                "tx_hash": tx_hashes(all_out_tx, prefixed=False),
                "n": all_out_n,
                "address": btc_addresses(all_out_addr),
                "value": all_out_value,
                "script_type": pa.array(["p2wpkh"] * all_out_tx.size, pa.string()),
            }
        )
        inputs = pa.table(
            {
                "tx_hash": tx_hashes(in_tx, prefixed=False),
                "n": in_n,
                "prev_tx_hash": tx_hashes(prev_tx, prefixed=False),
                "prev_n": prev_n,
                "address": pa.nulls(total_in, pa.string()),
                "value": pa.nulls(total_in, pa.int64()),
            }
        )
        block_hash = tx_hashes(heights_of_block, prefixed=False, salt=5)
        prev_hash = tx_hashes(heights_of_block - 1, prefixed=False, salt=5).to_pylist()
        if first_height == 0:
            prev_hash[0] = None
        block_table = pa.table(
            {
                "height": heights_of_block,
                "hash": block_hash,
                "prev_hash": pa.array(prev_hash, pa.string()),
                "time": _times(heights_of_block, 600),
            }
        )
        self.height += blocks
        self.next_tx += n_txs
        tables = {"blocks": block_table, "txs": txs, "outputs": outputs, "inputs": inputs}
        return BlockRange(
            self.chain,
            first_height,
            first_height + blocks - 1,
            {name: t.cast(SOURCE["utxo"][name]) for name, t in tables.items()},
        )


class AccountSynth:
    """Consecutive batches of a synthetic account chain with one ERC-20 token."""

    TOKEN = 7  # address id of the token contract

    def __init__(self, chain: str = "eth", *, seed: int = 2, txs_per_block: int = 150) -> None:
        self.chain = chain
        self.rng = np.random.default_rng(seed)
        self.txs_per_block = txs_per_block
        self.height = 0
        self.next_tx = 0
        self.next_address = HOT_ADDRESSES

    def batch(self, n_txs: int) -> BlockRange:
        rng = self.rng
        first_height = self.height
        blocks = max(1, -(-n_txs // self.txs_per_block))
        heights_of_block = first_height + np.arange(blocks, dtype=np.int64)
        height = np.sort(rng.integers(0, blocks, size=n_txs)) + first_height
        starts = np.searchsorted(height, height, side="left")
        position = (np.arange(n_txs) - starts).astype(np.int32)
        ids = self.next_tx + np.arange(n_txs, dtype=np.int64)
        fresh = rng.random(n_txs) < 0.3
        sender = rng.integers(0, max(self.next_address, HOT_ADDRESSES + 1), size=n_txs)
        receiver = rng.integers(0, max(self.next_address, HOT_ADDRESSES + 1), size=n_txs)
        receiver[fresh] = self.next_address + np.arange(int(fresh.sum()))
        self.next_address += int(fresh.sum())
        token = rng.random(n_txs) < 0.15
        create = (rng.random(n_txs) < 0.01) & ~token
        status = (rng.random(n_txs) > 0.02).astype(np.int8)
        gas = np.where(token, 52_000, 21_000).astype(np.int64)
        price = rng.integers(5, 80, size=n_txs).astype(np.int64) * 1_000_000_000
        value = rng.integers(0, 10**6, size=n_txs).astype(np.int64) * 10**12
        value[token] = 0
        to_addr = eth_addresses(receiver).to_pylist()
        to = np.array(to_addr, dtype=object)
        to[token] = eth_addresses(np.array([self.TOKEN]))[0].as_py()
        to[create] = None
        created = np.full(n_txs, None, dtype=object)
        if create.any():
            contract_ids = self.next_address + np.arange(int(create.sum()))
            self.next_address += int(create.sum())
            created[create] = eth_addresses(contract_ids).to_pylist()
        method = np.full(n_txs, None, dtype=object)
        method[token] = "0xa9059cbb"
        decimal = pa.decimal128(38, 0)
        txs = pa.table(
            {
                "hash": tx_hashes(ids, prefixed=True, salt=3),
                "height": height,
                "position": position,
                "time": _times(height, 12),
                "from_address": eth_addresses(sender),
                "to_address": pa.array(to.tolist(), pa.string()),
                "value": pa.array(value).cast(decimal),
                "fee": pa.array(gas * price).cast(decimal),
                "status": status,
                "method": pa.array(method.tolist(), pa.string()),
                "created_contract": pa.array(created.tolist(), pa.string()),
                "nonce": rng.integers(0, 1000, size=n_txs).astype(np.int64),
                "gas_used": gas,
            }
        )
        ok_token = token & (status == 1)
        tt_ids = ids[ok_token]
        transfers = pa.table(
            {
                "tx_hash": tx_hashes(tt_ids, prefixed=True, salt=3),
                "log_index": np.zeros(tt_ids.size, np.int32),
                "token": pa.array(
                    [eth_addresses(np.array([self.TOKEN]))[0].as_py()] * tt_ids.size, pa.string()
                ),
                "from_address": eth_addresses(sender[ok_token]),
                "to_address": eth_addresses(receiver[ok_token]),
                "amount": pa.array(rng.integers(1, 10**6, size=tt_ids.size) * 10**6).cast(decimal),
            }
        )
        tokens = pa.table(
            {
                "address": pa.array([eth_addresses(np.array([self.TOKEN]))[0].as_py()]),
                "symbol": pa.array(["USDT"]),
                "name": pa.array(["Tether USD"]),
                "decimals": pa.array([6], pa.int32()),
            }
        )
        block_hash = tx_hashes(heights_of_block, prefixed=True, salt=6)
        prev_hash = tx_hashes(heights_of_block - 1, prefixed=True, salt=6).to_pylist()
        if first_height == 0:
            prev_hash[0] = None
        block_table = pa.table(
            {
                "height": heights_of_block,
                "hash": block_hash,
                "prev_hash": pa.array(prev_hash, pa.string()),
                "time": _times(heights_of_block, 12),
                "miner": eth_addresses(rng.integers(HOT_ADDRESSES - 5, HOT_ADDRESSES, blocks)),
            }
        )
        self.height += blocks
        self.next_tx += n_txs
        tables = {
            "blocks": block_table,
            "txs": txs,
            "token_transfers": transfers,
            "tokens": tokens,
        }
        return BlockRange(
            self.chain,
            first_height,
            first_height + blocks - 1,
            {name: t.cast(SOURCE["account"][name]) for name, t in tables.items()},
        )
