"""Helpers of the alerts tests: the world's deposits, a cut of its exchange export, and a
chain source that serves the world's block ranges as a node would (for incremental ingest)."""

from __future__ import annotations

import csv
import json
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.orm import Session

from chainsleuth.audit.service import Actor
from chainsleuth.chain.batch import BlockRange
from chainsleuth.core.config import Settings
from chainsleuth.exchange import service as exchange_service
from chainsleuth.exchange.importer import import_export
from chainsleuth.exchange.parse import TABLES
from chainsleuth.world.load import read_range

IMPORTER = Actor.system("test-import")


@dataclass(frozen=True)
class Deposit:
    customer_id: str
    chain: str
    tx_hash: str
    address: str
    amount: str


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def world_deposits(world: Path) -> list[Deposit]:
    return [
        Deposit(r["customer_id"], r["chain"], r["tx_hash"], r["address"], r["amount"])
        for r in _rows(world / "exchange" / "deposits.csv")
    ]


def import_customers(
    session: Session, settings: Settings, world: Path, tmp: Path, customers: set[str]
) -> None:
    """Import the world's exchange records of ``customers`` only (deposit addresses too)."""
    src = world / "exchange"
    dst = tmp / "export"
    if dst.exists():
        shutil.rmtree(dst)
    dst.mkdir(parents=True)
    for table in TABLES:
        path = src / f"{table}.csv"
        with path.open(newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            header = list(reader.fieldnames or [])
            rows = [r for r in reader if r["customer_id"] in customers]
        with (dst / path.name).open("w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=header)
            writer.writeheader()
            writer.writerows(rows)
    import_export(session, directory=dst, keys=exchange_service.keys_for(settings), actor=IMPORTER)
    session.commit()


class WorldSource:
    """The world's chain as a node: its ranges, up to a tip the test moves forward."""

    label = "the test world"

    def __init__(self, world: Path, chain: str, tip: int) -> None:
        self.world = world
        self.chain = chain
        self.visible_tip = tip
        manifest = json.loads((world / "world.json").read_text())
        self.ranges = manifest["chains"][chain]["ranges"]

    def network(self) -> str:
        return ""

    def tip(self) -> int:
        return self.visible_tip

    def block_hashes(self, heights: Sequence[int]) -> Sequence[str | None]:
        return [None] * len(heights)

    def fetch(self, first: int, last: int) -> BlockRange:
        for r in self.ranges:
            if int(r["first"]) == first and int(r["last"]) == last:
                return read_range(self.world, self.chain, r)
        raise AssertionError(f"fetch {first}-{last} is not one of the world's ranges")
