"""The watch list: funds from a watched address reaching one of our deposit addresses raise
an alert, on the world's store (catch-up scan) and as new blocks are ingested."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from alert_helpers import Deposit, WorldSource, import_customers
from sqlalchemy import select
from sqlalchemy.orm import Session

from chainsleuth.alerts import watch
from chainsleuth.alerts.enums import WatchKind
from chainsleuth.alerts.models import Alert, WatchlistHit
from chainsleuth.alerts.schemas import WatchEntryCreate
from chainsleuth.chain import storage
from chainsleuth.chain.addresses import canonical_address
from chainsleuth.chain.lookups import ChainReader
from chainsleuth.chain.store import ChainStore
from chainsleuth.core.config import Settings
from chainsleuth.core.db import Database
from chainsleuth.core.errors import Conflict, InvalidInput
from chainsleuth.core.models import utcnow
from chainsleuth.ingest import service as ingest_service
from chainsleuth.ingest.follow import SyncOptions
from factories import SYSTEM

WATCHER = SYSTEM


def _sender(reader: ChainReader, deposit: Deposit) -> str:
    """An address that paid into the deposit's transaction (not the deposit address)."""
    tx = reader.tx(deposit.chain, deposit.tx_hash)
    if deposit.chain == "eth":
        assert tx.from_address
        return canonical_address("eth", tx.from_address)
    senders = [i.address for i in tx.inputs if i.address and i.address != deposit.address]
    assert senders
    return canonical_address("btc", senders[0])


def _pick(reader: ChainReader, deposits: list[Deposit], chain: str, lo: int, hi: int) -> Deposit:
    for d in deposits:
        if d.chain == chain and lo <= reader.tx(chain, d.tx_hash).height <= hi:
            return d
    raise AssertionError(f"no {chain} deposit between heights {lo} and {hi}")


def _watch(session: Session, chain: str, address: str, **kw: object) -> int:
    entry = watch.add_entry(
        session,
        actor=WATCHER,
        data=WatchEntryCreate(
            kind=WatchKind.ADDRESS, chain=chain, value=address, reason="ransomware payout", **kw
        ),
    )
    session.commit()
    return entry.id


def test_the_list_refuses_bad_entries(session: Session) -> None:
    address = "0x" + "12" * 20
    _watch(session, "eth", address)
    with pytest.raises(Conflict, match="under watch already"):
        _watch(session, "eth", address.upper().replace("0X", "0x"))
    session.rollback()
    with pytest.raises(InvalidInput):
        _watch(session, "eth", "0x1234")
    with pytest.raises(InvalidInput, match="unknown chain"):
        _watch(session, "doge", address)
    with pytest.raises(InvalidInput, match="future"):
        _watch(session, "btc", "1BoatSLRHtKNngkdXEeobR76b53LETtpyT", expires_at=utcnow())
    with pytest.raises(InvalidInput, match="entity id"):
        watch.add_entry(
            session,
            actor=WATCHER,
            data=WatchEntryCreate(kind=WatchKind.ENTITY, chain="btc", value="x1", reason="r"),
        )
    entries = watch.list_entries(session)
    assert [e.value for e, _ in entries] == [address]
    watch.remove_entry(session, actor=WATCHER, entry_id=entries[0][0].id)
    session.commit()
    assert watch.list_entries(session) == []
    with pytest.raises(Conflict, match="removed already"):
        watch.remove_entry(session, actor=WATCHER, entry_id=entries[0][0].id)


@pytest.mark.parametrize("chain", ["btc", "eth"])
def test_a_watched_sender_paying_our_deposit_address_raises_an_alert(
    session: Session,
    database: Database,
    settings: Settings,
    world: Path,
    world_store: Path,
    deposits: list[Deposit],
    tmp_path: Path,
    chain: str,
) -> None:
    with ChainReader(storage.connect(world_store, read_only=True), world_store) as reader:
        deposit = _pick(reader, deposits, chain, 0, 10**9)
        sender = _sender(reader, deposit)
        import_customers(session, settings, world, tmp_path, {deposit.customer_id})
        _watch(session, chain, sender)
        result = watch.scan(database.session, reader, root=world_store, chain=chain, actor=SYSTEM)
        assert result.hits >= 1 and result.alerts
        hits = session.scalars(select(WatchlistHit)).all()
        ours = [h for h in hits if h.tx_hash == deposit.tx_hash]
        assert ours and ours[0].hops == 1
        assert ours[0].deposit_address == canonical_address(chain, deposit.address)
        assert ours[0].customer_id == deposit.customer_id
        assert ours[0].amount > 0
        alert = session.get(Alert, ours[0].alert_id)
        assert alert is not None and alert.source == "watchlist" and alert.status == "new"
        assert alert.subject == sender and alert.severity == "high"
        assert deposit.customer_id in alert.reasons[0] and "directly" in alert.reasons[0]
        assert alert.details["deposit_address"] == ours[0].deposit_address
        assert alert.details["hits"] == len([h for h in hits if h.alert_id == alert.id])
        listed = {t["tx_hash"] for t in alert.details["transactions"]}
        assert listed <= {h.tx_hash for h in hits if h.alert_id == alert.id}
        n_hits = len(hits)
        session.rollback()  # SQLite: one writer; the scan writes in sessions of its own

        # scanning the same blocks again finds nothing new and raises nothing
        again = watch.scan(
            database.session,
            reader,
            root=world_store,
            chain=chain,
            actor=SYSTEM,
            from_height=0,
        )
        assert again.hits == 0 and again.alerts == []
        assert len(session.scalars(select(WatchlistHit)).all()) == n_hits
        assert watch.next_height(session, chain) == result.to_height + 1


def test_two_hops_are_followed_when_asked(
    session: Session,
    database: Database,
    settings: Settings,
    world: Path,
    world_store: Path,
    deposits: list[Deposit],
    tmp_path: Path,
) -> None:
    from chainsleuth.chain import flows as chain_flows

    with ChainReader(storage.connect(world_store, read_only=True), world_store) as reader:
        for deposit in (d for d in deposits if d.chain == "btc"):
            sender = _sender(reader, deposit)
            height = reader.tx("btc", deposit.tx_hash).height
            funding = chain_flows.flow_records(
                reader,
                "btc",
                chain_flows.flows(reader, "btc", [sender], direction=chain_flows.Direction.IN),
            )
            funders = {
                canonical_address("btc", f.from_address)
                for f in funding
                if f.from_address and f.height < height and f.from_address != sender
            }
            if funders:
                break
        else:
            raise AssertionError("no funded sender of a deposit in the world")
        funder = sorted(funders)[0]
        import_customers(session, settings, world, tmp_path, {deposit.customer_id})
        _watch(session, "btc", funder)
        direct = watch.scan(database.session, reader, root=world_store, chain="btc", actor=SYSTEM)
        direct_txs = {h.tx_hash for h in session.scalars(select(WatchlistHit))}
        session.rollback()
        result = watch.scan(
            database.session,
            reader,
            root=world_store,
            chain="btc",
            actor=SYSTEM,
            from_height=0,
            hops=2,
        )
        hits = {h.tx_hash: h for h in session.scalars(select(WatchlistHit))}
        assert deposit.tx_hash in hits
        if deposit.tx_hash not in direct_txs:
            assert hits[deposit.tx_hash].hops == 2
            alert = session.get(Alert, hits[deposit.tx_hash].alert_id)
            assert alert is not None and "within 2 hops" in alert.reasons[0]
        assert result.hits + direct.hits == len(hits)


def test_new_blocks_are_checked_as_they_are_ingested(
    session: Session,
    settings: Settings,
    world: Path,
    world_store: Path,
    deposits: list[Deposit],
    tmp_path: Path,
) -> None:
    with ChainReader(storage.connect(world_store, read_only=True), world_store) as reader:
        deposit = _pick(reader, deposits, "btc", 1152, 2303)
        height = reader.tx("btc", deposit.tx_hash).height
        sender = _sender(reader, deposit)
    import_customers(session, settings, world, tmp_path, {deposit.customer_id})
    _watch(session, "btc", sender)
    session.close()

    source = WorldSource(world, "btc", tip=1151)
    options = SyncOptions(batch_blocks=576)
    ingest_service.sync(settings, source, options)
    db = Database.from_settings(settings)
    try:
        with db.session() as s:
            assert deposit.tx_hash not in {h.tx_hash for h in s.scalars(select(WatchlistHit))}
            assert watch.next_height(s, "btc") == 1152

        source.visible_tip = 2303
        ingest_service.sync(settings, source, SyncOptions(batch_blocks=576))
        with db.session() as s:
            hits = [h for h in s.scalars(select(WatchlistHit)) if h.tx_hash == deposit.tx_hash]
            assert hits and hits[0].height == height
            alert = s.get(Alert, hits[0].alert_id)
            assert alert is not None and alert.source == "watchlist"
            assert watch.next_height(s, "btc") == 2304
    finally:
        db.dispose()
    with ChainStore(settings.data_dir / "chains") as store:
        assert store.tip("btc") == 2303


def test_expired_entries_are_not_scanned(session: Session) -> None:
    entry_id = _watch(session, "eth", "0x" + "34" * 20, expires_at=utcnow() + timedelta(days=1))
    assert [e.id for e in watch.active_entries(session, "eth")] == [entry_id]
    entry = watch.get_entry(session, entry_id)
    entry.expires_at = utcnow() - timedelta(seconds=1)
    session.commit()
    assert watch.active_entries(session, "eth") == []


def test_the_ingest_hook_never_stops_an_ingest(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """No database yet: the hook warns once, creates nothing, and lets the ingest go on."""
    from factories import make_settings

    missing = tmp_path / "nowhere" / "chainsleuth.db"
    hook = watch.after_append(make_settings(tmp_path, f"sqlite:///{missing}"))
    hook("btc", 0, 99)
    hook("btc", 100, 199)
    assert not missing.exists()
    assert [r.message for r in caplog.records].count(
        f"watch list not checked: no database at {missing}"
    ) == 1
