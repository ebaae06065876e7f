"""Resolution: an address's own labels win over its entity's; conflicts are shown. The
entity's members are passed by hand (the clustering is another domain's)."""

from __future__ import annotations

from pathlib import Path

from label_helpers import import_file
from sqlalchemy.orm import Session

from chainsleuth.labels import service as label_service
from chainsleuth.labels.enums import Category, ImportFormat

OWN = "1Lud76Q98VRHCUiyK7XUs7AgFofrqXeP78"
MEMBER = "377CY1m8W2qbQQX5HHjziimdh2faGjDeLv"
OTHER = "1MfVk1utxgvGjMFV3K3CzXsDRDZznj5tey"
BARE = "1GaVKrVT17DN4dnWbTqGB9qG3rQrk1JBe9"

CSV = f"""chain,address,category,label,confidence,scope,actor
btc,{MEMBER},exchange,Northwind hot wallet,service_data,entity,
btc,{OTHER},mixer,a mixer deposit,90,address,
btc,{OWN},scam,reported scam,web_crawl,address,
""".encode()
SECOND = f"""chain,address,category,label,confidence,scope
btc,{OWN},exchange,Northwind deposit,forensic,address
""".encode()


def load(session: Session, tmp_path: Path) -> None:
    (tmp_path / "feed.csv").write_bytes(CSV)
    (tmp_path / "other.csv").write_bytes(SECOND)
    import_file(session, ImportFormat.CSV, tmp_path / "feed.csv")
    import_file(session, ImportFormat.CSV, tmp_path / "other.csv")


def test_own_label_wins_over_the_entity_and_conflicts_are_listed(
    session: Session, tmp_path: Path
) -> None:
    load(session, tmp_path)
    members = [OWN, MEMBER, OTHER]
    resolved = label_service.attribution(session, chain="btc", address=OWN, members=members)
    # own labels: forensic (50) beats web_crawl (20); the entity's exchange label (50) and
    # the other member's address-scoped mixer label (90) do not decide
    assert resolved.winner is not None and resolved.winner_from == "address"
    assert resolved.winner.label == "Northwind deposit"
    assert [x.label for x in resolved.own] == ["Northwind deposit", "reported scam"]
    assert [x.label for x in resolved.entity] == ["Northwind hot wallet"]  # not the mixer one
    assert resolved.categories == [Category.EXCHANGE, Category.SCAM]
    conflicts = {c.category: c.sources for c in resolved.conflicts}
    assert conflicts == {Category.EXCHANGE: ["csv:feed", "csv:other"], Category.SCAM: ["csv:feed"]}


def test_an_unlabelled_address_takes_its_entitys_label(session: Session, tmp_path: Path) -> None:
    load(session, tmp_path)
    resolved = label_service.attribution(session, chain="btc", address=BARE, members=[BARE, MEMBER])
    assert resolved.winner is not None and resolved.winner_from == "entity"
    assert resolved.winner.category is Category.EXCHANGE and resolved.conflicts == []
    alone = label_service.attribution(session, chain="btc", address=BARE)
    assert alone.winner is None and alone.categories == [] and alone.own == []


def test_resolve_on_labels_given_directly(session: Session, tmp_path: Path) -> None:
    load(session, tmp_path)
    own = label_service.labels_for(session, chain="btc", addresses=[OWN])[OWN]
    entity = label_service.labels_for(session, chain="btc", addresses=[MEMBER])[MEMBER]
    resolved = label_service.resolve(own, entity)
    assert resolved.winner == own[0]
    assert label_service.resolve([], entity).winner == entity[0]
    empty = label_service.resolve([], [])
    assert empty.winner is None and empty.winner_from is None
