"""Each chain's sync status, kept beside the store in ``<store>/ingest/<chain>.json``.

Written by the ingester after every batch (atomically: a temporary file renamed into
place), read by the admin page and ``chainsleuth ingest status``. It also records the
identity of the network the chain was loaded from, which later runs check.
"""

from __future__ import annotations

import json
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel

from chainsleuth.chain.chains import get_chain

STATUS_DIR = "ingest"


class SyncStatus(BaseModel):
    chain: str
    network: str | None = None
    source: str | None = None
    state: str = "never run"  # syncing, following, done, stopped, failed
    error: str | None = None
    node_tip: int | None = None
    store_tip: int | None = None
    blocks_per_s: float | None = None
    txs_per_s: float | None = None
    #: how internal transfers are read (a trace method), or why not; None: not yet known
    traces: str | None = None
    updated_at: datetime | None = None

    @property
    def lag(self) -> int | None:
        """Blocks the store is behind the source, as last seen."""
        if self.node_tip is None:
            return None
        return max(0, self.node_tip - (self.store_tip if self.store_tip is not None else -1))


def path_for(root: Path, chain: str) -> Path:
    return Path(root) / STATUS_DIR / f"{get_chain(chain).id}.json"


def load(root: Path, chain: str) -> SyncStatus:
    path = path_for(root, chain)
    try:
        return SyncStatus.model_validate_json(path.read_text())
    except (OSError, ValueError):
        return SyncStatus(chain=get_chain(chain).id)


def save(root: Path, status: SyncStatus) -> None:
    status.updated_at = datetime.now(UTC)
    path = path_for(root, status.chain)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{status.chain}.")
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(json.dumps(status.model_dump(mode="json"), indent=1))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
