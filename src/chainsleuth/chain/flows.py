"""The address-level flow view: who paid whom, how much, when, in which asset.

One row per (transaction, payer, payee, asset) with an integer amount, for tracing:

* **Account chains** say it directly: a successful transaction moves ``value`` from its
  sender to its receiver (or to the contract it creates); an ERC-20 transfer moves its
  amount of the token; an internal transfer (``traces``: ETH a contract sends on inside a
  transaction) that succeeded moves its value from the calling contract to the callee.
  Fees are not flows.
* **UTXO chains** do not say who paid which output. The rule here: each output's value is
  split over the transaction's input addresses in proportion to what each put in —
  ``output * input_of_a // total_input`` — and the few base units that the integer
  division leaves over go to the address with the largest input (ties: the lowest
  address id). So the flows into every output add up to its value exactly, and the flows
  of a transaction to its output value; the fee is not a flow. A coinbase's outputs come
  from ``from_id`` null (new coins); inputs without an address pay from null too. Change
  paid back to an input address shows as a flow from the address to itself.

Queries bind every value; the Parquet files read are those of the segments that hold the
transactions concerned.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum

import pyarrow as pa
from pydantic import BaseModel

from chainsleuth.chain import storage
from chainsleuth.chain.chains import get_chain
from chainsleuth.chain.enums import ChainKind
from chainsleuth.chain.lookups import ChainReader, utc
from chainsleuth.core.errors import InvalidInput

FLOW_SCHEMA = pa.schema(
    [
        pa.field("tx_id", pa.int64(), nullable=False),
        pa.field("height", pa.int64(), nullable=False),
        pa.field("time", pa.timestamp("s", tz="UTC"), nullable=False),
        pa.field("from_id", pa.int64()),
        pa.field("to_id", pa.int64()),
        pa.field("asset_id", pa.int64(), nullable=False),
        pa.field("value", pa.decimal128(38, 0), nullable=False),
    ]
)


class Direction(StrEnum):
    OUT = "out"  # paid by the given addresses
    IN = "in"  # paid to them
    BOTH = "both"


class Flow(BaseModel):
    tx_hash: str
    height: int
    time: datetime
    from_address: str | None
    to_address: str | None
    asset_id: int
    value: int


def flows(
    reader: ChainReader,
    chain: str,
    addresses: Sequence[int | str],
    *,
    direction: Direction = Direction.BOTH,
    since: datetime | None = None,
    until: datetime | None = None,
    min_value: int = 0,
    limit: int = 100_000,
) -> pa.Table:
    """Flows of the given addresses (ids, or texts), as an Arrow table of ``FLOW_SCHEMA``,
    oldest first. Unknown addresses simply have none."""
    info = get_chain(chain)
    ids = _address_ids(reader, info.id, addresses)
    if not ids or reader.con is None:
        return FLOW_SCHEMA.empty_table()
    if limit < 1:
        raise InvalidInput("limit must be positive")
    con = reader.con
    lo_height, hi_height = _height_bounds(reader, info.id, since, until)
    utxo = info.kind is ChainKind.UTXO
    index = "utxo_address_txs" if utxo else "account_address_txs"  # fixed names
    side = {
        Direction.OUT: "sent > 0",
        Direction.IN: "received > 0",
        Direction.BOTH: "(sent > 0 OR received > 0)",
    }[direction]
    tx_ids = [
        r[0]
        for r in storage.rows(
            con,
            f"""SELECT DISTINCT tx_id FROM {index}
                WHERE chain = ? AND address_id IN (SELECT unnest(?::BIGINT[]))
                  AND height BETWEEN ? AND ? AND {side}
                ORDER BY tx_id""",
            [info.id, ids, lo_height, hi_height],
        )
    ]
    if not tx_ids:
        return FLOW_SCHEMA.empty_table()
    files = {
        table: [
            str(reader.root / p)
            for (p,) in storage.rows(
                con,
                """SELECT path FROM segments WHERE chain = ? AND tbl = ?
                   AND last_tx_id >= ? AND first_tx_id <= ?""",
                [info.id, table, tx_ids[0], tx_ids[-1]],
            )
        ]
        for table in (("inputs", "outputs") if utxo else ("txs", "token_transfers", "traces"))
    }
    keep = {
        Direction.OUT: "from_id IN (SELECT unnest($ids))",
        Direction.IN: "to_id IN (SELECT unnest($ids))",
        Direction.BOTH: "(from_id IN (SELECT unnest($ids)) OR to_id IN (SELECT unnest($ids)))",
    }[direction]
    body = _utxo_sql(files) if utxo else _account_sql(files)
    params: dict[str, object] = {
        "txs": tx_ids,
        "ids": ids,
        "min_value": min_value,
        "chain": info.id,
        "limit": limit,
    }
    params.update({f"f_{t}": f for t, f in files.items() if f})  # the SQL reads only those
    table = reader.con.sql(
        f"""WITH tx AS (SELECT unnest($txs::BIGINT[]) AS tx_id),
        {body},
        kept AS (
            SELECT * FROM flows WHERE {keep} AND value >= $min_value AND value > 0
        )
        SELECT k.tx_id, b.height, b.time, k.from_id, k.to_id, k.asset_id,
               k.value::DECIMAL(38, 0) AS value
        FROM kept k
        ASOF JOIN (SELECT height, time, first_tx_id FROM blocks WHERE chain = $chain) b
            ON k.tx_id >= b.first_tx_id
        ORDER BY k.tx_id, k.asset_id, k.from_id NULLS FIRST, k.to_id NULLS FIRST
        LIMIT $limit""",
        params=params,
    ).to_arrow_table()
    return table.cast(FLOW_SCHEMA)


def _utxo_sql(files: dict[str, list[str]]) -> str:
    inputs = "read_parquet($f_inputs::VARCHAR[])" if files["inputs"] else _EMPTY_IO
    outputs = "read_parquet($f_outputs::VARCHAR[])" if files["outputs"] else _EMPTY_IO
    return f"""
        ins AS (
            SELECT i.tx_id, i.address_id AS a, sum(i.value)::HUGEINT AS v
            FROM {inputs} i SEMI JOIN tx USING (tx_id) GROUP BY ALL
        ),
        tot AS (
            SELECT tx_id, sum(v) AS total,
                   first(a ORDER BY v DESC, a ASC NULLS FIRST) AS top
            FROM ins GROUP BY tx_id
        ),
        outs AS (
            SELECT o.tx_id, o.n, o.address_id AS b, o.value::HUGEINT AS ov
            FROM {outputs} o SEMI JOIN tx USING (tx_id)
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
                   sum(s.share + CASE WHEN s.a IS NOT DISTINCT FROM s.top THEN l.r ELSE 0 END)
                       AS value
            FROM shares s JOIN leftover l USING (tx_id, n)
            GROUP BY s.tx_id, s.a, s.b
        )"""


_EMPTY_IO = (
    "(SELECT NULL::BIGINT AS tx_id, NULL::BIGINT AS address_id, 0::BIGINT AS value, 0 AS n "
    "WHERE false)"
)


def _account_sql(files: dict[str, list[str]]) -> str:
    txs = "read_parquet($f_txs::VARCHAR[])" if files["txs"] else None
    transfers = "read_parquet($f_token_transfers::VARCHAR[])" if files["token_transfers"] else None
    parts = []
    if txs:
        parts.append(
            f"""SELECT t.tx_id, t.from_id, coalesce(t.to_id, t.created_contract_id) AS to_id,
                       -1::BIGINT AS asset_id, t.value::HUGEINT AS value
                FROM {txs} t SEMI JOIN tx USING (tx_id) WHERE t.status = 1"""
        )
    if transfers:
        parts.append(
            f"""SELECT x.tx_id, x.from_id, x.to_id, x.token_id, x.amount::HUGEINT
                FROM {transfers} x SEMI JOIN tx USING (tx_id)"""
        )
    if files.get("traces"):
        parts.append(
            """SELECT r.tx_id, r.from_id, r.to_id, -1::BIGINT, r.value::HUGEINT
                FROM read_parquet($f_traces::VARCHAR[]) r SEMI JOIN tx USING (tx_id)
                WHERE r.status = 1"""
        )
    union = " UNION ALL ".join(parts) or (
        "SELECT NULL::BIGINT, NULL::BIGINT, NULL::BIGINT, NULL::BIGINT, NULL::HUGEINT WHERE false"
    )
    return f"""flows AS (
            SELECT tx_id, from_id, to_id, asset_id, sum(value) AS value
            FROM ({union}) u (tx_id, from_id, to_id, asset_id, value)
            GROUP BY tx_id, from_id, to_id, asset_id
        )"""


def _address_ids(reader: ChainReader, chain: str, addresses: Sequence[int | str]) -> list[int]:
    ids: list[int] = []
    for item in addresses:
        if isinstance(item, int):
            ids.append(item)
        else:
            found = reader.address_id(chain, item)
            if found is not None:
                ids.append(found)
    return sorted(set(ids))


def _height_bounds(
    reader: ChainReader, chain: str, since: datetime | None, until: datetime | None
) -> tuple[int, int]:
    lo, hi = 0, storage.NO_HEIGHT
    if reader.con is None:
        return lo, hi
    if since is not None:
        row = storage.one(
            reader.con,
            "SELECT coalesce(min(height), ?) FROM blocks WHERE chain = ? AND time >= ?",
            [storage.NO_HEIGHT, chain, since],
        )
        lo = int(row[0])
    if until is not None:
        row = storage.one(
            reader.con,
            "SELECT coalesce(max(height), -1) FROM blocks WHERE chain = ? AND time <= ?",
            [chain, until],
        )
        hi = int(row[0])
    return lo, hi


def flow_records(reader: ChainReader, chain: str, table: pa.Table) -> list[Flow]:
    """Flows with hashes and address texts, for display."""
    rows = table.to_pylist()
    texts = reader._addresses(chain, [r[k] for r in rows for k in ("from_id", "to_id")])
    hashes = reader._hashes(chain, [r["tx_id"] for r in rows])
    return [
        Flow(
            tx_hash=h,
            height=r["height"],
            time=r["time"] if isinstance(r["time"], datetime) else utc(r["time"]),
            from_address=texts[2 * i],
            to_address=texts[2 * i + 1],
            asset_id=r["asset_id"],
            value=int(r["value"]),
        )
        for i, (r, h) in enumerate(zip(rows, hashes, strict=True))
    ]
