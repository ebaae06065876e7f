"""Finding the flows behind watch-list hits: from the watched addresses (or an entity's
members) in the scanned blocks to our deposit addresses, directly or through up to N - 1
intermediate addresses. Used by ``chainsleuth.alerts.watch``."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from chainsleuth.alerts.enums import WatchKind
from chainsleuth.alerts.models import WatchlistEntry
from chainsleuth.chain import flows as chain_flows
from chainsleuth.chain import storage
from chainsleuth.chain.addresses import canonical_address
from chainsleuth.chain.chains import get_chain
from chainsleuth.chain.lookups import ChainReader
from chainsleuth.core.errors import NotFound
from chainsleuth.entities import service as entity_service
from chainsleuth.exchange.models import DepositAddress

log = logging.getLogger(__name__)

MAX_FRONTIER = 1000


@dataclass
class Hit:
    entry: WatchlistEntry
    tx_hash: str
    height: int
    from_address: str
    deposit_address: str
    customer_id: str
    asset: str
    amount: int
    hops: int


class Deposits:
    """Which address ids are our deposit addresses: asked only for the ids that the flows
    name, from the exchange's records (``exchange_deposit_addresses``, read-only, stored
    canonical), and remembered for the scan."""

    BATCH = 500

    def __init__(self, session: Session, reader: ChainReader, chain: str) -> None:
        self.session, self.reader, self.chain = session, reader, chain
        self.known: dict[int, tuple[str, str] | None] = {}

    def learn(self, ids: Iterable[Any]) -> None:
        missing = sorted({int(i) for i in ids if i is not None} - set(self.known))
        if not missing:
            return
        texts = self.reader._addresses(self.chain, list(missing))
        canonical = [canonical_address(self.chain, t) if t else "" for t in texts]
        found: dict[str, str] = {}
        for i in range(0, len(canonical), self.BATCH):
            chunk = [c for c in canonical[i : i + self.BATCH] if c]
            rows = self.session.execute(
                select(DepositAddress.address, DepositAddress.customer_id).where(
                    DepositAddress.chain == self.chain, DepositAddress.address.in_(chunk)
                )
            )
            found.update((address, customer) for address, customer in rows)
        for address_id, text in zip(missing, canonical, strict=True):
            self.known[address_id] = (text, found[text]) if text in found else None

    def __contains__(self, address_id: object) -> bool:
        return isinstance(address_id, int) and self.known.get(address_id) is not None

    def __getitem__(self, address_id: int) -> tuple[str, str]:
        found = self.known[address_id]
        assert found is not None
        return found


def _entry_sources(
    reader: ChainReader, root: Path, chain: str, entries: Sequence[WatchlistEntry]
) -> dict[int, np.ndarray]:
    """entry id -> the address ids it watches (the store's; unknown addresses have none)."""
    out: dict[int, np.ndarray] = {}
    addressed = [e for e in entries if e.kind == WatchKind.ADDRESS.value]
    if addressed:
        ids = reader.address_ids(chain, [e.value for e in addressed])
        for entry, found in zip(addressed, ids, strict=True):
            if found >= 0:
                out[entry.id] = np.array([found], dtype=np.int64)
    for entry in entries:
        if entry.kind != WatchKind.ENTITY.value:
            continue
        try:
            out[entry.id] = entity_service.members(root, chain, int(entry.value))
        except NotFound as exc:  # an entity id that merged, or entities not built
            log.warning("watch-list entry %s skipped: %s", entry.id, exc.message)
    return out


def time_bounds(reader: ChainReader, chain: str, first: int, last: int) -> tuple[Any, Any]:
    assert reader.con is not None
    row = storage.one(
        reader.con,
        "SELECT epoch(min(time))::BIGINT, epoch(max(time))::BIGINT FROM blocks "
        "WHERE chain = ? AND height BETWEEN ? AND ?",
        [chain, first, last],
    )
    if row is None or row[0] is None:
        return None, None
    return datetime.fromtimestamp(row[0], UTC), datetime.fromtimestamp(row[1], UTC)


def _asset_names(reader: ChainReader, chain: str, ids: set[int]) -> dict[int, str]:
    info = get_chain(chain)
    return {i: a.symbol for i, a in reader._assets(info, ids).items()}


def _into_deposits(
    rows: list[dict[str, Any]], deposits: Deposits, first: int, last: int
) -> list[dict[str, Any]]:
    """The flows in the blocks that pay one of our deposit addresses (not from another)."""
    rows = [r for r in rows if first <= r["height"] <= last and r["to_id"] is not None]
    deposits.learn(r[k] for r in rows for k in ("from_id", "to_id"))
    return [r for r in rows if r["to_id"] in deposits and r["from_id"] not in deposits]


def _onward(
    reader: ChainReader,
    chain: str,
    sources: np.ndarray,
    deposits: Deposits,
    first: int,
    last: int,
    bounds: tuple[Any, Any],
    hops: int,
) -> list[tuple[int, dict[str, Any]]]:
    """Deposits in the blocks from addresses 1 .. hops - 1 hops downstream of ``sources``."""
    since, until = bounds
    reached = set(sources.tolist())
    frontier = sources
    found: list[tuple[int, dict[str, Any]]] = []
    for hop in range(2, hops + 1):
        # where the watched funds went before (up to the end of the scanned blocks)
        onward = chain_flows.flows(
            reader, chain, frontier.tolist(), direction=chain_flows.Direction.OUT, until=until
        )
        if not onward.num_rows:
            break
        to_ids = [int(i) for i in np.unique(onward["to_id"].drop_null().to_numpy())]
        to_ids = [i for i in to_ids if i not in reached][: MAX_FRONTIER * 4]
        deposits.learn(to_ids)  # funds stop at our deposit addresses
        fresh = [i for i in to_ids if i not in deposits][:MAX_FRONTIER]
        if not fresh:
            break
        reached.update(fresh)
        frontier = np.array(fresh, dtype=np.int64)
        table = chain_flows.flows(
            reader,
            chain,
            fresh,
            direction=chain_flows.Direction.OUT,
            since=since,
            until=until,
        )
        found.extend((hop, r) for r in _into_deposits(table.to_pylist(), deposits, first, last))
    return found


def find_hits(
    reader: ChainReader,
    root: Path,
    chain: str,
    entries: Sequence[WatchlistEntry],
    deposits: Deposits,
    first: int,
    last: int,
    bounds: tuple[Any, Any],
    hops: int,
) -> list[Hit]:
    """The hits of every entry in the blocks: one flow query for all direct hits."""
    sources = _entry_sources(reader, root, chain, entries)
    owner: dict[int, list[WatchlistEntry]] = {}
    for entry in entries:
        for address_id in sources.get(entry.id, ()):
            owner.setdefault(int(address_id), []).append(entry)
    if not owner:
        return []
    since, until = bounds
    table = chain_flows.flows(
        reader,
        chain,
        sorted(owner),
        direction=chain_flows.Direction.OUT,
        since=since,
        until=until,
    )
    found: list[tuple[WatchlistEntry, int, dict[str, Any]]] = [
        (entry, 1, r)
        for r in _into_deposits(table.to_pylist(), deposits, first, last)
        for entry in owner[r["from_id"]]
    ]
    if hops > 1:
        for entry in entries:
            if entry.id in sources:
                found.extend(
                    (entry, hop, r)
                    for hop, r in _onward(
                        reader, chain, sources[entry.id], deposits, first, last, bounds, hops
                    )
                )
    if not found:
        return []
    hashes = reader._hashes(chain, [r["tx_id"] for _, _, r in found])
    senders = reader._addresses(chain, [r["from_id"] for _, _, r in found])
    assets = _asset_names(reader, chain, {int(r["asset_id"]) for _, _, r in found})
    hits: dict[tuple[int, str, str], Hit] = {}
    for (entry, hop, r), tx_hash, sender in zip(found, hashes, senders, strict=True):
        deposit, customer = deposits[r["to_id"]]
        key = (entry.id, tx_hash, deposit)
        if key in hits and hits[key].hops <= hop:
            continue
        hits[key] = Hit(
            entry=entry,
            tx_hash=tx_hash,
            height=int(r["height"]),
            from_address=canonical_address(chain, sender) if sender else "",
            deposit_address=deposit,
            customer_id=customer,
            asset=assets.get(int(r["asset_id"]), "?"),
            amount=int(r["value"]),
            hops=hop,
        )
    return list(hits.values())
