"""``labels_version``: read once per transaction, and every change seen by the next one."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import event, update
from sqlalchemy.orm import Session

from chainsleuth.audit.service import Actor
from chainsleuth.core.db import Database
from chainsleuth.labels import service as label_service
from chainsleuth.labels.enums import Category
from chainsleuth.labels.models import Label
from chainsleuth.labels.schemas import LabelCreate

A = "1BoatSLRHtKNngkdXEeobR76b53LETtpyT"
B = "1dice8EMZmqKvrGE4Qc9bUFf9PX3xaYDp"
STAFF = Actor(user_id=None, name="investigator")


@contextmanager
def counted(database: Database) -> Iterator[list[str]]:
    seen: list[str] = []

    def on_execute(*args: object) -> None:
        seen.append(str(args[2]))

    event.listen(database.engine, "before_cursor_execute", on_execute)
    try:
        yield seen
    finally:
        event.remove(database.engine, "before_cursor_execute", on_execute)


def version_queries(seen: list[str]) -> int:
    return sum(1 for s in seen if "labels_version" in s and s.lstrip().upper().startswith("SELECT"))


def add(session: Session, address: str) -> None:
    label_service.create_label(
        session,
        actor=STAFF,
        data=LabelCreate(chain="btc", address=address, category=Category.SCAM, label="x"),
    )


def test_one_reading_per_transaction(database: Database, session: Session) -> None:
    add(session, A)
    with counted(database) as seen:
        first = label_service.labels_version(session, chain="btc")
        assert label_service.labels_version(session, chain="btc") == first
        assert version_queries(seen) == 1
        session.commit()  # a new transaction reads again
        assert label_service.labels_version(session, chain="btc") == first
        assert version_queries(seen) == 2


def test_changes_are_seen(database: Database, session: Session) -> None:
    before = label_service.labels_version(session, chain="btc")
    add(session, A)  # in this session: it commits
    added = label_service.labels_version(session, chain="btc")
    assert added != before
    session.rollback()  # ends the transaction (SQLite: its write lock too)
    # another session's change, committed: seen by this session's next transaction
    with database.session() as other:
        add(other, B)
    assert label_service.labels_version(session, chain="btc") != added


def test_a_write_in_the_transaction_is_seen_at_once(session: Session) -> None:
    add(session, A)
    first = label_service.labels_version(session, chain="btc")
    label_id = session.query(Label.id).filter(Label.address == A).scalar()
    session.execute(update(Label).where(Label.id == label_id).values(active=False))
    assert label_service.labels_version(session, chain="btc") != first
