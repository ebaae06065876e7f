"""A screening server's warm-up: the first screenings' one-time work done before serving.

The first screening a server process answers pays for what every later one reuses: the
flow graph and the precomputed tables opened, the labelled nodes indexed, the compiled
trace kernels loaded, the scratch arrays of each concurrent trace allocated (hundreds of
megabytes each on a large chain). Under load that is seconds in which the screenings
queue behind it, and each worker process of a server pays it on its own.

``warm(app)`` runs at start-up (the lifespan, in every worker process) when the screening
lane is on and a precomputed risk table exists (the data folder of a screening service):
for each chain with a table it assesses an address, a deposit and a withdrawal of the
store as a screening would (``screening.check`` and ``assess``), writes nothing (the
session is rolled back), reserves a scratch set and a database connection for each of the
lane's threads, and makes the full garbage collection that all this would soon set off
under load (on the 10M world a fifth of a second with the GIL held: the worker's
screenings queued behind it, p99 over 600 ms in a minute at 200/s against 22 ms).
``CHAINSLEUTH_SCREENING_WARM=0`` turns it off. A failure is logged and the server serves
anyway: the first screenings then do the work themselves.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import time
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from chainsleuth.chain import storage
from chainsleuth.chain.chains import get_chain
from chainsleuth.chain.enums import ChainKind
from chainsleuth.chain.keys import hex_of
from chainsleuth.core.db import Database
from chainsleuth.core.errors import ChainsleuthError
from chainsleuth.risk import policy_store
from chainsleuth.risk import screening as screening_service
from chainsleuth.risk.facts import Scorer
from chainsleuth.risk.screening_schemas import ScreeningCreate
from chainsleuth.risk.table import open_table, tabled_chains

log = logging.getLogger(__name__)


def enabled() -> bool:
    return os.environ.get("CHAINSLEUTH_SCREENING_WARM", "1").strip() not in ("0", "false", "no")


def warm(app: Any, threads: int) -> list[str]:
    """Warm this process's screening path (see the module's docstring); the screenings
    it assessed, as "chain kind" lines (empty when there was nothing to warm)."""
    from chainsleuth.risk.screening_views import make_scorer

    state = app.state
    settings = state.settings
    chains = tabled_chains(settings.data_dir)
    if not chains:
        return []
    started = time.perf_counter()
    done: list[str] = []
    root = state.chain_store.root
    with state.db.session() as session:
        try:
            policy = policy_store.active(session)
            with state.chain_store.reader() as reader:
                scorer = make_scorer(state, settings, session, reader, None, policy)
                for chain in chains:
                    done += _warm_chain(session, scorer, root, chain)
                graph = scorer.graph
                graph.reserve_scratch(threads)
                spare = graph.spare_scratch
        finally:
            session.rollback()
    _open_connections(state.db, threads)
    # the full collection that the warm-up's new long-lived objects (graph, indexes, caches:
    # hundreds of thousands) would soon set off, made now: under load it would hold the GIL
    # for a fraction of a second; the next is due only when as many again have accumulated
    gc.collect()
    log.info(
        "screening path warmed in %.1f s (%s; %d scratch sets)",
        time.perf_counter() - started, ", ".join(done), spare,
    )  # fmt: skip
    return done


def _open_connections(db: Database, count: int) -> None:
    """Have ``count`` database connections in the pool (one per lane thread), each used
    once: a new connection costs a server process's start and the session's set-up."""
    with contextlib.ExitStack() as stack:
        for _ in range(count):
            session = stack.enter_context(db.session())
            session.execute(select(1))
            session.rollback()


def _warm_chain(session: Session, scorer: Scorer, root: Path, chain: str) -> list[str]:
    table = open_table(scorer.settings.data_dir, chain)
    flat = storage.flat_files(root, chain)
    if table is None or table.n == 0 or not flat.tx_path.exists():
        return []
    address = flat.addresses([table.n // 2])[0]
    txs = flat.tx_path.stat().st_size // storage.TX_RECORD
    prefixed = get_chain(chain).kind is ChainKind.ACCOUNT
    requests: list[tuple[str, dict[str, Any]]] = [
        ("address", {"direction": "deposit", "address": address})
    ]
    if txs:
        tx_hash = hex_of(flat.tx_hashes([txs // 2]), prefixed=prefixed)[0]
        requests += [
            ("deposit", {"direction": "deposit", "tx_hash": tx_hash}),
            ("withdrawal", {"direction": "withdrawal", "tx_hash": tx_hash}),
        ]
    done = []
    for kind, fields in requests:
        data = ScreeningCreate.model_validate({"chain": chain, "amount": 1, **fields})
        try:
            checked = screening_service.check(session, scorer, data)
            screening_service.assess(scorer, checked)
        except ChainsleuthError:  # e.g. a coinbase: nothing to trace back; the rest warmed
            continue
        done.append(f"{chain} {kind}")
    return done
