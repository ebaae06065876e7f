"""State of the UTXO chain generator: addresses, wallets, the pool of unspent outputs.

* ``AddressBook``: every address ever made, as integer ids with their wallet, script type,
  role and (for exchange deposit addresses) the customer; the text is rendered once, in
  bulk, when a chunk ends, and kept for the inputs that spend it later.
* ``Wallets``: who holds which coins and how the vectorised economy treats them.
* ``Pool``: unspent outputs the economy may spend (coins of scripted wallets are held by the
  scripts instead, so the economy never touches criminals' funds).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
from numpy.typing import NDArray

from chainsleuth.world import ids
from chainsleuth.world.arrays import Growable, TextStore
from chainsleuth.world.plan import NULLDATA, P2PKH, P2SH, P2TR, P2WPKH, P2WSH

I64 = NDArray[np.int64]

#: virtual size of an input / an output by script type (vbytes)
INPUT_VSIZE = np.array([148, 91, 68, 104, 58, 0], dtype=np.int64)
OUTPUT_VSIZE = np.array([34, 32, 31, 43, 43, 46], dtype=np.int64)
TX_OVERHEAD_VSIZE = 11
DUST = 546
SUBSIDY = 312_500_000  # 3.125 BTC: the 2024-2028 halving epoch
COINBASE_MATURITY = 100


class AddressBook:
    def __init__(self, salt: int) -> None:
        self.salt = salt
        self.wallet = Growable(np.int32)
        self.script = Growable(np.int8)
        self.role = Growable(np.int8)
        self.aux = Growable(np.int32)  # customer actor (deposit) or scheme id, else -1
        self.height = Growable(np.int64)  # height of the chunk that made it
        self.text = TextStore()
        self.flushed = 0  # ids below this have been written to the truth

    def __len__(self) -> int:
        return self.wallet.n

    def new(
        self,
        wallet: NDArray[Any] | int,
        script: NDArray[Any] | int,
        role: NDArray[Any] | int,
        aux: NDArray[Any] | int,
        height: int,
        count: int | None = None,
    ) -> I64:
        """Allocate addresses; scalars are broadcast to ``count``."""
        if count is None:
            count = int(np.asarray(wallet).size)
        start = self.wallet.n
        for col, value in (
            (self.wallet, wallet),
            (self.script, script),
            (self.role, role),
            (self.aux, aux),
        ):
            if np.ndim(value) == 0:
                col.fill(count, value)
            else:
                col.extend(value)
        self.height.fill(count, height)
        return np.arange(start, start + count, dtype=np.int64)

    def render_pending(self) -> None:
        """Render the text of every address made since the last call."""
        start, end = len(self.text), len(self)
        if start == end:
            return
        new_ids = np.arange(start, end, dtype=np.int64)
        scripts = self.script.a[start:end]
        payload = ids.hash32(self.salt, new_ids)
        parts: list[pa.Array] = []
        positions: list[I64] = []
        for code in np.unique(scripts):
            rows = np.flatnonzero(scripts == code)
            raw = np.ascontiguousarray(payload[rows])
            parts.append(render(int(code), raw))
            positions.append(rows)
        merged = pa.concat_arrays(parts)
        inverse = np.empty(end - start, dtype=np.int64)
        inverse[np.concatenate(positions)] = np.arange(end - start)
        self.text.append(merged.take(pa.array(inverse)))

    def strings(self, address_ids: NDArray[np.int64]) -> pa.Array:
        return self.text.take(address_ids)


def render(script: int, payload: NDArray[np.uint8]) -> pa.Array:
    """Address text for payload rows of one script type (32 bytes each, truncated as needed)."""
    if script == P2PKH or script == P2SH:
        version = 0x00 if script == P2PKH else 0x05
        body = np.ascontiguousarray(payload[:, :20])
        return ids.base58check_strings(version, body, ids.b58_checksums(version, body))
    if script == P2WPKH:
        return ids.segwit_strings("bc", 0, np.ascontiguousarray(payload[:, :20]))
    if script == P2WSH:
        return ids.segwit_strings("bc", 0, payload)
    if script == P2TR:
        return ids.segwit_strings("bc", 1, payload)
    if script == NULLDATA:
        return pa.nulls(payload.shape[0], pa.string())
    raise ValueError(f"no address form for script code {script}")


class Wallets:
    """Wallet columns; ids are dense. Scripted wallets are added while generating."""

    def __init__(self) -> None:
        self.kind = Growable(np.int8)
        self.actor = Growable(np.int32)
        self.script = Growable(np.int8)
        self.exchange = Growable(np.int8)  # home exchange (customers) or owner (exchange wallets)
        self.activity = Growable(np.float64)
        self.fresh = Growable(np.float32)  # chance of a fresh address when receiving
        self.change_fresh = Growable(np.float32)  # chance of a fresh change address
        self.last_addr = Growable(np.int64)
        self.deposit_addr = Growable(np.int64)  # its deposit address at its home exchange

    def __len__(self) -> int:
        return self.kind.n

    def add(
        self,
        count: int,
        *,
        kind: int,
        actor: NDArray[np.int32] | int,
        script: NDArray[np.int8] | int,
        exchange: NDArray[np.int8] | int = -1,
        activity: NDArray[np.float64] | float = 1.0,
        fresh: NDArray[np.float32] | float = 0.6,
        change_fresh: NDArray[np.float32] | float = 0.97,
    ) -> I64:
        start = len(self)
        self.kind.fill(count, kind)
        for col, value in (
            (self.actor, actor),
            (self.script, script),
            (self.exchange, exchange),
            (self.activity, activity),
            (self.fresh, fresh),
            (self.change_fresh, change_fresh),
        ):
            if np.ndim(value) == 0:
                col.fill(count, value)
            else:
                col.extend(value)
        self.last_addr.fill(count, -1)
        self.deposit_addr.fill(count, -1)
        return np.arange(start, start + count, dtype=np.int64)


@dataclass
class Pool:
    """Unspent outputs the economy may spend. Rebuilt at the end of every chunk."""

    key: I64
    n: NDArray[np.int32]
    addr: I64
    value: I64
    wallet: NDArray[np.int32]
    mature: I64  # first height at which it may be spent

    @classmethod
    def empty(cls) -> Pool:
        return cls(
            np.zeros(0, np.int64),
            np.zeros(0, np.int32),
            np.zeros(0, np.int64),
            np.zeros(0, np.int64),
            np.zeros(0, np.int32),
            np.zeros(0, np.int64),
        )

    def __len__(self) -> int:
        return int(self.key.size)

    def keep(self, mask: NDArray[np.bool_]) -> Pool:
        return Pool(
            self.key[mask],
            self.n[mask],
            self.addr[mask],
            self.value[mask],
            self.wallet[mask],
            self.mature[mask],
        )

    def extend(self, other: Pool) -> Pool:
        return Pool(
            np.concatenate([self.key, other.key]),
            np.concatenate([self.n, other.n]),
            np.concatenate([self.addr, other.addr]),
            np.concatenate([self.value, other.value]),
            np.concatenate([self.wallet, other.wallet]),
            np.concatenate([self.mature, other.mature]),
        )
