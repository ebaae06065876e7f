"""What the tracer must know about services that no flow reveals: bridges and converters.

A real investigator has only on-chain data plus public knowledge of service contracts
(the addresses of a bridge's contracts and vaults, of a DEX pool, of wrapped ether). That
knowledge is this configuration, a YAML file::

    bridges:
      - name: Portal Bridge
        addresses:
          eth: ["0xcec4...", "0xaff9..."]     # contract and operator
          btc: ["bc1qz2z9..."]                # vault
    converters:                               # DEX pools, wrapped-ether contracts
      eth: ["0x4e78...", "0x551c..."]
    bridge_window_minutes: 240
    bridge_rate_tolerance: 0.03

``chainsleuth trace services --from-world DIR`` writes it for a generated world from the
world's published service contracts. See ``crosschain`` for how the rules use it.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, Field, ValidationError

from chainsleuth.chain.addresses import canonical_address
from chainsleuth.chain.chains import get_chain
from chainsleuth.core.errors import InvalidInput

CONFIG_FILE = "tracing.yaml"


class Bridge(BaseModel):
    name: str
    addresses: dict[str, list[str]]


class Services(BaseModel):
    bridges: list[Bridge] = Field(default_factory=list)
    converters: dict[str, list[str]] = Field(default_factory=dict)
    bridge_window_minutes: int = Field(default=240, ge=1, le=7 * 24 * 60)
    bridge_rate_tolerance: float = Field(default=0.03, gt=0, lt=1)

    def canonical(self) -> Services:
        """The same services with every address in its stored form (InvalidInput if bad)."""
        return Services(
            bridges=[
                Bridge(
                    name=b.name,
                    addresses={
                        get_chain(c).id: sorted({canonical_address(c, a) for a in addrs})
                        for c, addrs in b.addresses.items()
                    },
                )
                for b in self.bridges
            ],
            converters={
                get_chain(c).id: sorted({canonical_address(c, a) for a in addrs})
                for c, addrs in self.converters.items()
            },
            bridge_window_minutes=self.bridge_window_minutes,
            bridge_rate_tolerance=self.bridge_rate_tolerance,
        )

    def digest(self) -> str:
        text = json.dumps(self.canonical().model_dump(), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def load_services(path: Path | None) -> Services:
    """The services of a YAML file; none configured when ``path`` is None or missing."""
    if path is None or not path.exists():
        return Services()
    try:
        data: Any = yaml.safe_load(path.read_text()) or {}
        return Services.model_validate(data).canonical()
    except (yaml.YAMLError, ValidationError) as exc:
        raise InvalidInput(f"{path} is not a valid tracing configuration: {exc}") from exc


def save_services(services: Services, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(services.model_dump(), sort_keys=False))


def services_from_world(world: Path) -> Services:
    """The published service contracts of a generated world: its bridge's contract,
    operator and vault, its DEX pool and its wrapped-ether contract."""
    import duckdb

    truth = world / "truth"
    if not (truth / "actors.parquet").exists():
        raise InvalidInput(f"{world} is not a world folder (no truth/actors.parquet)")
    con = duckdb.connect()
    try:
        rows = con.execute(
            """SELECT a.chain, a.address, b.type, b.name, a.wallet
               FROM read_parquet(?::VARCHAR[]) a JOIN read_parquet(?) b USING (actor_id)
               WHERE b.type IN ('bridge', 'dex', 'token') ORDER BY ALL""",
            [
                [str(truth / "addresses_btc.parquet"), str(truth / "addresses_eth.parquet")],
                str(truth / "actors.parquet"),
            ],
        ).fetchall()
    finally:
        con.close()
    bridges: dict[str, dict[str, list[str]]] = {}
    converters: dict[str, list[str]] = {}
    for chain, address, kind, name, wallet in rows:
        if kind == "bridge":
            bridges.setdefault(name, {}).setdefault(chain, []).append(address)
        elif wallet == "contract" and (kind == "dex" or (kind == "token" and "WETH" in name)):
            converters.setdefault(chain, []).append(address)
    return Services(
        bridges=[Bridge(name=n, addresses=a) for n, a in sorted(bridges.items())],
        converters=converters,
    ).canonical()
