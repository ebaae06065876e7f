"""Linked accounts: the world's money mules share their recruiter's phone, and the links
find exactly them; IP links need logins close in time and ignore crowded IPs; shared
addresses and KYC details link with their evidence."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import combinations
from pathlib import Path

from exchange_helpers import import_dir
from sqlalchemy import select
from sqlalchemy.orm import Session

from chainsleuth.core.config import Settings
from chainsleuth.exchange import links as link_service
from chainsleuth.exchange.enums import LinkKind
from chainsleuth.exchange.models import CustomerLink

T0 = datetime(2024, 5, 1, tzinfo=UTC)


def test_shared_device_links_are_the_worlds_mules(
    session: Session, settings: Settings, export: Path, mules: set[str]
) -> None:
    assert len(mules) >= 3, "the world has a mule network"
    import_dir(session, settings, export)
    device = session.scalars(
        select(CustomerLink).where(CustomerLink.kind == str(LinkKind.DEVICE))
    ).all()
    linked = {c for link in device for c in (link.customer_a, link.customer_b)}
    # precision: every shared-device link joins two of the mule network
    assert linked <= mules, linked - mules
    # recall: the recruiter's phone ties (nearly) all of them, pairwise, on one device
    assert len(linked) >= len(mules) - 1
    pairs = {(link.customer_a, link.customer_b) for link in device}
    assert set(combinations(sorted(linked), 2)) <= pairs
    link = device[0]
    assert link.evidence["device_id"] == link.value
    assert set(link.evidence["sessions"]) == {link.customer_a, link.customer_b}
    assert link.first_seen is not None and link.first_seen <= link.last_seen  # type: ignore[operator]
    # seen from one mule, through the service
    some = sorted(linked)[0]
    others = {x.other for x in link_service.links_of(session, some) if x.kind is LinkKind.DEVICE}
    assert others == linked - {some}


def test_ip_links_need_closeness_in_time_and_skip_crowded_ips() -> None:
    rows = [
        ("C1", T0, "198.51.100.1", None),
        ("C2", T0 + timedelta(hours=3), "198.51.100.1", None),
        ("C3", T0 + timedelta(days=5), "198.51.100.1", None),
    ]
    crowd = [(f"C{100 + i}", T0, "203.0.113.9", None) for i in range(link_service.IP_MAX + 1)]
    links = link_service._ip_links(rows + crowd)
    assert [(x["customer_a"], x["customer_b"]) for x in links] == [("C1", "C2")]
    assert links[0]["evidence"]["gap_seconds"] == 3 * 3600
    assert links[0]["value"] == "198.51.100.1"


def test_address_and_kyc_links() -> None:
    deposit_addresses = [("btc", "bc1qdeposit", "C1")]
    withdrawals = [
        ("btc", "bc1qdeposit", "C2", T0),  # C2 pays into C1's deposit address
        ("btc", "bc1qshared", "C3", T0),
        ("btc", "bc1qshared", "C4", T0 + timedelta(days=1)),
    ]
    links = link_service._address_links(deposit_addresses, withdrawals)
    got = {(x["customer_a"], x["customer_b"], x["value"]) for x in links}
    assert got == {("C1", "C2", "btc:bc1qdeposit"), ("C3", "C4", "btc:bc1qshared")}
    first = next(x for x in links if x["customer_a"] == "C1")
    assert first["evidence"]["uses"]["C1"]["deposit_address"] is True
    assert first["evidence"]["uses"]["C2"]["withdrawals"] == 1
    kyc = link_service._kyc_links(
        [("C1", "phone", "d1"), ("C2", "phone", "d1"), ("C3", "email", "d2")]
    )
    assert [(x["customer_a"], x["customer_b"], x["kind"]) for x in kyc] == [("C1", "C2", "phone")]
    assert "d1" not in str(kyc[0]["evidence"])
