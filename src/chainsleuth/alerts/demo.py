"""The demo's watch list: the world's crime schemes' cash-out senders, under watch, and a
catch-up scan that raises their alerts from the real chain data (idempotent)."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq

from chainsleuth.alerts import watch, watchlist
from chainsleuth.alerts.enums import Severity, WatchKind
from chainsleuth.alerts.schemas import ScanResult, WatchEntryCreate
from chainsleuth.audit.service import Actor
from chainsleuth.chain import service as chain_service
from chainsleuth.core.config import Settings
from chainsleuth.core.db import Database
from chainsleuth.core.errors import ConfigurationError, InvalidInput

#: how many addresses per scheme the demo watches
PER_SCHEME = 2


def seed(settings: Settings, *, world: Path) -> tuple[int, list[ScanResult]]:
    """Watch the addresses that paid each scheme's cash-outs at the exchange, then scan.

    Returns the entries added (0 when they exist already) and the scans' results.
    """
    if not settings.demo:
        raise ConfigurationError("the demo watch list is seeded only with CHAINSLEUTH_DEMO=1")
    hops_file = world / "truth" / "scheme_hops.parquet"
    schemes_file = world / "truth" / "schemes.json"
    if not hops_file.is_file() or not schemes_file.is_file():
        raise InvalidInput(f"{world} is not a world folder with its ground truth")
    names = {s["id"]: f"{s['name']} ({s['type']})" for s in json.loads(schemes_file.read_text())}
    wanted: dict[tuple[str, str], str] = {}
    per_scheme: dict[str, int] = {}
    for hop in pq.read_table(hops_file).to_pylist():
        if not hop.get("cash_out_customer"):
            continue
        scheme = hop["scheme"]
        for address in hop["from_addresses"] or []:
            key = (hop["chain"], address)
            if key in wanted or per_scheme.get(scheme, 0) >= PER_SCHEME:
                continue
            per_scheme[scheme] = per_scheme.get(scheme, 0) + 1
            wanted[key] = f"demo: cash-out address of {names.get(scheme, scheme)}"
    actor = Actor.system("demo-seed")
    db = Database.from_settings(settings)
    added = 0
    try:
        with db.session() as session:
            known = {(e.chain, e.value) for e, _ in watch.list_entries(session)}
            for (chain, address), reason in sorted(wanted.items()):
                entry = WatchEntryCreate(
                    kind=WatchKind.ADDRESS,
                    chain=chain,
                    value=address,
                    reason=reason,
                    severity=Severity.HIGH,
                )
                canonical = watchlist.canonical_value(WatchKind.ADDRESS, chain, address)
                if (chain, canonical) in known:
                    continue
                watch.add_entry(session, actor=actor, data=entry)
                added += 1
            session.commit()
        results = []
        with chain_service.open_reader(settings) as reader:
            for chain in sorted({c for c, _ in wanted}):
                if watch.chain_bounds(reader, chain) is None:
                    continue
                results.append(
                    watch.scan(
                        db.session,
                        reader,
                        root=chain_service.store_root(settings),
                        chain=chain,
                        actor=actor,
                        from_height=0,
                    )
                )
    finally:
        db.dispose()
    return added, results
