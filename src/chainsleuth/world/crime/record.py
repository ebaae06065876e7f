"""What the scheme processes of one chain write down: the ground truth, hop by hop.

A *hop* is one transaction of a scheme with the hops whose funds it moves (``parents``) and
how (``link``, see ``enums.Link``); a hop that pays an exchange, an OTC desk or another
cash-out point carries ``cash_out``. A *typology instance* names a pattern (peel chain,
fan-in, structuring, ...) and its transactions and addresses. Addresses are kept as ids and
turned into text at the end of the chain (they are rendered in bulk, per chunk).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from chainsleuth.world.account_state import WEI_PER_UNIT
from chainsleuth.world.enums import Link


@dataclass
class Hop:
    scheme: str
    id: str
    chain: str
    step: str
    link: Link
    tx_hash: str
    height: int
    time: int
    parents: list[str]
    frm: list[int]
    to: list[int]
    amount: int
    asset: str
    cash_out: dict[str, Any] | None = None


@dataclass
class Recorder:
    chain: str
    hops: list[Hop] = field(default_factory=list)
    typologies: list[dict[str, Any]] = field(default_factory=list)
    bridge: list[dict[str, Any]] = field(default_factory=list)
    custodial: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)  # for agencies' requests
    _seq: dict[str, int] = field(default_factory=dict)

    def hop(
        self,
        scheme: str,
        step: str,
        link: Link,
        tx: Any,
        parents: list[str],
        *,
        frm: list[int],
        to: list[int],
        amount: int,
        asset: str,
        cash_out: dict[str, Any] | None = None,
        hop_id: str | None = None,
    ) -> str:
        if hop_id is None:
            n = self._seq.get(scheme, 0)
            self._seq[scheme] = n + 1
            hop_id = f"{scheme}:{self.chain}:{n}"
        self.hops.append(
            Hop(
                scheme,
                hop_id,
                self.chain,
                step,
                link,
                tx.hash,
                tx.height,
                tx.time,
                list(parents),
                list(frm),
                list(to),
                int(amount),
                asset,
                cash_out,
            )
        )
        return hop_id

    def typology(
        self,
        name: str,
        txs: list[Any],
        addresses: list[int],
        *,
        scheme: str | None = None,
        note: str = "",
    ) -> None:
        n = len(self.typologies)
        self.typologies.append(
            {
                "id": f"T-{self.chain}-{n:05d}",
                "typology": name,
                "chain": self.chain,
                "scheme": scheme,
                "tx_hashes": [t.hash for t in txs],
                "addresses": list(addresses),
                "first_time": min(t.time for t in txs) if txs else None,
                "last_time": max(t.time for t in txs) if txs else None,
                "note": note,
            }
        )

    def _base(self, amount: int, asset: str) -> str:
        """An amount in the asset's smallest unit (ETH/WETH: wei)."""
        if self.chain == "eth" and asset in ("ETH", "WETH"):
            return str(int(amount) * WEI_PER_UNIT)
        return str(int(amount))

    def export(self, address_text: Any) -> dict[str, Any]:
        """Plain data with address ids turned into text (``address_text(ids) -> list[str]``)."""
        ids: set[int] = set()
        for h in self.hops:
            ids.update(h.frm)
            ids.update(h.to)
        for t in self.typologies:
            ids.update(t["addresses"])
        for b in self.bridge:
            ids.update(
                x for x in (b.get("lock_address_id"), b.get("release_address_id")) if x is not None
            )
        for c in self.custodial:
            ids.update(c["address_ids"])
        for h in self.hops:
            if h.cash_out and "address_id" in h.cash_out:
                ids.add(h.cash_out["address_id"])
        order = sorted(ids)
        text = dict(zip(order, address_text(order), strict=True))
        hops = []
        for h in self.hops:
            hops.append(
                {
                    "scheme": h.scheme,
                    "hop": h.id,
                    "chain": h.chain,
                    "step": h.step,
                    "link": str(h.link),
                    "tx_hash": h.tx_hash,
                    "height": h.height,
                    "time": h.time,
                    "parents": h.parents,
                    "from": [text[a] for a in h.frm],
                    "to": [text[a] for a in h.to],
                    "amount": self._base(h.amount, h.asset),
                    "asset": h.asset,
                    "cash_out": _cash_out(
                        h.cash_out,
                        text,
                        self._base(int((h.cash_out or {}).get("amount", 0)), h.asset),
                    ),
                }
            )
        typologies = [
            {**t, "addresses": [text[a] for a in t["addresses"]]} for t in self.typologies
        ]
        bridge = []
        for b in self.bridge:
            row = {k: v for k, v in b.items() if not k.endswith("_address_id")}
            for side in ("lock", "release"):
                if f"{side}_amount" in row:
                    row[f"{side}_amount"] = self._base(
                        int(row[f"{side}_amount"]), row[f"{side}_asset"]
                    )
            for side in ("lock", "release"):
                aid = b.get(f"{side}_address_id")
                if aid is not None:
                    row[f"{side}_address"] = text[aid]
            bridge.append(row)
        custodial = [
            {
                **{k: v for k, v in c.items() if k != "address_ids"},
                "addresses": [text[a] for a in c["address_ids"]],
            }
            for c in self.custodial
        ]
        return {
            "chain": self.chain,
            "hops": hops,
            "typologies": typologies,
            "bridge": bridge,
            "custodial": custodial,
            "events": self.events,
        }


def _cash_out(
    data: dict[str, Any] | None, text: dict[int, str], amount: str
) -> dict[str, Any] | None:
    if data is None:
        return None
    out = {k: v for k, v in data.items() if k != "address_id"}
    out["amount"] = amount
    if "address_id" in data:
        out["address"] = text[data["address_id"]]
    return out
