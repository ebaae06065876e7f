"""Hot-path statements (``core.hotsql``): the same rows and values as SQLAlchemy gives for
the same statement, in the session's transaction, with SQLAlchemy's errors, on both
backends (on PostgreSQL they run on the driver's cursor)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import bindparam, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from chainsleuth.audit.models import AuditHead
from chainsleuth.core.db import Database
from chainsleuth.core.hotsql import HotStatement
from chainsleuth.core.models import Base
from chainsleuth.risk import screening_models  # noqa: F401  (the table's model)

SCREENINGS = Base.metadata.tables["risk_screenings"]
WHEN = datetime(2026, 3, 4, 5, 6, 7, 890123, tzinfo=UTC)


def values(**changes: object) -> dict[str, object]:
    row: dict[str, object] = {
        "created_at": WHEN,
        "created_by": "tester",
        "user_id": None,
        "idempotency_key": None,
        "request_digest": "ab" * 32,
        "chain": "eth",
        "asset": "ETH",
        "direction": "deposit",
        "address": "0x" + "12" * 20,
        "tx_hash": None,
        # above 2**64: the Amount type's NUMERIC(78, 0) / decimal text
        "amount": 123_456_789_012_345_678_901_234_567,
        "account_id": None,
        "customer_id": None,
        "severity": "low",
        "action": "allow",
        "score": 7,
        "policy_version": 3,
        "result": {"reasons": ["über ✓", "x"], "n": [1, 2.5, None]},
        "alert_id": None,
    }
    row.update(changes)
    return row


INSERT = HotStatement(
    SCREENINGS.insert()
    .values({k: bindparam(k, type_=SCREENINGS.c[k].type) for k in values()})
    .returning(SCREENINGS.c.id, SCREENINGS.c.created_at)
)
READ = select(
    SCREENINGS.c.id, SCREENINGS.c.created_at, SCREENINGS.c.amount, SCREENINGS.c.result,
    SCREENINGS.c.idempotency_key,
).where(SCREENINGS.c.id == bindparam("id"))  # fmt: skip
HOT_READ = HotStatement(READ)


def test_rows_and_values_match_sqlalchemys(session: Session) -> None:
    row_id, created = INSERT.one(session, values())
    assert created == WHEN and created.tzinfo is not None
    hot = HOT_READ.one(session, {"id": row_id})
    plain = tuple(session.connection().execute(READ, {"id": row_id}).one())
    assert hot == plain
    assert hot[2] == 123_456_789_012_345_678_901_234_567 and isinstance(hot[2], int)
    assert hot[3] == {"reasons": ["über ✓", "x"], "n": [1, 2.5, None]}
    assert HOT_READ.first(session, {"id": row_id + 1000}) is None
    assert HOT_READ.rows(session, {"id": row_id + 1000}) == []


def test_literal_binds_and_dml_without_rows(session: Session) -> None:
    head = session.get(AuditHead, 1)
    assert head is not None
    seq = head.seq
    session.expunge_all()
    bump = HotStatement(
        AuditHead.__table__.update()
        .where(AuditHead.__table__.c.id == 1)
        .values(seq=AuditHead.__table__.c.seq + 5)
    )
    assert bump.rows(session) == []
    got = session.connection().execute(select(AuditHead.__table__.c.seq)).scalar_one()
    assert got == seq + 5


def test_it_is_part_of_the_sessions_transaction(database: Database) -> None:
    with database.session() as s:
        row_id, _ = INSERT.one(s, values(created_at=WHEN + timedelta(days=1)))
        s.rollback()
    with database.session() as s:
        assert HOT_READ.first(s, {"id": row_id}) is None
        row_id, _ = INSERT.one(s, values())
        s.commit()
    with database.session() as s:
        assert HOT_READ.one(s, {"id": row_id})[0] == row_id


def test_a_driver_error_is_sqlalchemys_and_the_session_recovers(database: Database) -> None:
    with database.session() as s:
        INSERT.one(s, values(idempotency_key="k-1"))
        s.commit()
    with database.session() as s:
        with pytest.raises(IntegrityError):
            INSERT.one(s, values(idempotency_key="k-1"))
        s.rollback()
        row_id, _ = INSERT.one(s, values(idempotency_key="k-2"))
        s.commit()
        assert HOT_READ.one(s, {"id": row_id})[4] == "k-2"


def test_a_missing_value_is_refused_before_the_database(session: Session) -> None:
    with pytest.raises(Exception, match="id"):
        HOT_READ.rows(session, {})
