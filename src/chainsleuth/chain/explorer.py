"""Blocks, statistics and search for the explorer (the rest of ``ChainReader``)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from chainsleuth.chain import storage
from chainsleuth.chain.addresses import (
    canonical_address,
    canonical_hash,
    display_address,
    looks_like_address,
)
from chainsleuth.chain.chains import CHAINS, ChainInfo, get_chain
from chainsleuth.chain.enums import ChainKind
from chainsleuth.chain.records import Asset, BlockDetail, BlockTx, ChainStats, SearchHit, StoreStats
from chainsleuth.core.errors import InvalidInput, NotFound

if TYPE_CHECKING:
    from chainsleuth.chain.lookups import ChainReader

MAX_PAGE = 500


def utc(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def native_asset(info: ChainInfo) -> Asset:
    return Asset(id=storage.NATIVE_ASSET, symbol=info.symbol, decimals=info.decimals)


_HEIGHT = re.compile(r"^\d{1,12}$")


def block(
    reader: ChainReader, chain: str, height: int, *, limit: int = 50, after: int = -1
) -> BlockDetail:
    """A block and its transactions from position ``after + 1`` on, ``limit`` of them."""
    info = get_chain(chain)
    if height < 0:
        raise InvalidInput("a block height cannot be negative")
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInput(f"limit must be between 1 and {MAX_PAGE}")
    con = reader._db()
    found = storage.one(
        con,
        """SELECT b.height, b.hash, epoch(b.time)::BIGINT, b.first_tx_id, b.tx_count,
                  b.height = s.tip_height
           FROM blocks b JOIN chain_state s USING (chain)
           WHERE b.chain = ? AND b.height = ?""",
        [info.id, height],
    )
    if found is None:
        raise NotFound(f"no block {height} on {info.name}")
    _, block_hash, time, first_tx, tx_count, is_tip = found
    segment = storage.one(
        con,
        """SELECT path FROM segments WHERE chain = ? AND tbl = 'blocks'
           AND first_height <= ? AND last_height >= ?""",
        [info.id, height, height],
    )
    stored = storage.arrow(
        con,
        "SELECT * FROM read_parquet(?) WHERE height = ?",
        [str(reader.root / segment[0]), height],
    ).to_pylist()[0]
    txs: list[dict[str, Any]] = []
    lo, hi = first_tx + after + 1, min(first_tx + after + 1 + limit, first_tx + tx_count)
    if lo < hi:
        path = reader._segment(info.id, "txs", lo)
        txs = storage.arrow(
            con,
            "SELECT * FROM read_parquet(?) WHERE tx_id >= ? AND tx_id < ? ORDER BY tx_id",
            [path, lo, hi],
        ).to_pylist()
    hashes = reader._hashes(info.id, [t["tx_id"] for t in txs])
    miner = None
    if info.kind is ChainKind.ACCOUNT:
        miner = reader._addresses(info.id, [stored["miner_id"]])[0]
        ends = reader._addresses(info.id, [i for t in txs for i in (t["from_id"], t["to_id"])])
    return BlockDetail(
        chain=info.id,
        height=height,
        hash=block_hash,
        prev_hash=stored["prev_hash"],
        time=utc(time),
        tx_count=tx_count,
        miner=miner,
        native=native_asset(info),
        txs=[
            BlockTx(
                tx_id=t["tx_id"],
                hash=h,
                position=t["position"],
                fee=int(t["fee"]),
                value=int(t["output_value"] if info.kind is ChainKind.UTXO else t["value"]),
                inputs=t.get("input_count"),
                outputs=t.get("output_count"),
                coinbase=t.get("coinbase"),
                from_address=ends[2 * i] if info.kind is ChainKind.ACCOUNT else None,
                to_address=ends[2 * i + 1] if info.kind is ChainKind.ACCOUNT else None,
                status=t.get("status"),
            )
            for i, (t, h) in enumerate(zip(txs, hashes, strict=True))
        ],
        next_after=txs[-1]["position"] if txs and hi < first_tx + tx_count else None,
        is_tip=bool(is_tip),
    )


def latest_blocks(
    reader: ChainReader, chain: str, limit: int = 10
) -> list[tuple[int, str, datetime, int]]:
    """(height, hash, time, tx count) of the newest blocks."""
    info = get_chain(chain)
    if reader.con is None:
        return []
    return [
        (r[0], r[1], utc(r[2]), r[3])
        for r in storage.rows(
            reader.con,
            """SELECT height, hash, epoch(time)::BIGINT, tx_count FROM blocks
               WHERE chain = ?
               ORDER BY height DESC LIMIT ?""",
            [info.id, limit],
        )
    ]


def stats(reader: ChainReader) -> StoreStats:
    chains: list[ChainStats] = []
    total = 0
    counts: dict[tuple[str, str], tuple[int, int]] = {}
    states: dict[str, tuple[Any, ...]] = {}
    if reader.con is not None:
        for chain, table, rows, size in storage.rows(
            reader.con,
            "SELECT chain, tbl, sum(rows)::BIGINT, sum(bytes)::BIGINT FROM segments "
            "GROUP BY chain, tbl",
        ):
            counts[(chain, table)] = (rows, size)
        for row in storage.rows(
            reader.con,
            "SELECT chain, tip_height, epoch(tip_time)::BIGINT, tx_count, address_count "
            "FROM chain_state",
        ):
            states[row[0]] = row
    for info in CHAINS.values():
        state = states.get(info.id, (info.id, None, None, 0, 0))
        flat = reader._flat(info.id)
        size = sum(v[1] for k, v in counts.items() if k[0] == info.id)
        size += sum(
            p.stat().st_size for p in (flat.tx_path, flat.off_path, flat.dat_path) if p.exists()
        )
        total += size
        chains.append(
            ChainStats(
                chain=info.id,
                name=info.name,
                kind=str(info.kind),
                symbol=info.symbol,
                tip_height=state[1],
                tip_time=utc(state[2]) if state[2] is not None else None,
                blocks=counts.get((info.id, "blocks"), (0, 0))[0],
                txs=state[3],
                addresses=state[4],
                outputs=counts.get((info.id, "outputs"), (0, 0))[0],
                inputs=counts.get((info.id, "inputs"), (0, 0))[0],
                token_transfers=counts.get((info.id, "token_transfers"), (0, 0))[0],
                bytes=size,
            )
        )
    for name in (storage.DB_FILE, storage.DB_FILE + ".wal"):
        path = reader.root / name
        if path.exists():
            total += path.stat().st_size
    return StoreStats(chains=chains, bytes=total)


def search(reader: ChainReader, query: str) -> list[SearchHit]:
    """What ``query`` names on any chain: an address, a transaction or block hash, or a
    block height. Found things come first; a valid address with no activity is listed
    with ``found`` False."""
    text = query.strip()
    if not text:
        return []
    hits: list[SearchHit] = []
    for info in CHAINS.values():
        if _HEIGHT.match(text):
            height = int(text)
            if reader.con is not None and storage.one(
                reader.con,
                "SELECT 1 FROM blocks WHERE chain = ? AND height = ?",
                [info.id, height],
            ):
                hits.append(_hit("block", info.id, str(height), True))
        if _is_hash(info.id, text):
            canonical = canonical_hash(info.id, text)
            if reader.tx_id(info.id, canonical) is not None:
                hits.append(_hit("tx", info.id, canonical, True))
            elif reader.con is not None:
                block = storage.one(
                    reader.con,
                    "SELECT height FROM blocks WHERE chain = ? AND hash = ?",
                    [info.id, canonical],
                )
                if block:
                    hits.append(_hit("block", info.id, str(block[0]), True))
        if looks_like_address(info.id, text):
            shown = display_address(info.id, canonical_address(info.id, text))
            found = reader.address_id(info.id, text) is not None
            hits.append(_hit("address", info.id, shown, found))
    return sorted(hits, key=lambda h: not h.found)


def _hit(kind: str, chain: str, value: str, found: bool) -> SearchHit:
    paths = {"address": "addresses", "tx": "txs", "block": "blocks"}
    return SearchHit(
        kind=kind,
        chain=chain,
        value=value,
        path=f"/chains/{chain}/{paths[kind]}/{value}",
        found=found,
    )


def _is_hash(chain: str, text: str) -> bool:
    try:
        canonical_hash(chain, text)
    except InvalidInput:
        return False
    return True
