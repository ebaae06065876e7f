"""Linked accounts: customers tied by something they share, each link with its evidence.

* **device**: logins from the same device id;
* **ip**: logins from the same IP address within :data:`IP_WINDOW` of each other;
* **address**: the same on-chain address (one customer's deposit address is another's
  withdrawal destination, or both withdrew to it);
* **email**, **phone**, **document**: the same blind index of that KYC detail (the link
  shows the field, never the value).

A value shared by very many customers says nothing about any two of them (a carrier-grade
NAT, a public Wi-Fi, an exchange's or a merchant's address, a placeholder e-mail): values
shared by more than the ``*_MAX`` customers below make no links. Links are derived data:
:func:`rebuild` recomputes them all after an import changed something.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import combinations
from typing import Any

from sqlalchemy import delete, insert, or_, select
from sqlalchemy.orm import Session

from chainsleuth.exchange.enums import IndexField, LinkKind
from chainsleuth.exchange.models import (
    CustomerLink,
    DepositAddress,
    KycIndex,
    Login,
    Withdrawal,
)

IP_WINDOW = timedelta(hours=24)
DEVICE_MAX = 25
IP_MAX = 10
ADDRESS_MAX = 10
KYC_MAX = 10
BATCH = 5000
KYC_LINKS = {
    IndexField.EMAIL: LinkKind.EMAIL,
    IndexField.PHONE: LinkKind.PHONE,
    IndexField.DOCUMENT: LinkKind.DOCUMENT,
}


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _device_links(rows: Iterable[Any]) -> list[dict[str, Any]]:
    by_device: dict[str, dict[str, list[datetime]]] = defaultdict(lambda: defaultdict(list))
    for customer, time, _ip, device in rows:
        if device:
            by_device[device][customer].append(time)
    out = []
    for device, users in by_device.items():
        if not 2 <= len(users) <= DEVICE_MAX:
            continue
        for a, b in combinations(sorted(users), 2):
            times = users[a] + users[b]
            out.append(
                {
                    "customer_a": a,
                    "customer_b": b,
                    "kind": str(LinkKind.DEVICE),
                    "value": device,
                    "first_seen": min(times),
                    "last_seen": max(times),
                    "occurrences": len(times),
                    "evidence": {
                        "device_id": device,
                        "sessions": {a: len(users[a]), b: len(users[b])},
                        "first": {a: _iso(min(users[a])), b: _iso(min(users[b]))},
                        "last": {a: _iso(max(users[a])), b: _iso(max(users[b]))},
                    },
                }
            )
    return out


def _ip_links(rows: Iterable[Any]) -> list[dict[str, Any]]:
    by_ip: dict[str, dict[str, list[datetime]]] = defaultdict(lambda: defaultdict(list))
    for customer, time, ip, _device in rows:
        if ip:
            by_ip[ip][customer].append(time)
    out = []
    for ip, users in by_ip.items():
        if not 2 <= len(users) <= IP_MAX:
            continue
        for times in users.values():
            times.sort()
        for a, b in combinations(sorted(users), 2):
            close, best = 0, None
            tb = users[b]
            for t in users[a]:
                lo, hi = bisect_left(tb, t - IP_WINDOW), bisect_right(tb, t + IP_WINDOW)
                close += hi - lo
                for u in tb[lo:hi]:
                    if best is None or abs(u - t) < abs(best[1] - best[0]):
                        best = (t, u)
            if best is None:
                continue
            out.append(
                {
                    "customer_a": a,
                    "customer_b": b,
                    "kind": str(LinkKind.IP),
                    "value": ip,
                    "first_seen": min(best),
                    "last_seen": max(best),
                    "occurrences": close,
                    "evidence": {
                        "ip": ip,
                        "closest": {a: _iso(best[0]), b: _iso(best[1])},
                        "gap_seconds": int(abs((best[1] - best[0]).total_seconds())),
                        "window_hours": int(IP_WINDOW.total_seconds() // 3600),
                    },
                }
            )
    return out


def _address_links(
    deposit_addresses: Iterable[Any], withdrawals: Iterable[Any]
) -> list[dict[str, Any]]:
    uses: dict[tuple[str, str], dict[str, dict[str, Any]]] = defaultdict(dict)
    for chain, address, customer in deposit_addresses:
        uses[(chain, address)].setdefault(customer, {"deposit_address": True, "withdrawals": 0})
    for chain, address, customer, time in withdrawals:
        use = uses[(chain, address)].setdefault(
            customer, {"deposit_address": False, "withdrawals": 0}
        )
        use["withdrawals"] += 1
        use["first"] = min(use.get("first", time), time)
        use["last"] = max(use.get("last", time), time)
    out = []
    for (chain, address), users in uses.items():
        if not 2 <= len(users) <= ADDRESS_MAX:
            continue
        for a, b in combinations(sorted(users), 2):
            times = [t for u in (users[a], users[b]) for t in (u.get("first"), u.get("last")) if t]
            out.append(
                {
                    "customer_a": a,
                    "customer_b": b,
                    "kind": str(LinkKind.ADDRESS),
                    "value": f"{chain}:{address}",
                    "first_seen": min(times) if times else None,
                    "last_seen": max(times) if times else None,
                    "occurrences": users[a]["withdrawals"] + users[b]["withdrawals"],
                    "evidence": {
                        "chain": chain,
                        "address": address,
                        "uses": {
                            c: {
                                "deposit_address": users[c]["deposit_address"],
                                "withdrawals": users[c]["withdrawals"],
                            }
                            for c in (a, b)
                        },
                    },
                }
            )
    return out


def _kyc_links(rows: Iterable[Any]) -> list[dict[str, Any]]:
    groups: dict[tuple[str, str], set[str]] = defaultdict(set)
    for customer, field, digest in rows:
        groups[(field, digest)].add(customer)
    out = []
    for (field, _digest), users in groups.items():
        if not 2 <= len(users) <= KYC_MAX:
            continue
        kind = KYC_LINKS[IndexField(field)]
        for a, b in combinations(sorted(users), 2):
            out.append(
                {
                    "customer_a": a,
                    "customer_b": b,
                    "kind": str(kind),
                    "value": field,
                    "first_seen": None,
                    "last_seen": None,
                    "occurrences": 1,
                    "evidence": {"field": field, "customers_sharing": len(users)},
                }
            )
    return out


def compute(session: Session) -> list[dict[str, Any]]:
    """Every link the records support, as rows of ``exchange_links``."""
    logins = session.execute(
        select(Login.customer_id, Login.time, Login.ip, Login.device_id).where(Login.success)
    ).all()
    links = _device_links(logins) + _ip_links(logins)
    links += _address_links(
        session.execute(
            select(DepositAddress.chain, DepositAddress.address, DepositAddress.customer_id)
        ).all(),
        session.execute(
            select(
                Withdrawal.chain,
                Withdrawal.address,
                Withdrawal.customer_id,
                Withdrawal.requested_at,
            )
        ).all(),
    )
    links += _kyc_links(
        session.execute(
            select(KycIndex.customer_id, KycIndex.field, KycIndex.digest).where(
                KycIndex.field.in_([str(f) for f in KYC_LINKS])
            )
        ).all()
    )
    return links


def rebuild(session: Session) -> int:
    """Recompute every link, in the caller's transaction; returns how many there are."""
    links = compute(session)
    session.execute(delete(CustomerLink))
    for i in range(0, len(links), BATCH):
        session.execute(insert(CustomerLink), links[i : i + BATCH])
    return len(links)


@dataclass(frozen=True)
class Link:
    """A link seen from one customer: the other customer, why, and the evidence."""

    other: str
    kind: LinkKind
    value: str
    first_seen: datetime | None
    last_seen: datetime | None
    occurrences: int
    evidence: dict[str, Any]

    @property
    def label(self) -> str:
        return self.kind.label


def links_of(session: Session, customer_id: str) -> list[Link]:
    rows = session.scalars(
        select(CustomerLink)
        .where(or_(CustomerLink.customer_a == customer_id, CustomerLink.customer_b == customer_id))
        .order_by(CustomerLink.kind, CustomerLink.customer_a, CustomerLink.customer_b)
    ).all()
    return [
        Link(
            other=r.customer_b if r.customer_a == customer_id else r.customer_a,
            kind=LinkKind(r.kind),
            value=r.value,
            first_seen=r.first_seen,
            last_seen=r.last_seen,
            occurrences=r.occurrences,
            evidence=r.evidence,
        )
        for r in rows
    ]
