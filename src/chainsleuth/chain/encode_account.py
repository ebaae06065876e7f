"""Appending a batch of an account chain: transactions, token transfers, tokens.

Balances on an account chain are what the stored data supports: a transaction moves its
value from sender to receiver (or to the contract it creates) when it succeeded, and its
sender always pays the fee; ERC-20 transfers move token amounts. Block rewards, fee
burning and internal (contract-to-contract) transfers are not in the source model, so the
native balance of a miner or a contract is not its on-chain balance.

An address's ``kind`` is ``contract`` when it was created by a transaction or is a token,
``eoa`` when it sent a transaction, and unknown otherwise (as first seen).
"""

from __future__ import annotations

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from chainsleuth.chain.batch import BlockRange
from chainsleuth.chain.encode import (
    ChainState,
    Emit,
    Encoded,
    as_array,
    assign_addresses,
    block_index,
    check_tx_order,
    check_unique_hashes,
    registered,
    tx_positions,
)
from chainsleuth.chain.keys import hash_bytes, hash_keys
from chainsleuth.chain.schemas import STORED
from chainsleuth.chain.storage import NATIVE_ASSET
from chainsleuth.core.errors import InvalidInput

SCHEMAS = STORED["account"]


def encode_account(
    con: duckdb.DuckDBPyConnection, state: ChainState, batch: BlockRange, emit: Emit
) -> Encoded:
    chain = state.chain
    blocks, txs = batch.tables["blocks"], batch.tables["txs"]
    transfers, tokens = batch.tables["token_transfers"], batch.tables["tokens"]

    heights = txs["height"].to_numpy()
    check_tx_order(heights, txs["position"].to_numpy(), batch.first_height, batch.last_height)
    tx_hash = as_array(txs["hash"])
    raw = hash_bytes(tx_hash, prefixed=True)
    k1, k2 = hash_keys(raw)
    check_unique_hashes(k1, k2, tx_hash)
    n_tx = txs.num_rows
    tx_ids = state.tx_count + np.arange(n_tx, dtype=np.int64)
    _check_txs(txs)

    tt_row = tx_positions(as_array(transfers["tx_hash"]), tx_hash, "a token transfer")
    tt_heights = heights[tt_row]
    block_heights = blocks["height"].to_numpy()

    # every address column, in one dictionary pass
    columns: list[tuple[pa.Array, np.ndarray, str | None]] = [
        (as_array(txs["from_address"]), heights, "eoa"),
        (as_array(txs["to_address"]), heights, None),
        (as_array(txs["created_contract"]), heights, "contract"),
        (as_array(blocks["miner"]), block_heights, None),
        (as_array(transfers["token"]), tt_heights, "contract"),
        (as_array(transfers["from_address"]), tt_heights, None),
        (as_array(transfers["to_address"]), tt_heights, None),
        (as_array(tokens["address"]), np.full(tokens.num_rows, batch.last_height), "contract"),
    ]
    texts = pa.concat_arrays([c[0].cast(pa.string()) for c in columns])
    all_heights = np.concatenate([c[1] for c in columns]).astype(np.int64)
    kinds = pa.concat_arrays([pa.array([c[2]] * len(c[0]), pa.string()) for c in columns])
    assigned = assign_addresses(con, state, texts, all_heights, kinds)
    parts: list[pa.Array] = []
    start = 0
    for values, _, _ in columns:
        ids = assigned.ids[start : start + len(values)]
        parts.append(pa.array(ids, mask=ids < 0))
        start += len(values)
    from_id, to_id, contract_id, miner_id, token_id, tt_from, tt_to, token_meta_id = parts

    tx_stored = pa.table(
        {
            "tx_id": tx_ids,
            "hash": txs["hash"],
            "height": txs["height"],
            "position": txs["position"],
            "time": txs["time"],
            "from_id": from_id,
            "to_id": to_id,
            "value": txs["value"],
            "fee": txs["fee"],
            "status": txs["status"],
            "method": txs["method"],
            "created_contract_id": contract_id,
            "nonce": txs["nonce"],
            "gas_used": txs["gas_used"],
        }
    ).cast(SCHEMAS["txs"])
    tt_stored = pa.table(
        {
            "tx_id": tx_ids[tt_row],
            "height": tt_heights,
            "log_index": transfers["log_index"],
            "token_id": token_id,
            "from_id": tt_from,
            "to_id": tt_to,
            "amount": transfers["amount"],
        }
    ).cast(SCHEMAS["token_transfers"])
    if tt_stored.num_rows:
        tt_stored = tt_stored.sort_by([("tx_id", "ascending"), ("log_index", "ascending")])

    with registered(con, tx_stored) as t_txs, registered(con, tt_stored) as t_tt:
        index_rows = con.execute(
            f"""INSERT INTO account_address_txs
            SELECT ?, address_id, tx_id, min(height), asset_id, sum(received), sum(sent)
            FROM (
                SELECT from_id AS address_id, tx_id, height, {NATIVE_ASSET} AS asset_id,
                       0::DECIMAL(38, 0) AS received,
                       (CASE WHEN status = 1 THEN value ELSE 0 END) + fee AS sent
                FROM {t_txs}
                UNION ALL
                SELECT coalesce(to_id, created_contract_id), tx_id, height, {NATIVE_ASSET},
                       CASE WHEN status = 1 THEN value ELSE 0 END, 0
                FROM {t_txs} WHERE coalesce(to_id, created_contract_id) IS NOT NULL
                UNION ALL
                SELECT from_id, tx_id, height, token_id, 0, amount FROM {t_tt}
                UNION ALL
                SELECT to_id, tx_id, height, token_id, amount, 0 FROM {t_tt}
            )
            GROUP BY address_id, tx_id, asset_id
            ORDER BY address_id, tx_id, asset_id""",
            [chain],
        ).fetchall()[0][0]
    keys = pa.table({"k1": k1, "tx_id": tx_ids})
    with registered(con, keys) as t_keys:
        con.execute(
            f"INSERT INTO tx_keys SELECT ?, k1, tx_id FROM {t_keys} ORDER BY k1", [chain]
        ).fetchall()
    _upsert_tokens(con, chain, tokens, token_meta_id)

    index, counts = block_index(chain, blocks, heights, state.tx_count)
    with registered(con, index) as t_blocks:
        con.execute(f"INSERT INTO blocks SELECT * FROM {t_blocks}").fetchall()
    blocks_stored = pa.table(
        {
            "height": blocks["height"],
            "hash": blocks["hash"],
            "prev_hash": blocks["prev_hash"],
            "time": blocks["time"],
            "miner_id": miner_id,
            "tx_count": pa.array(counts.astype(np.int32)),
        }
    ).cast(SCHEMAS["blocks"])
    emit("addresses", assigned.new)
    emit("txs", tx_stored)
    emit("token_transfers", tt_stored)
    emit("blocks", blocks_stored)
    return Encoded(
        tx_hashes=raw,
        tx_times=txs["time"].cast(pa.int64()).to_numpy(),
        new_addresses=assigned.new,
        index_rows=int(index_rows),
    )


def _check_txs(txs: pa.Table) -> None:
    if txs.num_rows == 0:
        return
    status = txs["status"]
    if not pc.all(pc.is_in(status, value_set=pa.array([0, 1], pa.int8()))).as_py():
        raise InvalidInput("a transaction's status must be 1 (success) or 0 (failed)")
    zero = pa.scalar(0, txs.schema.field("value").type)
    for column in ("value", "fee"):
        if pc.any(pc.less(txs[column], zero)).as_py():
            raise InvalidInput(f"a transaction has a negative {column}")
    both = pc.and_(pc.is_valid(txs["to_address"]), pc.is_valid(txs["created_contract"]))
    if pc.any(both).as_py():
        raise InvalidInput("a contract creation has no receiver (to_address must be null)")


def _upsert_tokens(
    con: duckdb.DuckDBPyConnection, chain: str, tokens: pa.Table, token_ids: pa.Array
) -> None:
    if tokens.num_rows == 0:
        return
    meta = pa.table(
        {
            "token_id": token_ids,
            "symbol": tokens["symbol"],
            "name": tokens["name"],
            "decimals": tokens["decimals"],
        }
    )
    with registered(con, meta) as t_meta:
        con.execute(
            f"DELETE FROM tokens WHERE chain = ? AND token_id IN (SELECT token_id FROM {t_meta})",
            [chain],
        ).fetchall()
        con.execute(
            f"""INSERT INTO tokens
            SELECT ?, token_id, any_value(symbol), any_value(name), any_value(decimals)
            FROM {t_meta} GROUP BY token_id""",
            [chain],
        ).fetchall()
