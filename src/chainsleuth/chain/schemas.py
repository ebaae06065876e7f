"""The canonical chain model, declared as Arrow schemas.

Two layers, both in code so that every engine and every source agrees on them:

* **Source batches** (``SOURCE``): what a source hands the store for a block range, with
  canonical address strings and hashes (see ``chainsleuth.chain.addresses``). Ingesters
  (Bitcoin Core, Ethereum JSON-RPC, blockchain-etl files) and the world generator write
  these.
* **Stored tables** (``STORED``): what the store keeps in Parquet, with addresses and
  transactions dictionary-encoded to dense integer ids per chain (``address_id``,
  ``tx_id``) so that graph algorithms run on integers.

Amounts are integers in the asset's smallest unit: ``int64`` satoshi on UTXO chains,
``decimal128(38, 0)`` wei and token base units on account chains (wei overflows int64).
Times are UTC seconds.
"""

from __future__ import annotations

import pyarrow as pa

TIME = pa.timestamp("s", tz="UTC")
AMOUNT256 = pa.decimal128(38, 0)  # wei / token base units
HASH = pa.string()
ADDRESS = pa.string()

# --- UTXO chains: source batches -----------------------------------------------------------

UTXO_BLOCKS = pa.schema(
    [
        pa.field("height", pa.int64(), nullable=False),
        pa.field("hash", HASH, nullable=False),
        pa.field("prev_hash", HASH),
        pa.field("time", TIME, nullable=False),
    ]
)
UTXO_TXS = pa.schema(
    [
        pa.field("hash", HASH, nullable=False),
        pa.field("height", pa.int64(), nullable=False),
        pa.field("position", pa.int32(), nullable=False),  # index in its block
        pa.field("time", TIME, nullable=False),
        pa.field("coinbase", pa.bool_(), nullable=False),
        pa.field("fee", pa.int64(), nullable=False),  # satoshi; 0 for coinbase
        pa.field("locktime", pa.int64(), nullable=False),
        pa.field("version", pa.int32(), nullable=False),
        pa.field("size", pa.int32(), nullable=False),  # virtual size in vbytes
    ]
)
UTXO_OUTPUTS = pa.schema(
    [
        pa.field("tx_hash", HASH, nullable=False),
        pa.field("n", pa.int32(), nullable=False),
        pa.field("address", ADDRESS),  # null for OP_RETURN and non-standard scripts
        pa.field("value", pa.int64(), nullable=False),  # satoshi
        pa.field("script_type", pa.string(), nullable=False),  # chain.enums.ScriptType
    ]
)
UTXO_INPUTS = pa.schema(
    [
        pa.field("tx_hash", HASH, nullable=False),
        pa.field("n", pa.int32(), nullable=False),
        pa.field("prev_tx_hash", HASH, nullable=False),
        pa.field("prev_n", pa.int32(), nullable=False),
        # The spent output's address and value: null when the source does not give them
        # (Bitcoin Core verbosity 2); the store resolves them from the spent output.
        pa.field("address", ADDRESS),
        pa.field("value", pa.int64()),
    ]
)

# --- account chains: source batches --------------------------------------------------------

ACCOUNT_BLOCKS = pa.schema(
    [
        pa.field("height", pa.int64(), nullable=False),
        pa.field("hash", HASH, nullable=False),
        pa.field("prev_hash", HASH),
        pa.field("time", TIME, nullable=False),
        pa.field("miner", ADDRESS),
    ]
)
ACCOUNT_TXS = pa.schema(
    [
        pa.field("hash", HASH, nullable=False),
        pa.field("height", pa.int64(), nullable=False),
        pa.field("position", pa.int32(), nullable=False),
        pa.field("time", TIME, nullable=False),
        pa.field("from_address", ADDRESS, nullable=False),
        pa.field("to_address", ADDRESS),  # null for a contract creation
        pa.field("value", AMOUNT256, nullable=False),  # wei
        pa.field("fee", AMOUNT256, nullable=False),  # wei: gas used x effective gas price
        pa.field("status", pa.int8(), nullable=False),  # 1 success, 0 failed
        pa.field("method", pa.string()),  # 4-byte selector "0xa9059cbb", null for plain
        pa.field("created_contract", ADDRESS),  # the new contract's address, if any
        pa.field("nonce", pa.int64(), nullable=False),
        pa.field("gas_used", pa.int64(), nullable=False),
    ]
)
TOKEN_TRANSFERS = pa.schema(
    [
        pa.field("tx_hash", HASH, nullable=False),
        pa.field("log_index", pa.int32(), nullable=False),
        pa.field("token", ADDRESS, nullable=False),  # the ERC-20 contract
        pa.field("from_address", ADDRESS, nullable=False),
        pa.field("to_address", ADDRESS, nullable=False),
        pa.field("amount", AMOUNT256, nullable=False),  # token base units
    ]
)
#: internal transfers: value moved by a call inside a transaction (a contract forwarding
#: ETH, a creation's endowment, a self-destruct's balance), from the node's traces
#: (``chainsleuth.ingest.traces``); the transaction's own top-level call is in ``txs``
INTERNAL_TRANSFERS = pa.schema(
    [
        pa.field("tx_hash", HASH, nullable=False),
        pa.field("trace_address", pa.string(), nullable=False),  # "0,2": child indexes
        pa.field("from_address", ADDRESS, nullable=False),
        pa.field("to_address", ADDRESS, nullable=False),
        pa.field("value", AMOUNT256, nullable=False),  # wei
        pa.field("trace_type", pa.string(), nullable=False),  # call, create, suicide
        pa.field("call_type", pa.string()),  # call, callcode (null for create, suicide)
        pa.field("status", pa.int8(), nullable=False),  # 1 moved, 0 failed (or a parent did)
        pa.field("error", pa.string()),
    ]
)
TOKENS = pa.schema(
    [
        pa.field("address", ADDRESS, nullable=False),
        pa.field("symbol", pa.string()),
        pa.field("name", pa.string()),
        pa.field("decimals", pa.int32()),
    ]
)

#: table name -> schema, per kind of chain, as sources hand them over
SOURCE: dict[str, dict[str, pa.Schema]] = {
    "utxo": {
        "blocks": UTXO_BLOCKS,
        "txs": UTXO_TXS,
        "outputs": UTXO_OUTPUTS,
        "inputs": UTXO_INPUTS,
    },
    "account": {
        "blocks": ACCOUNT_BLOCKS,
        "txs": ACCOUNT_TXS,
        "token_transfers": TOKEN_TRANSFERS,
        "tokens": TOKENS,
        "traces": INTERNAL_TRANSFERS,
    },
}
#: source tables a batch may leave out (read as empty): the world generator and sources
#: without a trace method give no traces
OPTIONAL: dict[str, frozenset[str]] = {"utxo": frozenset(), "account": frozenset({"traces"})}

# --- stored tables (Parquet), dictionary-encoded -------------------------------------------

STORED_UTXO_BLOCKS = pa.schema(
    [
        pa.field("height", pa.int64(), nullable=False),
        pa.field("hash", HASH, nullable=False),
        pa.field("prev_hash", HASH),
        pa.field("time", TIME, nullable=False),
        pa.field("tx_count", pa.int32(), nullable=False),
    ]
)
STORED_UTXO_TXS = pa.schema(
    [
        pa.field("tx_id", pa.int64(), nullable=False),
        pa.field("hash", HASH, nullable=False),
        pa.field("height", pa.int64(), nullable=False),
        pa.field("position", pa.int32(), nullable=False),
        pa.field("time", TIME, nullable=False),
        pa.field("coinbase", pa.bool_(), nullable=False),
        pa.field("fee", pa.int64(), nullable=False),
        pa.field("locktime", pa.int64(), nullable=False),
        pa.field("version", pa.int32(), nullable=False),
        pa.field("size", pa.int32(), nullable=False),
        pa.field("input_count", pa.int32(), nullable=False),
        pa.field("output_count", pa.int32(), nullable=False),
        pa.field("input_value", pa.int64(), nullable=False),
        pa.field("output_value", pa.int64(), nullable=False),
    ]
)
STORED_UTXO_OUTPUTS = pa.schema(
    [
        pa.field("tx_id", pa.int64(), nullable=False),
        pa.field("height", pa.int64(), nullable=False),
        pa.field("n", pa.int32(), nullable=False),
        pa.field("address_id", pa.int64()),
        pa.field("value", pa.int64(), nullable=False),
        pa.field("script_type", pa.dictionary(pa.int8(), pa.string()), nullable=False),
    ]
)
STORED_UTXO_INPUTS = pa.schema(
    [
        pa.field("tx_id", pa.int64(), nullable=False),
        pa.field("height", pa.int64(), nullable=False),
        pa.field("n", pa.int32(), nullable=False),
        # null where the spent output lies below the store's first block (a chain loaded
        # from a height above 0): the input's address and value are the source's
        pa.field("prev_tx_id", pa.int64()),
        pa.field("prev_n", pa.int32(), nullable=False),
        pa.field("address_id", pa.int64()),
        pa.field("value", pa.int64(), nullable=False),
    ]
)
STORED_ACCOUNT_BLOCKS = pa.schema(
    [
        pa.field("height", pa.int64(), nullable=False),
        pa.field("hash", HASH, nullable=False),
        pa.field("prev_hash", HASH),
        pa.field("time", TIME, nullable=False),
        pa.field("miner_id", pa.int64()),
        pa.field("tx_count", pa.int32(), nullable=False),
    ]
)
STORED_ACCOUNT_TXS = pa.schema(
    [
        pa.field("tx_id", pa.int64(), nullable=False),
        pa.field("hash", HASH, nullable=False),
        pa.field("height", pa.int64(), nullable=False),
        pa.field("position", pa.int32(), nullable=False),
        pa.field("time", TIME, nullable=False),
        pa.field("from_id", pa.int64(), nullable=False),
        pa.field("to_id", pa.int64()),
        pa.field("value", AMOUNT256, nullable=False),
        pa.field("fee", AMOUNT256, nullable=False),
        pa.field("status", pa.int8(), nullable=False),
        pa.field("method", pa.string()),
        pa.field("created_contract_id", pa.int64()),
        pa.field("nonce", pa.int64(), nullable=False),
        pa.field("gas_used", pa.int64(), nullable=False),
    ]
)
STORED_TOKEN_TRANSFERS = pa.schema(
    [
        pa.field("tx_id", pa.int64(), nullable=False),
        pa.field("height", pa.int64(), nullable=False),
        pa.field("log_index", pa.int32(), nullable=False),
        pa.field("token_id", pa.int64(), nullable=False),
        pa.field("from_id", pa.int64(), nullable=False),
        pa.field("to_id", pa.int64(), nullable=False),
        pa.field("amount", AMOUNT256, nullable=False),
    ]
)
STORED_INTERNAL_TRANSFERS = pa.schema(
    [
        pa.field("tx_id", pa.int64(), nullable=False),
        pa.field("height", pa.int64(), nullable=False),
        pa.field("trace_address", pa.string(), nullable=False),
        pa.field("from_id", pa.int64(), nullable=False),
        pa.field("to_id", pa.int64(), nullable=False),
        pa.field("value", AMOUNT256, nullable=False),
        pa.field("trace_type", pa.string(), nullable=False),
        pa.field("call_type", pa.string()),
        pa.field("status", pa.int8(), nullable=False),
        pa.field("error", pa.string()),
    ]
)

STORED: dict[str, dict[str, pa.Schema]] = {
    "utxo": {
        "blocks": STORED_UTXO_BLOCKS,
        "txs": STORED_UTXO_TXS,
        "outputs": STORED_UTXO_OUTPUTS,
        "inputs": STORED_UTXO_INPUTS,
    },
    "account": {
        "blocks": STORED_ACCOUNT_BLOCKS,
        "txs": STORED_ACCOUNT_TXS,
        "token_transfers": STORED_TOKEN_TRANSFERS,
        "traces": STORED_INTERNAL_TRANSFERS,
    },
}
