"""The screening hot path: the precomputed table's address index finds what the store
finds, and a policy kept in memory gives way to a new version at once."""

from __future__ import annotations

import copy
from pathlib import Path

from screening_helpers import our_cash_outs, plain_users, scheme
from sqlalchemy.orm import Session

from chainsleuth.chain import storage
from chainsleuth.chain.addresses import canonical_address
from chainsleuth.chain.keys import hash_key
from chainsleuth.chain.lookups import ChainReader
from chainsleuth.core.config import Settings
from chainsleuth.risk import policy_store
from chainsleuth.risk.facts import Scorer
from chainsleuth.risk.table import open_table
from chainsleuth.tracing import service as tracing_service
from factories import SYSTEM


def test_the_table_index_finds_each_address_as_the_store_does(
    settings: Settings, session: Session, world: Path, precomputed: list[object]
) -> None:
    root = settings.data_dir / "chains"
    table = open_table(settings.data_dir, "btc")
    assert table is not None and table.index
    subjects = [c["address"] for c in our_cash_outs(world, "RW-1")][:4] + plain_users(world, 20)
    with ChainReader(storage.connect(root, read_only=True), root) as reader:
        for address in subjects:
            text = canonical_address("btc", address)
            expected = reader.address_id("btc", text)
            assert expected is not None
            assert expected in table.find(text)
        # an address the chain never saw is not in the index (the store is asked then)
        unseen = "1BoatSLRHtKNngkdXEeobR76b53LETtpyT"
        assert table.find(canonical_address("btc", unseen)) == []
        ctx = tracing_service.context_for(settings, session=session)
        scorer = Scorer(session=session, reader=reader, settings=settings, tracing=ctx,
                        policy=policy_store.active(session))  # fmt: skip
        facts = scorer.address("btc", subjects[0])
        assert facts.source == "table" and facts.known
        assert "no activity" in scorer.address("btc", unseen).notes[0]


def test_the_table_tx_index_finds_each_transaction_as_the_store_does(
    settings: Settings, session: Session, world: Path, precomputed: list[object]
) -> None:
    root = settings.data_dir / "chains"
    payments = scheme(world, "RW-1")["payments"][:5]
    with ChainReader(storage.connect(root, read_only=True), root) as reader:
        ctx = tracing_service.context_for(settings, session=session)
        scorer = Scorer(session=session, reader=reader, settings=settings, tracing=ctx,
                        policy=policy_store.active(session))  # fmt: skip
        table = open_table(settings.data_dir, "btc")
        assert table is not None and table.txs["tx_k1"].size == table.txs["tx_id"].size > 0
        for p in payments:
            expected = reader.tx_id("btc", p["tx_hash"])
            assert expected is not None
            assert expected in table.find_tx(hash_key(p["tx_hash"], prefixed=False)[0])
            assert scorer._tx_id("btc", p["tx_hash"]) == expected
        assert scorer._tx_id("btc", "ab" * 32) is None  # never seen: neither knows it


def test_the_policy_kept_in_memory_gives_way_to_a_new_version(session: Session) -> None:
    first = policy_store.active(session)
    assert policy_store.active(session) is first  # parsed once, kept
    body = copy.deepcopy(first.row.body)
    body["categories"]["mixer"]["hops"] = 1
    policy_store.save(session, actor=SYSTEM, body=body, comment="mixers: direct only")
    session.commit()
    now = policy_store.active(session)
    assert now.version == first.version + 1
    assert now.body.categories["mixer"].hops == 1
    assert first.row.body["categories"]["mixer"]["hops"] != 1  # the kept copy is untouched
