"""The watch list: addresses and entities under watch, and the scan that finds their funds
arriving at our deposit addresses.

``scan_range`` looks at the blocks ``first..last`` of a chain: every flow in them from a
watched address (or a member of a watched entity) to one of the exchange's deposit addresses
is a hit (``hops`` 1). With ``hops`` N > 1 it also follows the watched funds forward through
up to N - 1 intermediate addresses (any earlier block), so that a deposit in these blocks
from an address the watched one paid (directly or through others) is a hit too, with its
hop count; the amount is the deposit's flow (an upper bound of the watched funds in it).
Expansion stops at our deposit addresses and after ``MAX_FRONTIER`` addresses per hop.

Each hit is stored once (entry, transaction, deposit address), so scanning the same blocks
twice changes nothing. New hits raise one alert (``source="watchlist"``) per entry and
deposit address, which repeats of the same pair bump (see ``service.raise_alert``).

The ingest loop (``chainsleuth.ingest``) and the world loader call ``after_append`` after
each stored block range: the watch list is checked within one block of ingest.
``chainsleuth watch scan [--from-height H]`` catches up (``WatchScanState`` remembers how
far each chain has been scanned).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from chainsleuth.alerts import service as alert_service
from chainsleuth.alerts.enums import WatchKind
from chainsleuth.alerts.models import WatchlistEntry, WatchlistHit
from chainsleuth.alerts.schemas import ScanResult
from chainsleuth.alerts.watchflows import Deposits, Hit, find_hits, time_bounds
from chainsleuth.alerts.watchlist import (
    _advance,
    active_entries,
    add_entry,
    entry_hits,
    get_entry,
    list_entries,
    next_height,
    remove_entry,
)
from chainsleuth.audit.service import Actor
from chainsleuth.chain import storage
from chainsleuth.chain.addresses import display_address
from chainsleuth.chain.chains import format_amount, get_chain
from chainsleuth.chain.lookups import ChainReader
from chainsleuth.core.errors import ChainsleuthError, DatabaseNotReady, InvalidInput, NotFound

log = logging.getLogger(__name__)

MAX_HOPS = 4
#: the transactions listed in one alert's details
MAX_LISTED = 50


# -- the scan ---------------------------------------------------------------------------


@dataclass
class _Scan:
    hits: list[Hit] = field(default_factory=list)
    alerts: list[int] = field(default_factory=list)


def scan_range(
    session: Session,
    reader: ChainReader,
    *,
    root: Path,
    chain: str,
    first: int,
    last: int,
    actor: Actor,
    hops: int = 1,
    entries: Sequence[WatchlistEntry] | None = None,
) -> ScanResult:
    """Look for watched funds reaching our deposit addresses in blocks ``first..last``.

    Stores the new hits, raises their alerts and moves the chain's scan mark, in the
    caller's transaction (the caller commits).
    """
    info = get_chain(chain)
    if not 1 <= hops <= MAX_HOPS:
        raise InvalidInput(f"hops is 1 to {MAX_HOPS}")
    if first < 0 or last < first:
        raise InvalidInput(f"no blocks from {first} to {last}")
    result = ScanResult(
        chain=info.id,
        from_height=first,
        to_height=last,
        blocks=last - first + 1,
        hits=0,
        alerts=[],
    )
    watched = list(entries) if entries is not None else active_entries(session, info.id)
    if not watched or reader.con is None:
        _advance(session, info.id, first, last)
        return result
    deposits = Deposits(session, reader, info.id)
    scan = _Scan()
    bounds = time_bounds(reader, info.id, first, last)
    if bounds[0] is not None:
        scan.hits = find_hits(reader, root, info.id, watched, deposits, first, last, bounds, hops)
    _record_hits(session, scan, actor=actor, chain=info.id)
    _advance(session, info.id, first, last)
    result.hits = len(scan.hits)
    result.alerts = scan.alerts
    return result


def _record_hits(session: Session, scan: _Scan, *, actor: Actor, chain: str) -> None:
    """Store the hits not stored before and raise an alert per entry and deposit address."""
    if not scan.hits:
        return
    known = {
        (e, t, d)
        for e, t, d in session.execute(
            select(WatchlistHit.entry_id, WatchlistHit.tx_hash, WatchlistHit.deposit_address).where(
                WatchlistHit.tx_hash.in_({h.tx_hash for h in scan.hits})
            )
        )
    }
    new = [h for h in scan.hits if (h.entry.id, h.tx_hash, h.deposit_address) not in known]
    scan.hits = new
    groups: dict[tuple[int, str], list[Hit]] = {}
    for hit in new:
        groups.setdefault((hit.entry.id, hit.deposit_address), []).append(hit)
    decimals = get_chain(chain).decimals
    for (_, deposit), hits in groups.items():
        entry = hits[0].entry
        hits.sort(key=lambda h: (h.height, h.tx_hash))
        nearest = min(h.hops for h in hits)
        what = (
            f"watched address {display_address(chain, entry.value)}"
            if entry.kind == WatchKind.ADDRESS.value
            else f"watched entity {entry.value}"
        )
        how = "directly" if nearest == 1 else f"within {nearest} hops"
        reason = (
            f"Funds from {what} ({entry.reason}) reached our deposit address "
            f"{display_address(chain, deposit)} of customer {hits[0].customer_id} {how}"
        )
        # totals over every hit of this entry at this deposit address, earlier ones too
        earlier = session.execute(
            select(WatchlistHit.asset, WatchlistHit.amount).where(
                WatchlistHit.entry_id == entry.id, WatchlistHit.deposit_address == deposit
            )
        ).all()
        total: dict[str, int] = {}
        for asset, amount in [*earlier, *((h.asset, h.amount) for h in hits)]:
            total[asset] = total.get(asset, 0) + amount
        alert = alert_service.raise_alert(
            session,
            actor=actor,
            severity=entry.severity,
            subject_type="address" if entry.kind == WatchKind.ADDRESS.value else "entity",
            subject=entry.value,
            chain=chain,
            reasons=[reason],
            source="watchlist",
            details={
                "watchlist_entry_id": entry.id,
                "deposit_address": deposit,
                "customer_id": hits[0].customer_id,
                "hops": nearest,
                "hits": len(earlier) + len(hits),
                "amounts": {
                    asset: {"value": str(v), "display": _display(v, asset, chain, decimals)}
                    for asset, v in total.items()
                },
                "transactions": [
                    {
                        "tx_hash": h.tx_hash,
                        "height": h.height,
                        "from_address": h.from_address,
                        "asset": h.asset,
                        "amount": str(h.amount),
                        "hops": h.hops,
                    }
                    for h in hits[:MAX_LISTED]
                ],
            },
        )
        scan.alerts.append(alert.id)
        for h in hits:
            session.add(
                WatchlistHit(
                    entry_id=entry.id,
                    alert_id=alert.id,
                    chain=chain,
                    tx_hash=h.tx_hash,
                    height=h.height,
                    from_address=h.from_address,
                    deposit_address=h.deposit_address,
                    customer_id=h.customer_id,
                    asset=h.asset,
                    amount=h.amount,
                    hops=h.hops,
                )
            )
    session.flush()


def _display(value: int, asset: str, chain: str, decimals: int) -> str:
    info = get_chain(chain)
    if asset == info.symbol:
        return f"{format_amount(value, decimals)} {asset}"
    return f"{value} {asset} (base units)"


# -- catching up and the ingest hook ------------------------------------------------------


def chain_bounds(reader: ChainReader, chain: str) -> tuple[int, int] | None:
    """The first and last stored heights of a chain, or None when it has no blocks."""
    if reader.con is None:
        return None
    row = storage.one(
        reader.con, "SELECT min(height), max(height) FROM blocks WHERE chain = ?", [chain]
    )
    if row is None or row[0] is None:
        return None
    return int(row[0]), int(row[1])


def scan(
    session_factory: Callable[[], AbstractContextManager[Session]],
    reader: ChainReader,
    *,
    root: Path,
    chain: str,
    actor: Actor,
    from_height: int | None = None,
    to_height: int | None = None,
    hops: int = 1,
    step: int | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> ScanResult:
    """Catch up: scan the chain from ``from_height`` (default: where the last scan ended)
    to ``to_height`` (default: the tip), ``step`` blocks per transaction (default: a
    twentieth of the way, at least 500 blocks)."""
    info = get_chain(chain)
    bounds = chain_bounds(reader, info.id)
    if bounds is None:
        raise NotFound(f"no blocks of {info.name} have been loaded yet")
    with session_factory() as session:
        start = from_height if from_height is not None else next_height(session, info.id)
    lo, hi = bounds
    start = lo if start is None else max(start, lo)
    end = hi if to_height is None else min(to_height, hi)
    if from_height is not None and from_height > hi:
        raise InvalidInput(f"{info.name} ends at block {hi}: nothing to scan from {from_height}")
    total = ScanResult(
        chain=info.id,
        from_height=start,
        to_height=max(end, start - 1),
        blocks=0,
        hits=0,
        alerts=[],
    )
    if step is None:
        step = max(500, (end - start + 1) // 20)
    if step < 1:
        raise InvalidInput("the step is at least one block")
    height = start
    while height <= end:
        last = min(height + step - 1, end)
        with session_factory() as session:
            part = scan_range(
                session,
                reader,
                root=root,
                chain=info.id,
                first=height,
                last=last,
                actor=actor,
                hops=hops,
            )
            session.commit()
        total.blocks += part.blocks
        total.hits += part.hits
        total.alerts.extend(a for a in part.alerts if a not in total.alerts)
        if on_progress is not None:
            on_progress(last - start + 1, end - start + 1)
        height = last + 1
    return total


def after_append(settings: Any, *, hops: int = 1) -> Callable[[str, int, int], None]:
    """A callback for the chain loaders: after each stored range, scan it (own transaction).

    Cheap when nothing is watched on the chain (one query). A failure is logged and does
    not stop the ingest: ``chainsleuth watch scan`` catches up later.
    """
    from chainsleuth.chain import service as chain_service  # noqa: PLC0415
    from chainsleuth.core.db import Database  # noqa: PLC0415

    off: list[str] = []  # set once the database turns out not to be there: warned once

    def hook(chain: str, first: int, last: int) -> None:
        if off:
            return
        url = make_url(settings.sqlalchemy_url)
        if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
            if not Path(url.database).exists():  # no database yet: nothing can be watched
                off.append(url.database)
                log.warning("watch list not checked: no database at %s", url.database)
                return
        db = Database.from_settings(settings)
        try:
            db.check_migrated()
            with db.session() as session:
                entries = active_entries(session, chain)
                if not entries:
                    _advance(session, chain, first, last)
                    session.commit()
                    return
                with chain_service.open_reader(settings) as reader:
                    scan_range(
                        session,
                        reader,
                        root=chain_service.store_root(settings),
                        chain=chain,
                        first=first,
                        last=last,
                        actor=Actor.system("watchlist"),
                        hops=hops,
                        entries=entries,
                    )
                session.commit()
        except DatabaseNotReady as exc:
            off.append(str(exc))
            log.warning("watch list not checked: %s", exc.message)
        except (ChainsleuthError, SQLAlchemyError) as exc:
            # the ingest goes on; the scan mark stays, so `watch scan` catches up
            log.warning("watch list not checked for %s %s-%s: %s", chain, first, last, exc)
        finally:
            db.dispose()

    return hook


__all__ = [
    "MAX_HOPS",
    "active_entries",
    "add_entry",
    "after_append",
    "chain_bounds",
    "entry_hits",
    "get_entry",
    "list_entries",
    "next_height",
    "remove_entry",
    "scan",
    "scan_range",
]
