"""Every flow of a chain, read from the store in tx-id ranges, as numpy arrays.

The rule is the one of ``chainsleuth.chain.flows`` (the address-level flow view), applied to
whole ranges of transactions instead of one address's: on UTXO chains each output is split
over the transaction's input addresses pro rata (``output * input_of_a // total_input``,
the remainder to the largest input, ties to the lowest id); on account chains a successful
transaction moves its value and each ERC-20 transfer its amount. A parity test checks both
against ``chain.flows.flows``.

Amounts are exact: ``hi * 10**18 + lo`` (two int64 columns, enough for DECIMAL(38, 0)),
and approximately, as float64, for the engine. Null addresses (new coins, OP_RETURN) are
``-1``.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import numpy as np

from chainsleuth.chain import storage
from chainsleuth.chain.chains import get_chain
from chainsleuth.chain.enums import ChainKind

#: base of the exact amount split (``amount = hi * BASE + lo``)
BASE = 10**18
#: transactions per query while building (bounds the memory DuckDB needs)
CHUNK_TXS = 500_000  # 20 MB of txs.bin: read as one span

COLUMNS = ("tx", "time", "src", "dst", "asset", "amount", "hi", "lo")


@dataclass
class RawFlows:
    """One chain's flows in tx order (arrays of equal length)."""

    tx: np.ndarray  # int64 tx id
    time: np.ndarray  # int64 unix seconds
    src: np.ndarray  # int64 address id, -1 for none
    dst: np.ndarray  # int64 address id, -1 for none
    asset: np.ndarray  # int64 asset id (-1 native, else the token's address id)
    amount: np.ndarray  # float64
    hi: np.ndarray  # int64
    lo: np.ndarray  # int64

    def __len__(self) -> int:
        return int(self.tx.size)

    @staticmethod
    def empty() -> RawFlows:
        i = np.empty(0, dtype=np.int64)
        return RawFlows(i, i, i, i, i, np.empty(0, dtype=np.float64), i, i)

    @staticmethod
    def concat(parts: list[RawFlows]) -> RawFlows:
        if not parts:
            return RawFlows.empty()
        return RawFlows(*(np.concatenate([getattr(p, c) for p in parts]) for c in COLUMNS))

    def exact(self, i: int) -> int:
        return int(self.hi[i]) * BASE + int(self.lo[i])


_UTXO = """
WITH ins AS (
    SELECT tx_id, address_id AS a, sum(value)::HUGEINT AS v
    FROM {chain}_inputs WHERE tx_id >= $lo AND tx_id < $hi GROUP BY ALL
),
tot AS (
    SELECT tx_id, sum(v) AS total, first(a ORDER BY v DESC, a ASC NULLS FIRST) AS top
    FROM ins GROUP BY tx_id
),
outs AS (
    SELECT tx_id, n, address_id AS b, value::HUGEINT AS ov
    FROM {chain}_outputs WHERE tx_id >= $lo AND tx_id < $hi
),
shares AS (
    SELECT o.tx_id, o.n, o.b, o.ov, i.a, t.top,
           CASE WHEN t.total IS NULL THEN o.ov
                WHEN t.total = 0 THEN 0
                ELSE o.ov * i.v // t.total END AS share
    FROM outs o LEFT JOIN tot t USING (tx_id) LEFT JOIN ins i USING (tx_id)
),
leftover AS (
    SELECT tx_id, n, any_value(ov) - sum(share) AS r FROM shares GROUP BY tx_id, n
),
flows AS (
    SELECT s.tx_id, s.a AS from_id, s.b AS to_id, -1::BIGINT AS asset_id,
           sum(s.share + CASE WHEN s.a IS NOT DISTINCT FROM s.top THEN l.r ELSE 0 END) AS value
    FROM shares s JOIN leftover l USING (tx_id, n)
    GROUP BY s.tx_id, s.a, s.b
)
SELECT tx_id, coalesce(from_id, -1) AS src, coalesce(to_id, -1) AS dst, asset_id,
       value::DOUBLE AS amount, (value // $base)::BIGINT AS hi, (value % $base)::BIGINT AS lo
FROM flows WHERE value > 0
ORDER BY tx_id, src, dst
"""

_ACCOUNT = """
WITH u AS (
    SELECT tx_id, from_id, coalesce(to_id, created_contract_id) AS to_id,
           -1::BIGINT AS asset_id, value::HUGEINT AS value
    FROM {chain}_txs WHERE tx_id >= $lo AND tx_id < $hi AND status = 1
    UNION ALL
    SELECT tx_id, from_id, to_id, token_id, amount::HUGEINT
    FROM {chain}_token_transfers WHERE tx_id >= $lo AND tx_id < $hi
    UNION ALL  -- ETH moved by contract calls (internal transfers), where the source gave them
    SELECT tx_id, from_id, to_id, -1::BIGINT, value::HUGEINT
    FROM {chain}_traces WHERE tx_id >= $lo AND tx_id < $hi AND status = 1
),
flows AS (
    SELECT tx_id, from_id, to_id, asset_id, sum(value) AS value FROM u GROUP BY ALL
)
SELECT tx_id, coalesce(from_id, -1) AS src, coalesce(to_id, -1) AS dst, asset_id,
       value::DOUBLE AS amount, (value // $base)::BIGINT AS hi, (value % $base)::BIGINT AS lo
FROM flows WHERE value > 0
ORDER BY tx_id, asset_id, src, dst
"""


def tx_count(con: duckdb.DuckDBPyConnection, chain: str) -> int:
    row = storage.one(con, "SELECT tx_count FROM chain_state WHERE chain = ?", [chain])
    return int(row[0]) if row else 0


def read_flows(
    con: duckdb.DuckDBPyConnection,
    flat: storage.FlatFiles,
    chain: str,
    first_tx: int,
    end_tx: int,
) -> RawFlows:
    """The flows of transactions ``first_tx <= tx_id < end_tx`` of ``chain``."""
    info = get_chain(chain)
    sql = (_UTXO if info.kind is ChainKind.UTXO else _ACCOUNT).format(chain=info.id)
    parts: list[RawFlows] = []
    for lo in range(first_tx, end_tx, CHUNK_TXS):
        hi = min(end_tx, lo + CHUNK_TXS)
        table = con.sql(sql, params={"lo": lo, "hi": hi, "base": BASE}).to_arrow_table()
        if table.num_rows == 0:
            continue
        tx = table["tx_id"].to_numpy().astype(np.int64)
        _, times = flat.tx_records(np.arange(lo, hi, dtype=np.int64))
        parts.append(
            RawFlows(
                tx=tx,
                time=times[tx - lo].astype(np.int64),
                src=table["src"].to_numpy().astype(np.int64),
                dst=table["dst"].to_numpy().astype(np.int64),
                asset=table["asset_id"].to_numpy().astype(np.int64),
                amount=table["amount"].to_numpy().astype(np.float64),
                hi=table["hi"].to_numpy().astype(np.int64),
                lo=table["lo"].to_numpy().astype(np.int64),
            )
        )
    return RawFlows.concat(parts)
