"""On-chain items of a customer: the counterparties and the exposure of the customer's
deposit addresses and withdrawal destinations, from the chain store and tracing."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from chainsleuth.chain import flows as flow_service
from chainsleuth.chain.lookups import ChainReader
from chainsleuth.core.errors import InvalidInput
from chainsleuth.exchange.models import DepositAddress, Withdrawal
from chainsleuth.packages.tables import Scope, Sources, Table
from chainsleuth.tracing import service as tracing_service

#: the most flows read per chain and customer for the counterparties
MAX_FLOWS = 200_000
EXPOSURE_HOPS = 3


def customer_addresses(session: Session, customer_id: str) -> dict[str, list[str]]:
    """chain -> the customer's deposit addresses and withdrawal destinations, sorted."""
    found: dict[str, set[str]] = defaultdict(set)
    for chain, address in session.execute(
        select(DepositAddress.chain, DepositAddress.address).where(
            DepositAddress.customer_id == customer_id
        )
    ):
        found[chain].add(address)
    for chain, address in session.execute(
        select(Withdrawal.chain, Withdrawal.address)
        .where(Withdrawal.customer_id == customer_id)
        .distinct()
    ):
        found[chain].add(address)
    return {c: sorted(a) for c, a in sorted(found.items())}


def _known(reader: ChainReader, chain: str, addresses: Iterable[str]) -> list[str]:
    return [a for a in addresses if reader.address_id(chain, a) is not None]


def _chain_addresses(session: Session, scope: Scope, src: Sources) -> list[str]:
    if src.reader is None or src.reader.con is None or scope.chain is None:
        raise InvalidInput("the chain store is not there: on-chain items cannot be read")
    mine = customer_addresses(session, scope.customer_id).get(scope.chain, [])
    return _known(src.reader, scope.chain, mine)


def counterparties(session: Session, scope: Scope, src: Sources) -> Table:
    table = Table(["direction", "counterparty", "asset", "transfers", "value", "first", "last"])
    addresses = _chain_addresses(session, scope, src)
    assert src.reader is not None and scope.chain is not None
    if not addresses:
        return table
    reader, chain = src.reader, scope.chain
    symbols: dict[int, str] = {}
    for a in addresses:
        for t in reader.address_summary(chain, a).assets:
            symbols[t.asset.id] = t.asset.symbol
    flows = flow_service.flow_records(
        reader,
        chain,
        flow_service.flows(
            reader, chain, addresses, since=scope.since, until=scope.until, limit=MAX_FLOWS
        ),
    )
    own = set(addresses)
    agg: dict[tuple[str, str, int], list[Any]] = {}
    for f in flows:
        if f.from_address in own and f.to_address in own:
            continue
        if f.to_address in own:
            key = ("received_from", f.from_address or "(new coins)", f.asset_id)
        else:
            key = ("sent_to", f.to_address or "(none)", f.asset_id)
        entry = agg.setdefault(key, [0, 0, f.time, f.time])
        entry[0] += 1
        entry[1] += f.value
        entry[2] = min(entry[2], f.time)
        entry[3] = max(entry[3], f.time)
    table.rows = [
        (direction, other, symbols.get(asset, str(asset)), n, value, first.isoformat(),
         last.isoformat())
        for (direction, other, asset), (n, value, first, last) in sorted(
            agg.items(), key=lambda kv: (kv[0][0], -kv[1][1], kv[0][1], kv[0][2])
        )
    ]  # fmt: skip
    return table


def exposure(session: Session, scope: Scope, src: Sources) -> Table:
    table = Table(
        ["direction", "category", "asset", "value", "share", "direct_value", "indirect_value",
         "min_hops"]
    )  # fmt: skip
    addresses = _chain_addresses(session, scope, src)
    assert src.reader is not None and scope.chain is not None
    if not addresses:
        return table
    if src.tracing is None or src.tracing.categories is None:
        raise InvalidInput("no labels: on-chain exposure cannot be computed")
    report = tracing_service.exposure(
        src.reader, scope.chain, addresses, src.tracing, hops=EXPOSURE_HOPS
    )
    table.rows = [
        (e.direction, e.category, e.asset, e.value, f"{e.share:.6f}", e.direct_value,
         e.indirect_value, e.min_hops)
        for e in sorted(report.entries, key=lambda e: (e.direction, -e.value, e.category))
    ]  # fmt: skip
    return table
