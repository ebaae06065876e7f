"""Hand-built source batches for the chain store tests (real address formats, fake hashes)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

import pyarrow as pa

from chainsleuth.chain.addresses import canonical_address
from chainsleuth.chain.batch import BlockRange

GENESIS = int(datetime(2024, 1, 1, tzinfo=UTC).timestamp())
BTC = 100_000_000  # satoshi per BTC
ETH = 10**18

# real, valid addresses (BIP-173, BIP-350, the genesis block, EIP-55 examples)
A = "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"
B = "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"
C = "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy"
D = "bc1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3qccfmv3"
E = "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0"
MINER = "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"
X = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
Y = "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359"
Z = "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB"
TOKEN = "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb"
ETH_MINER = "0x52908400098527886E0F7030069857D2E4169EE7"

SCRIPT = {A: "p2wpkh", B: "p2pkh", C: "p2sh", D: "p2wsh", E: "p2tr", MINER: "p2wpkh"}


def txid(label: str, *, prefixed: bool = False) -> str:
    digest = hashlib.sha256(label.encode()).hexdigest()
    return "0x" + digest if prefixed else digest


def block_hash(chain: str, height: int, fork: str = "") -> str:
    return txid(f"{chain}-block-{height}{fork}", prefixed=chain == "eth")


def _time(height: int, seconds: int) -> datetime:
    return datetime.fromtimestamp(GENESIS + height * seconds, UTC)


@dataclass
class UTx:
    label: str
    outputs: list[tuple[str | None, int]]  # (address or None for OP_RETURN, value)
    inputs: list[tuple[str, int]] = field(default_factory=list)  # (tx label, output n)
    fee: int = 0  # as the source states it (0: unknown)

    @property
    def coinbase(self) -> bool:
        return not self.inputs


def utxo_batch(
    first_height: int, blocks: list[list[UTx]], *, fork: str = "", parent: str | None = None
) -> BlockRange:
    """Consecutive blocks of btc; the first transaction of each block is its coinbase."""
    rows: dict[str, list[dict[str, object]]] = {
        "blocks": [],
        "txs": [],
        "outputs": [],
        "inputs": [],
    }
    for i, txs in enumerate(blocks):
        height = first_height + i
        prev = (
            parent
            if i == 0 and parent is not None
            else (block_hash("btc", height - 1, fork if i else "") if height else None)
        )
        rows["blocks"].append(
            {
                "height": height,
                "hash": block_hash("btc", height, fork),
                "prev_hash": prev,
                "time": _time(height, 600),
            }
        )
        for position, tx in enumerate(txs):
            rows["txs"].append(
                {
                    "hash": txid(tx.label),
                    "height": height,
                    "position": position,
                    "time": _time(height, 600),
                    "coinbase": tx.coinbase,
                    "fee": tx.fee,
                    "locktime": 0,
                    "version": 2,
                    "size": 100 + 50 * len(tx.inputs),
                }
            )
            for n, (address, value) in enumerate(tx.outputs):
                rows["outputs"].append(
                    {
                        "tx_hash": txid(tx.label),
                        "n": n,
                        "address": canonical_address("btc", address) if address else None,
                        "value": value,
                        "script_type": SCRIPT.get(address or "", "nulldata"),
                    }
                )
            for n, (prev_label, prev_n) in enumerate(tx.inputs):
                rows["inputs"].append(
                    {
                        "tx_hash": txid(tx.label),
                        "n": n,
                        "prev_tx_hash": txid(prev_label),
                        "prev_n": prev_n,
                        "address": None,
                        "value": None,
                    }
                )
    tables = {name: pa.Table.from_pylist(r) if r else None for name, r in rows.items()}
    return BlockRange.conform(
        "btc",
        first_height,
        first_height + len(blocks) - 1,
        {k: v for k, v in tables.items() if v is not None},
    )


@dataclass
class ATx:
    label: str
    sender: str
    to: str | None
    value: int
    fee: int = 21_000 * 10**9
    status: int = 1
    method: str | None = None
    created: str | None = None
    transfers: list[tuple[str, str, str, int]] = field(default_factory=list)  # token,from,to,amt


def account_batch(
    first_height: int,
    blocks: list[list[ATx]],
    *,
    tokens: list[tuple[str, str, str, int]] | None = None,
) -> BlockRange:
    def canon(address: str | None) -> str | None:
        return canonical_address("eth", address) if address else None

    rows: dict[str, list[dict[str, object]]] = {
        "blocks": [],
        "txs": [],
        "token_transfers": [],
        "tokens": [],
    }
    for i, txs in enumerate(blocks):
        height = first_height + i
        rows["blocks"].append(
            {
                "height": height,
                "hash": block_hash("eth", height),
                "prev_hash": block_hash("eth", height - 1) if height else None,
                "time": _time(height, 12),
                "miner": canon(ETH_MINER),
            }
        )
        for position, tx in enumerate(txs):
            h = txid(tx.label, prefixed=True)
            rows["txs"].append(
                {
                    "hash": h,
                    "height": height,
                    "position": position,
                    "time": _time(height, 12),
                    "from_address": canon(tx.sender),
                    "to_address": canon(tx.to),
                    "value": Decimal(tx.value),  # wei may exceed 64 bits
                    "fee": Decimal(tx.fee),
                    "status": tx.status,
                    "method": tx.method,
                    "created_contract": canon(tx.created),
                    "nonce": position,
                    "gas_used": 21_000,
                }
            )
            for log_index, (token, sender, to, amount) in enumerate(tx.transfers):
                rows["token_transfers"].append(
                    {
                        "tx_hash": h,
                        "log_index": log_index,
                        "token": canon(token),
                        "from_address": canon(sender),
                        "to_address": canon(to),
                        "amount": Decimal(amount),
                    }
                )
    for address, symbol, name, decimals in tokens or []:
        rows["tokens"].append(
            {"address": canon(address), "symbol": symbol, "name": name, "decimals": decimals}
        )
    decimal = pa.decimal128(38, 0)
    tables: dict[str, pa.Table] = {}
    for name, r in rows.items():
        if not r:
            continue
        table = pa.Table.from_pylist(r)
        for column in ("value", "fee", "amount"):
            if column in table.column_names:
                table = table.set_column(
                    table.column_names.index(column), column, table[column].cast(decimal)
                )
        tables[name] = table
    return BlockRange.conform("eth", first_height, first_height + len(blocks) - 1, tables)


# --- the scenarios the tests share ------------------------------------------------------------

FEE = 10_000


def btc_history() -> list[BlockRange]:
    """Three batches: coinbases, a multi-input/multi-output payment with change and an
    OP_RETURN, a spend of an output of the same batch, then a payment back to A."""
    first = utxo_batch(0, [[UTx("c0", [(A, 50 * BTC), (B, 25 * BTC)])]])
    second = utxo_batch(
        1,
        [
            [
                UTx("c1", [(MINER, 625_000_000 + 2 * FEE)]),
                UTx(
                    "t1",
                    [(C, 60 * BTC), (A, 15 * BTC - FEE), (None, 0)],
                    inputs=[("c0", 0), ("c0", 1)],
                    fee=FEE,
                ),
                UTx("t2", [(D, 30 * BTC), (E, 30 * BTC - FEE)], inputs=[("t1", 0)]),
            ]
        ],
    )
    third = utxo_batch(
        2,
        [
            [
                UTx("c2", [(MINER, 625_000_000 + FEE)]),
                UTx("t3", [(A, 10 * BTC), (E, 20 * BTC - 2 * FEE)], inputs=[("t2", 1)]),
            ],
            [UTx("c3", [(MINER, 625_000_000)])],
        ],
    )
    return [first, second, third]


def eth_history() -> list[BlockRange]:
    """Native transfers, a failed one, a contract creation and an ERC-20 transfer."""
    return [
        account_batch(
            0,
            [
                [
                    ATx("a1", X, Y, 1 * ETH),
                    ATx("a2", X, Z, 5 * ETH, status=0),
                    ATx("a3", X, None, 0, created=TOKEN, method="0x60806040"),
                ],
                [
                    ATx(
                        "a4",
                        X,
                        TOKEN,
                        0,
                        method="0xa9059cbb",
                        transfers=[(TOKEN, X, Y, 100_000_000)],
                    ),
                    ATx("a5", Y, Z, ETH // 2),
                ],
            ],
            tokens=[(TOKEN, "USDT", "Tether USD", 6)],
        )
    ]
