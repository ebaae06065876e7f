"""State of the account chain generator: accounts with their balances, and the chain's units.

Balances are int64 in *simulation units*: ETH and WETH in units of 10**7 wei (so an int64
holds 92 million ETH and gas prices have 0.01 gwei steps), USDT in its own base unit (six
decimals). They are scaled to wei only when written (``decimal128(38, 0)``), exactly.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from eth_hash.auto import keccak
from numpy.typing import NDArray

from chainsleuth.world import ids
from chainsleuth.world.arrays import Growable, TextStore

I64 = NDArray[np.int64]

WEI_PER_UNIT = 10**7
UNITS_PER_ETH = 10**18 // WEI_PER_UNIT  # 10**11
USDT_PER_DOLLAR = 10**6
BLOCK_REWARD = 2 * UNITS_PER_ETH  # paid to the block's miner, with all of its fees
GWEI = 100  # units per gwei

#: method selectors (index = code in the ``method`` column of AccountTxs; -1 = none)
METHODS = [
    "0xa9059cbb",  # transfer(address,uint256)
    "0x095ea7b3",  # approve(address,uint256)
    "0x7ff36ab5",  # swapExactETHForTokens(...)
    "0x38ed1739",  # swapExactTokensForTokens(...)
    "0xd0e30db0",  # deposit() (WETH wrap, lending deposit)
    "0xcc872b66",  # issue(uint256) (USDT mint)
    "0x0d7a8a8e",  # lock(bytes) (bridge lock; bytes = destination on the other chain)
    "0x3c6e3b3c",  # release(bytes32,address,uint256) (bridge release)
    "0x2e1a7d4d",  # withdraw(uint256)
    "0xe8eda9df",  # deposit(address,uint256,address,uint16) (lending pool)
    "0x5c19a95c",  # execute(bytes) (exploit contract entry point)
]
(
    M_TRANSFER,
    M_APPROVE,
    M_SWAP_ETH,
    M_SWAP_TOKENS,
    M_DEPOSIT,
    M_ISSUE,
    M_LOCK,
    M_RELEASE,
    M_WITHDRAW,
    M_LEND,
    M_EXPLOIT,
) = range(len(METHODS))

TOKENS = {  # name -> (symbol, full name, decimals, factor from units to base units)
    "usdt": ("USDT", "Tether USD", 6, 1),
    "weth": ("WETH", "Wrapped Ether", 18, WEI_PER_UNIT),
}
ASSETS = ("eth", "usdt", "weth")


def rlp_contract_address(sender: bytes, nonce: int) -> bytes:
    """The address of a contract created by ``sender`` with ``nonce`` (CREATE)."""

    def enc_bytes(b: bytes) -> bytes:
        if len(b) == 1 and b[0] < 0x80:
            return b
        return bytes([0x80 + len(b)]) + b

    nonce_bytes = nonce.to_bytes((nonce.bit_length() + 7) // 8, "big") if nonce else b""
    payload = enc_bytes(sender) + enc_bytes(nonce_bytes)
    return keccak(bytes([0xC0 + len(payload)]) + payload)[12:]


class Accounts:
    """Every account (externally owned or contract) with its owner, role and balances."""

    def __init__(self, salt: int) -> None:
        self.salt = salt
        self.wallet = Growable(np.int32)
        self.role = Growable(np.int8)
        self.aux = Growable(np.int32)
        self.height = Growable(np.int64)
        self.eth = Growable(np.int64)
        self.usdt = Growable(np.int64)
        self.weth = Growable(np.int64)
        self.nonce = Growable(np.int64)
        self.approved = Growable(np.bool_)
        self.override: dict[int, bytes] = {}  # contracts and the zero address
        self.flushed = 0
        self.text = TextStore()  # rendered addresses, by account id

    def __len__(self) -> int:
        return self.wallet.n

    def new(
        self,
        wallet: NDArray[np.int32] | int,
        role: NDArray[np.int8] | int,
        aux: NDArray[np.int32] | int,
        height: int,
        count: int | None = None,
    ) -> I64:
        if count is None:
            count = int(np.asarray(wallet).size)
        start = len(self)
        for col, value in ((self.wallet, wallet), (self.role, role), (self.aux, aux)):
            if np.ndim(value) == 0:
                col.fill(count, value)
            else:
                col.extend(value)
        self.height.fill(count, height)
        for col in (self.eth, self.usdt, self.weth, self.nonce):
            col.fill(count, 0)
        self.approved.fill(count, False)
        return np.arange(start, start + count, dtype=np.int64)

    def balance(self, asset: str) -> Growable:
        col: Growable = getattr(self, asset)
        return col

    def raw(self, account_ids: I64) -> NDArray[np.uint8]:
        raw = np.ascontiguousarray(ids.hash32(self.salt, account_ids)[:, :20])
        if self.override:
            keys = np.array(sorted(self.override), dtype=np.int64)
            table = np.frombuffer(b"".join(self.override[int(k)] for k in keys), dtype=np.uint8)
            pos = np.minimum(np.searchsorted(keys, account_ids), keys.size - 1)
            hit = keys[pos] == account_ids
            raw[hit] = table.reshape(-1, 20)[pos[hit]]
        return raw

    def raw_one(self, account_id: int) -> bytes:
        return bytes(self.raw(np.array([account_id], dtype=np.int64))[0])

    def render_pending(self) -> None:
        """Render the text of accounts made since the last call (contract addresses must be
        set in ``override`` right after their account is made, as ``AccountCtx.tx`` does)."""
        start, end = len(self.text), len(self)
        if start < end:
            self.text.append(
                ids.hex_strings(self.raw(np.arange(start, end, dtype=np.int64)), b"0x")
            )

    def strings(self, account_ids: I64) -> pa.Array:
        """Lower-case ``0x`` addresses; negative ids give nulls."""
        self.render_pending()
        return self.text.take(np.asarray(account_ids, dtype=np.int64))

    def address(self, account_id: int) -> str:
        return "0x" + self.raw_one(account_id).hex()
