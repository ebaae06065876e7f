"""Labels joined with entities, scored against the world's ground truth: every address the
labels and the clustering together call a category is of an actor of that category, and an
unlabelled exchange deposit address is recognised through its entity."""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from playwright.sync_api import Page, expect
from sqlalchemy.orm import Session

from chainsleuth.attribution import service as attribution_service
from chainsleuth.chain.store import ChainStore
from chainsleuth.core.config import Settings
from chainsleuth.core.db import Database
from factories import Account
from harness.pages import sign_in

#: categories of the labels that differ in name from the truth's actor categories
SAME = {"miner": {"miner"}, "coinjoin": {"coinjoin", "mixer"}}


def truth(world: Path, chain: str) -> tuple[list[dict[str, Any]], dict[Any, str]]:
    actors = {
        a["actor_id"]: a["category"]
        for a in pq.read_table(world / "truth/actors.parquet").to_pylist()
    }
    return pq.read_table(world / f"truth/addresses_{chain}.parquet").to_pylist(), actors


@pytest.mark.parametrize("chain", ["btc", "eth"])
def test_categories_agree_with_the_truth(
    chain: str, world: Path, world_store: Path, world_labels: str, session: Session
) -> None:
    addresses, category_of = truth(world, chain)
    with ChainStore(world_store, durable=False) as store, store.reader() as reader:
        ids, codes, names = attribution_service.category_ids(session, reader, chain)
        assert ids.size and (ids[1:] > ids[:-1]).all()  # sorted and unique
        found = dict(zip(ids.tolist(), (names[c] for c in codes.tolist()), strict=True))
        address_ids = reader.address_ids(chain, [str(a["address"]) for a in addresses])
    assert (address_ids >= 0).mean() > 0.95  # the truth's addresses are in the store
    pairs: Counter[tuple[str, str]] = Counter()
    for row, address_id in zip(addresses, address_ids.tolist(), strict=True):
        if address_id in found:
            pairs[(found[address_id], category_of[row["actor_id"]])] += 1
    wrong = {p: n for p, n in pairs.items() if p[1] not in SAME.get(p[0], {p[0]})}
    assert not wrong, f"categories the truth contradicts: {wrong}"
    assert sum(pairs.values()) >= 20
    if chain == "eth":  # the deposit-address clustering carries labels to whole exchanges
        assert len(found) > 2 * len({a for a, _, _ in _active(session, chain)})


def _active(session: Session, chain: str) -> list[tuple[str, str, int]]:
    from chainsleuth.labels import service as label_service

    return label_service.active_categories(session, chain=chain)


def test_a_deposit_address_is_an_exchange_through_its_entity(
    world: Path, world_store: Path, world_labels: str, session: Session
) -> None:
    addresses, category_of = truth(world, "eth")
    labelled = {a for a, _, _ in _active(session, "eth")}
    with ChainStore(world_store, durable=False) as store, store.reader() as reader:
        ids, codes, names = attribution_service.category_ids(session, reader, "eth")
        covered = set(ids.tolist())
        deposits = [
            str(a["address"])
            for a in addresses
            if a["wallet"] == "deposit" and str(a["address"]) not in labelled
        ]
        deposit_ids = reader.address_ids("eth", deposits)
        hits = [d for d, i in zip(deposits, deposit_ids.tolist(), strict=True) if i in covered]
        assert hits, "no unlabelled deposit address was attributed through its entity"
        known = attribution_service.address_attribution(
            session, reader, chain="eth", address=hits[0], viewer=None
        )
    assert known.entity is not None and known.entity.entity.size > 1
    assert known.resolved.winner is not None
    assert known.resolved.winner.category == "exchange"
    assert known.resolved.winner_from == "entity"
    assert known.resolved.own == []
    assert known.members_total == known.entity.entity.size - 1


def test_label_categories_provider(
    world_store: Path, world_labels: str, database: Database
) -> None:
    provider = attribution_service.LabelCategories(database)
    with ChainStore(world_store, durable=False) as store, store.reader() as reader:
        btc = provider.categories(reader, "btc")
        assert provider.categories(reader, "btc") is btc  # cached
        assert "miner" in set(btc.values()) and "sanctioned" in set(btc.values())


@pytest.mark.browser
def test_address_page_shows_entity_and_labels(
    page: Page,
    world: Path,
    world_store: Path,
    world_labels: str,
    settings: Settings,
    session: Session,
    investigator: Account,
) -> None:
    shutil.copytree(world_store, settings.data_dir / "chains")
    labelled = {a for a, _, _ in _active(session, "eth")}
    hot = next(a for a, c, _ in _active(session, "eth") if c == "exchange")
    with ChainStore(settings.data_dir / "chains", durable=False) as store:
        with store.reader() as reader:
            ids, _, _ = attribution_service.category_ids(session, reader, "eth")
            addresses, _ = truth(world, "eth")
            deposits = [
                str(a["address"])
                for a in addresses
                if a["wallet"] == "deposit" and str(a["address"]) not in labelled
            ]
            found = reader.address_ids("eth", deposits)
            deposit = next(
                d for d, i in zip(deposits, found.tolist(), strict=True) if i in set(ids.tolist())
            )
    session.close()  # SQLite: hold no transaction while the live server writes
    sign_in(page, investigator)
    page.goto(f"/chains/eth/addresses/{hot}")
    expect(page.get_by_test_id("category")).to_have_text("exchange")
    expect(page.get_by_test_id("labels")).to_contain_text("this address")
    page.goto(f"/chains/eth/addresses/{deposit}")
    card = page.get_by_test_id("attribution")
    expect(card.get_by_test_id("category")).to_have_text("exchange")
    expect(card).to_contain_text("From another address of its entity")
    entity = page.get_by_test_id("entity")
    size = int(entity.get_by_test_id("entity-size").inner_text().replace(",", ""))
    assert size > 1
    expect(entity).to_contain_text("eth-deposit")
