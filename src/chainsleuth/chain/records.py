"""What lookups return: one set of models for the API, the CLI's JSON and the pages.

Amounts are integers in the asset's smallest unit (satoshi, wei, token base units); on
account chains they may exceed 2**53, so JSON clients should read them as big integers.
Each amount comes with its ``Asset`` (symbol and decimals) so that it can be shown in
whole units (``chainsleuth.chain.chains.format_amount``).
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel


class Asset(BaseModel):
    id: int  # -1: the chain's native asset; otherwise the token contract's address_id
    symbol: str
    decimals: int
    token: str | None = None  # the token contract's address


class AssetTotals(BaseModel):
    asset: Asset
    tx_count: int
    received: int
    sent: int  # on account chains, fees paid included
    balance: int


class AddressSummary(BaseModel):
    chain: str
    address: str
    address_id: int
    kind: str | None
    first_seen_height: int
    first_seen_time: datetime
    last_seen_height: int
    last_seen_time: datetime
    tx_count: int
    assets: list[AssetTotals]  # the native asset first


class AddressTxEntry(BaseModel):
    asset: Asset
    received: int
    sent: int
    delta: int
    balance: int  # the address's balance of this asset after the transaction


class AddressTx(BaseModel):
    tx_id: int
    hash: str
    height: int
    time: datetime
    entries: list[AddressTxEntry]


class AddressTxPage(BaseModel):
    chain: str
    address: str
    txs: list[AddressTx]  # newest first
    next_before: int | None  # pass as ``before`` for the next (older) page


class AddressView(BaseModel):
    summary: AddressSummary
    page: AddressTxPage


class TxInput(BaseModel):
    n: int
    prev_hash: str | None  # None: it spends an output below the store's first block
    prev_n: int
    address: str | None
    value: int


class TxOutput(BaseModel):
    n: int
    address: str | None
    value: int
    script_type: str
    spent_by: str | None = None  # hash of the spending transaction
    spent_by_input: int | None = None


class TokenTransfer(BaseModel):
    log_index: int
    token: Asset
    from_address: str
    to_address: str
    amount: int


class InternalTransfer(BaseModel):
    """ETH a contract moved inside the transaction (a trace below the top-level call)."""

    trace_address: str  # child indexes from the top-level call: "0", "0,2"
    from_address: str
    to_address: str
    value: int  # wei
    trace_type: str  # call, create, suicide
    call_type: str | None = None  # call, callcode
    status: int  # 1 moved, 0 failed (it or a call above it): moved nothing
    error: str | None = None


class TxDetail(BaseModel):
    chain: str
    kind: str
    tx_id: int
    hash: str
    height: int
    position: int
    time: datetime
    block_hash: str
    fee: int
    native: Asset
    # UTXO chains
    coinbase: bool | None = None
    size: int | None = None
    locktime: int | None = None
    version: int | None = None
    input_value: int | None = None
    output_value: int | None = None
    inputs: list[TxInput] = []
    outputs: list[TxOutput] = []
    # account chains
    from_address: str | None = None
    to_address: str | None = None
    created_contract: str | None = None
    value: int | None = None
    status: int | None = None
    method: str | None = None
    nonce: int | None = None
    gas_used: int | None = None
    token_transfers: list[TokenTransfer] = []
    internal_transfers: list[InternalTransfer] = []  # from the node's traces, where loaded


class BlockTx(BaseModel):
    tx_id: int
    hash: str
    position: int
    fee: int
    value: int  # UTXO: output value; account: value moved
    inputs: int | None = None
    outputs: int | None = None
    coinbase: bool | None = None
    from_address: str | None = None
    to_address: str | None = None
    status: int | None = None


class BlockDetail(BaseModel):
    chain: str
    height: int
    hash: str
    prev_hash: str | None
    time: datetime
    tx_count: int
    miner: str | None
    native: Asset
    txs: list[BlockTx]
    next_after: int | None  # pass as ``after`` (a position) for the next page
    is_tip: bool


class ChainStats(BaseModel):
    chain: str
    name: str
    kind: str
    symbol: str
    tip_height: int | None
    tip_time: datetime | None
    blocks: int
    txs: int
    addresses: int
    outputs: int
    inputs: int
    token_transfers: int
    bytes: int


class StoreStats(BaseModel):
    chains: list[ChainStats]
    bytes: int  # on disk, all of it


class SearchHit(BaseModel):
    kind: str  # "address", "tx" or "block"
    chain: str
    value: str  # the canonical text, or the height
    path: str  # the explorer page
    found: bool  # False: a valid address with no activity on this chain
