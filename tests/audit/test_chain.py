"""The audit log: a hash chain written in the transaction of the change it records, refused
UPDATE and DELETE by the database itself, whose verification names the first broken entry.
Read through the JSON API by auditors only, with filters and keyset paging."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session

from chainsleuth.audit import service as audit
from chainsleuth.audit.enums import Channel, Outcome
from chainsleuth.audit.models import GENESIS_HASH, AuditEvent, AuditHead
from chainsleuth.audit.service import Actor
from chainsleuth.auth import tokens as token_service
from chainsleuth.auth.enums import Permission, Role
from chainsleuth.auth.models import User
from chainsleuth.core.config import Settings
from chainsleuth.core.db import Database
from chainsleuth.core.errors import InvalidInput
from chainsleuth.orgs import service as org_service
from chainsleuth.orgs.models import Agency
from chainsleuth.orgs.schemas import AgencyCreate
from factories import SYSTEM, login, make_user, unprotect_audit_log

ALICE = Actor(user_id=None, name="alice", channel=Channel.WEB, ip="192.0.2.10")


def record_many(session: Session, n: int, *, action: str = "test.event") -> list[AuditEvent]:
    events = [
        audit.record(
            session,
            actor=SYSTEM,
            action=action,
            object_type="thing",
            object_id=i,
            details={"i": i, "note": "überprüft ✓"},
        )
        for i in range(n)
    ]
    session.commit()
    return events


# On SQLite every transaction, a read too, takes the write lock (BEGIN IMMEDIATE): the
# helpers below end theirs so that another session (a verify, a request) can start.


def rows(session: Session) -> list[Any]:
    found = list(session.execute(select(AuditEvent.__table__).order_by(AuditEvent.seq)))
    session.commit()
    return found


def head(session: Session) -> AuditHead:
    session.expire_all()
    found = session.get(AuditHead, audit.HEAD_ID)
    session.commit()
    assert found is not None
    return found


def verify(database: Database, **kwargs: Any) -> audit.VerifyResult:
    """Verify from a fresh session, as an operator would."""
    with database.session() as s:
        return audit.verify(s, **kwargs)


# --- the chain ----------------------------------------------------------------------------


def test_a_fresh_database_has_an_empty_intact_chain(database: Database) -> None:
    result = verify(database)
    assert result.ok
    assert (result.checked, result.head_seq, result.head_hash) == (0, 0, GENESIS_HASH)


def test_entries_are_numbered_and_linked(session: Session, database: Database) -> None:
    written = record_many(session, 5)

    stored = rows(session)
    assert [r.seq for r in stored] == [1, 2, 3, 4, 5]
    assert stored[0].prev_hash == GENESIS_HASH
    for prev, cur in zip(stored, stored[1:], strict=False):
        assert cur.prev_hash == prev.hash
    # The hash covers the content as read back from the database (timestamps included).
    assert [audit.entry_hash(r) for r in stored] == [r.hash for r in stored]
    assert [e.hash for e in written] == [r.hash for r in stored]
    assert len({r.hash for r in stored}) == 5
    assert all(r.ts.tzinfo is UTC for r in stored)

    result = verify(database)
    assert result.ok, result
    assert (result.checked, result.head_seq, result.head_hash) == (5, 5, stored[-1].hash)
    assert (head(session).seq, head(session).hash) == (5, stored[-1].hash)


def test_who_what_where_and_outcome_are_recorded(session: Session) -> None:
    event = audit.record(
        session,
        actor=Actor(user_id=7, name="ivy", channel=Channel.API, ip="198.51.100.4"),
        action="user.disable",
        outcome=Outcome.DENIED,
        object_type="user",
        object_id=42,
        details={"reason": "test"},
    )
    session.commit()
    (row,) = rows(session)
    assert row.seq == event.seq
    assert (row.actor_id, row.actor, row.channel, row.ip) == (7, "ivy", "api", "198.51.100.4")
    assert (row.action, row.outcome, row.object_type, row.object_id) == (
        "user.disable",
        "denied",
        "user",
        "42",
    )
    assert row.details == '{"reason":"test"}'
    assert abs(row.ts - datetime.now(UTC)) < timedelta(minutes=1)


def test_verify_walks_the_chain_in_batches(session: Session, database: Database) -> None:
    record_many(session, 7)
    for batch in (1, 2, 3, 7, 100):
        result = verify(database, batch=batch)
        assert result.ok and result.checked == 7, (batch, result)


# --- same transaction ---------------------------------------------------------------------


def test_a_committed_change_carries_its_entry(session: Session) -> None:
    agency = org_service.create_agency(
        session, actor=ALICE, data=AgencyCreate(name="Cyber Unit", country="gb")
    )
    (row,) = rows(session)
    assert (row.action, row.object_type, row.object_id) == (
        "agency.create",
        "agency",
        str(agency.id),
    )
    assert row.actor == "alice"


def test_a_rolled_back_change_leaves_no_entry_and_an_intact_chain(
    session: Session, database: Database
) -> None:
    record_many(session, 2)

    agency = Agency(name="Never Was", country="GB", email_domains=[])
    session.add(agency)
    session.flush()
    event = audit.record(
        session, actor=ALICE, action="agency.create", object_type="agency", object_id=agency.id
    )
    assert event.seq == 3
    session.rollback()

    assert session.scalar(select(func.count()).select_from(Agency)) == 0
    assert [r.seq for r in rows(session)] == [1, 2]
    assert head(session).seq == 2
    assert verify(database).ok

    # The next entry takes the number the rolled-back one would have had.
    again = audit.record(session, actor=ALICE, action="test.after_rollback")
    session.commit()
    assert again.seq == 3
    result = verify(database)
    assert result.ok and result.checked == 3


def test_an_error_inside_a_transaction_rolls_back_change_and_entry(
    database: Database,
) -> None:
    with pytest.raises(RuntimeError), database.session() as s, s.begin():
        s.add(Agency(name="Half Done", country="FR", email_domains=[]))
        s.flush()
        audit.record(s, actor=ALICE, action="agency.create")
        raise RuntimeError("the change fails after its entry was written")
    with database.session() as s:
        assert s.scalar(select(func.count()).select_from(Agency)) == 0
        assert s.scalar(select(func.count()).select_from(AuditEvent)) == 0
    assert verify(database).ok


# --- append-only in the database ----------------------------------------------------------

REFUSED = [
    "UPDATE audit_events SET actor = 'mallory' WHERE seq = 2",
    "UPDATE audit_events SET details = '{}'",
    "DELETE FROM audit_events WHERE seq = 2",
    "DELETE FROM audit_events",
]


@pytest.mark.parametrize("statement", REFUSED)
def test_the_database_refuses_update_and_delete(
    session: Session, database: Database, statement: str
) -> None:
    record_many(session, 3)
    before = rows(session)
    with pytest.raises(DBAPIError, match="append-only"), database.engine.begin() as conn:
        conn.execute(text(statement))
    assert rows(session) == before
    assert verify(database).ok


def test_the_orm_cannot_change_an_entry_either(session: Session, database: Database) -> None:
    (event,) = record_many(session, 1)
    stored = session.get(AuditEvent, event.seq)  # record() returns the entry, not the row
    assert stored is not None
    stored.actor = "mallory"
    with pytest.raises(DBAPIError, match="append-only"):
        session.commit()
    session.rollback()
    session.delete(session.get(AuditEvent, 1))
    with pytest.raises(DBAPIError, match="append-only"):
        session.commit()
    session.rollback()
    assert verify(database).ok


@pytest.mark.parametrize("backend", ["postgresql"])  # SQLite has no TRUNCATE
def test_postgresql_refuses_truncate(session: Session, database: Database) -> None:
    record_many(session, 2)
    with pytest.raises(DBAPIError, match="append-only"), database.engine.begin() as conn:
        conn.execute(text("TRUNCATE audit_events"))
    assert verify(database).ok


# --- tampering, with the triggers lifted --------------------------------------------------


@pytest.fixture
def tampered(session: Session, database: Database) -> Iterator[Database]:
    """Five entries in a database whose append-only triggers were lifted."""
    record_many(session, 5)
    session.close()
    unprotect_audit_log(database.engine)
    yield database


def tamper(database: Database, statement: str, **params: Any) -> None:
    with database.engine.begin() as conn:
        assert conn.execute(text(statement), params).rowcount == 1


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("details", '{"i":2,"note":"nothing to see"}'),
        ("actor", "someone-else"),
        ("outcome", "failure"),
        ("object_id", "999"),
        ("ip", "203.0.113.9"),
    ],
)
def test_verify_catches_an_edited_entry(tampered: Database, column: str, value: str) -> None:
    tamper(tampered, f"UPDATE audit_events SET {column} = :v WHERE seq = 3", v=value)
    result = verify(tampered)
    assert not result.ok
    assert result.broken_seq == 3
    assert result.checked == 2
    assert result.reason is not None and "altered" in result.reason


def test_verify_catches_an_edited_timestamp(tampered: Database) -> None:
    with tampered.session() as s:
        ts = s.scalar(select(AuditEvent.ts).where(AuditEvent.seq == 2))
    assert ts is not None
    earlier = (ts - timedelta(hours=1)).replace(tzinfo=None)  # stored as naive UTC
    tamper(tampered, "UPDATE audit_events SET ts = :ts WHERE seq = 2", ts=earlier)
    result = verify(tampered)
    assert (result.ok, result.broken_seq) == (False, 2)


def test_verify_catches_a_deleted_middle_entry(tampered: Database) -> None:
    tamper(tampered, "DELETE FROM audit_events WHERE seq = 3")
    result = verify(tampered)
    assert (result.ok, result.broken_seq, result.checked) == (False, 3, 2)
    assert result.reason is not None and "missing" in result.reason
    # Found in whichever batch the gap falls.
    assert verify(tampered, batch=2).broken_seq == 3


def test_verify_catches_a_deleted_first_entry(tampered: Database) -> None:
    tamper(tampered, "DELETE FROM audit_events WHERE seq = 1")
    result = verify(tampered)
    assert (result.ok, result.broken_seq, result.checked) == (False, 1, 0)


def test_verify_catches_a_truncated_tail(tampered: Database) -> None:
    tamper(tampered, "DELETE FROM audit_events WHERE seq = 5")
    result = verify(tampered)
    assert not result.ok
    assert (result.broken_seq, result.checked, result.head_seq) == (5, 4, 5)
    assert result.reason is not None and "deleted" in result.reason and "end" in result.reason


def test_verify_catches_a_forged_entry_with_a_recomputed_hash(tampered: Database) -> None:
    """Rewriting an entry and its own hash consistently breaks the next entry's link."""
    with tampered.session() as s:
        forged = s.get(AuditEvent, 3)
        assert forged is not None
        s.expunge(forged)
    forged.details = '{"i":2,"note":"forged"}'
    forged.hash = audit.entry_hash(forged)
    tamper(
        tampered,
        "UPDATE audit_events SET details = :d, hash = :h WHERE seq = 3",
        d=forged.details,
        h=forged.hash,
    )
    result = verify(tampered)
    assert not result.ok
    assert (result.broken_seq, result.checked) == (4, 3)  # entry 3 itself now checks out
    assert result.reason is not None and "link" in result.reason


def test_verify_catches_a_forged_last_entry_through_the_head(tampered: Database) -> None:
    with tampered.session() as s:
        forged = s.get(AuditEvent, 5)
        assert forged is not None
        s.expunge(forged)
    forged.actor = "someone-else"
    forged.hash = audit.entry_hash(forged)
    tamper(
        tampered,
        "UPDATE audit_events SET actor = :a, hash = :h WHERE seq = 5",
        a=forged.actor,
        h=forged.hash,
    )
    result = verify(tampered)
    assert (result.ok, result.broken_seq, result.checked) == (False, 5, 4)
    assert result.reason is not None and "head" in result.reason


def test_verify_catches_an_altered_head(tampered: Database) -> None:
    tamper(tampered, "UPDATE audit_head SET hash = :h WHERE id = 1", h="f" * 64)
    result = verify(tampered)
    assert (result.ok, result.broken_seq, result.head_hash) == (False, 5, "f" * 64)


def test_verify_reports_a_missing_head(tampered: Database) -> None:
    tamper(tampered, "DELETE FROM audit_head WHERE id = 1")
    result = verify(tampered)
    assert not result.ok
    assert result.reason is not None and "head" in result.reason


# --- concurrent writers -------------------------------------------------------------------

THREADS = 4
PER_THREAD = 10


def test_concurrent_writers_never_share_a_number(database: Database) -> None:
    start = threading.Barrier(THREADS)
    failures: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            start.wait(timeout=30)
            for i in range(PER_THREAD):
                with database.session() as s:
                    audit.record(
                        s,
                        actor=Actor.system(f"writer-{n}"),
                        action="test.concurrent",
                        details={"i": i},
                    )
                    s.commit()
        except BaseException as exc:  # reported below, not lost in the thread
            failures.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads)
    assert not failures, failures

    with database.session() as s:
        stored = rows(s)
    assert [r.seq for r in stored] == list(range(1, THREADS * PER_THREAD + 1))
    assert Counter(r.actor for r in stored) == {f"writer-{n}": PER_THREAD for n in range(THREADS)}
    result = verify(database)
    assert result.ok and result.checked == THREADS * PER_THREAD, result


def test_a_row_inserted_with_its_entry_is_linked_into_the_chain(database: Database) -> None:
    """``record_insert`` (on PostgreSQL, writable CTEs: the row with the head, the entry
    with the head's hash) beside writers of plain entries: one chain, each row's entry
    naming the new row, and a failed insert leaves neither row nor entry."""
    from chainsleuth.core.models import Base

    table = Base.metadata.tables["risk_screenings"]
    failures: list[BaseException] = []
    made: list[tuple[int, int]] = []  # (row id, its entry's seq)

    def values(n: int, i: int) -> dict[str, Any]:
        return {
            "created_at": datetime.now(UTC), "created_by": f"writer-{n}", "user_id": None,
            "idempotency_key": f"k-{n}-{i}", "request_digest": "d" * 64, "chain": "btc",
            "asset": "BTC", "direction": "deposit", "address": None, "tx_hash": None,
            "amount": 1000 + i, "account_id": None, "customer_id": None, "severity": "low",
            "action": "allow", "score": 0, "policy_version": 1, "result": {}, "alert_id": None,
        }  # fmt: skip

    def writer(n: int) -> None:
        try:
            for i in range(PER_THREAD):
                with database.session() as s:
                    if n % 2:
                        audit.record(s, actor=Actor.system(f"writer-{n}"), action="test.plain")
                    else:
                        row_id, event = audit.record_insert(
                            s, table, values(n, i), actor=Actor.system(f"writer-{n}"),
                            action="test.insert", object_type="screening", details={"i": i},
                        )  # fmt: skip
                        made.append((row_id, event["seq"]))
                    s.commit()
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not failures, failures
    with database.session() as s:
        stored = {r.seq: r for r in rows(s)}
        ids = set(s.scalars(select(table.c.id)).all())
        s.commit()
    assert sorted(stored) == list(range(1, THREADS * PER_THREAD + 1))
    assert len(made) == PER_THREAD * (THREADS // 2) and {i for i, _ in made} == ids
    for row_id, seq in made:
        assert stored[seq].action == "test.insert" and stored[seq].object_id == str(row_id)
    assert verify(database).ok
    # the same idempotency key again: the insert fails, and no entry is written
    with database.session() as s:
        with pytest.raises(IntegrityError):
            audit.record_insert(
                s, table, values(0, 0), actor=SYSTEM, action="test.insert",
                object_type="screening", details={},
            )  # fmt: skip
        s.rollback()
    with database.session() as s:
        assert len(rows(s)) == THREADS * PER_THREAD
    assert verify(database).ok


def test_verify_while_others_write_sees_an_intact_chain(database: Database) -> None:
    """A verification running beside writers checks the chain up to the head it read."""
    failures: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            for _ in range(PER_THREAD * 2):
                with database.session() as s:
                    audit.record(s, actor=Actor.system(f"writer-{n}"), action="test.busy")
                    s.commit()
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(THREADS - 1)]
    for t in threads:
        t.start()
    results = []
    while any(t.is_alive() for t in threads):
        results.append(verify(database))
    for t in threads:
        t.join(timeout=120)
    assert not failures, failures
    assert results and all(r.ok for r in results), [r for r in results if not r.ok][:3]
    assert verify(database).checked == (THREADS - 1) * PER_THREAD * 2


# --- the JSON API -------------------------------------------------------------------------


def api_token(session: Session, user: User, *scopes: Permission) -> dict[str, str]:
    issued = token_service.create(
        session, actor=SYSTEM, user=user, name="audit test", scopes=list(scopes), days=1
    )
    return {"Authorization": f"Bearer {issued.token}"}


AUDITOR_SCOPES = (Permission.AUDIT_READ, Permission.AUDIT_VERIFY)


@pytest.mark.parametrize("role", [Role.ADMIN, Role.COMPLIANCE_ANALYST, Role.LEGAL_REVIEWER])
def test_auditors_read_and_verify_the_log(
    client: TestClient, session: Session, settings: Settings, role: Role
) -> None:
    account = make_user(session, settings, role=role, with_mfa=False)
    headers = api_token(session, account.user, *AUDITOR_SCOPES)

    page = client.get("/api/v1/audit/events", headers=headers)
    assert page.status_code == 200, page.text
    events = page.json()["events"]
    assert [e["action"] for e in events] == ["token.create", "user.create"]  # newest first
    assert events[0]["details"]["scopes"] == sorted(str(s) for s in AUDITOR_SCOPES)
    assert events[1]["details"] == {"username": account.username, "role": str(role)}
    assert events[0]["prev_hash"] == events[1]["hash"]
    assert page.json()["next_before"] is None

    check = client.get("/api/v1/audit/verify", headers=headers)
    assert check.status_code == 200
    assert check.json() == {
        "ok": True,
        "checked": 2,
        "head_seq": 2,
        "head_hash": events[0]["hash"],
        "broken_seq": None,
        "reason": None,
    }


def test_an_investigator_is_refused_and_the_refusal_is_audited(
    client: TestClient, session: Session, settings: Settings
) -> None:
    investigator = make_user(session, settings, role=Role.INVESTIGATOR)
    login(client, investigator)
    for path in ("/api/v1/audit/events", "/api/v1/audit/verify"):
        response = client.get(path)
        assert response.status_code == 403, path
        assert response.json()["error"]["code"] == "permission_denied"

    # An investigator cannot even ask for a token that reads the log.
    with pytest.raises(InvalidInput, match="audit:read"):
        token_service.create(
            session,
            actor=SYSTEM,
            user=investigator.user,
            name="sneaky",
            scopes=[Permission.AUDIT_READ],
            days=1,
        )

    denied = audit.search(
        session, flt=audit.AuditFilter(action="access.denied", actor=investigator.username)
    )
    assert {json_path(e) for e in denied} == {"/api/v1/audit/events", "/api/v1/audit/verify"}
    assert all(e.outcome == "denied" for e in denied)


def json_path(event: AuditEvent) -> str:
    path: str = json.loads(event.details)["path"]
    return path


def test_a_token_reads_only_within_its_scopes(
    client: TestClient, session: Session, settings: Settings
) -> None:
    admin = make_user(session, settings, role=Role.ADMIN, with_mfa=False)
    read_only = api_token(session, admin.user, Permission.AUDIT_READ)
    assert client.get("/api/v1/audit/events", headers=read_only).status_code == 200
    assert client.get("/api/v1/audit/verify", headers=read_only).status_code == 403
    anonymous = client.get("/api/v1/audit/events")
    assert anonymous.status_code == 401


@pytest.fixture
def auditor(session: Session, settings: Settings) -> dict[str, str]:
    admin = make_user(session, settings, role=Role.ADMIN, with_mfa=False)
    return api_token(session, admin.user, *AUDITOR_SCOPES)


def events(client: TestClient, headers: dict[str, str], **params: Any) -> list[dict[str, Any]]:
    response = client.get("/api/v1/audit/events", headers=headers, params=params)
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()["events"]
    return found


def test_filters(client: TestClient, session: Session, auditor: dict[str, str]) -> None:
    bob = Actor(user_id=None, name="bob", channel=Channel.CLI)
    anonymous = Actor.anonymous(ip="203.0.113.5")
    audit.record(session, actor=ALICE, action="auth.login")
    audit.record(session, actor=anonymous, action="auth.login", outcome=Outcome.FAILURE)
    audit.record(session, actor=ALICE, action="auth.logout")
    audit.record(session, actor=bob, action="authority.grant")
    audit.record(session, actor=bob, action="user.create", object_type="user", object_id=9)
    session.commit()

    def actions(**params: Any) -> list[str]:
        return [e["action"] for e in events(client, auditor, **params)]

    assert actions(action="auth.") == ["auth.logout", "auth.login", "auth.login"]
    assert actions(action="auth.login") == ["auth.login", "auth.login"]
    # LIKE wildcards in the prefix are taken literally.
    assert actions(action="auth_login") == []
    assert actions(action="auth%") == []
    assert actions(outcome="failure") == ["auth.login"]
    assert events(client, auditor, outcome="failure")[0]["ip"] == "203.0.113.5"
    assert actions(actor="alice") == ["auth.logout", "auth.login"]
    assert actions(actor="bob", action="auth") == ["authority.grant"]
    assert actions(object_type="user", object_id="9") == ["user.create"]
    assert actions(actor="nobody") == []

    bad = client.get("/api/v1/audit/events", headers=auditor, params={"outcome": "maybe"})
    assert bad.status_code == 422
    assert bad.json()["error"]["code"] == "invalid_input"


@pytest.fixture
def far_from_utc() -> Iterator[None]:
    """Run with a local time zone nine hours from UTC: naive times must still mean UTC."""
    mp = pytest.MonkeyPatch()
    mp.setenv("TZ", "Asia/Tokyo")
    time.tzset()
    yield
    mp.undo()
    time.tzset()


def test_time_window_with_naive_times_read_as_utc(
    client: TestClient, session: Session, auditor: dict[str, str], far_from_utc: None
) -> None:
    stamps = []
    for i in range(4):
        stamps.append(audit.record(session, actor=ALICE, action=f"window.{i}").ts)
        session.commit()
        time.sleep(0.002)

    def window(since: datetime, until: datetime) -> list[str]:
        return [
            e["action"]
            for e in events(
                client, auditor, action="window.", since=since.isoformat(), until=until.isoformat()
            )
        ]

    naive = [ts.astimezone(UTC).replace(tzinfo=None) for ts in stamps]
    # since is inclusive, until exclusive
    assert window(naive[1], naive[3]) == ["window.2", "window.1"]
    # The same instants written with an offset select the same entries.
    plus_two = timezone(timedelta(hours=2))
    assert window(stamps[1].astimezone(plus_two), stamps[3].astimezone(plus_two)) == [
        "window.2",
        "window.1",
    ]
    # Nine hours later, as a naive local Tokyo time would be misread, selects nothing.
    assert window(naive[0] + timedelta(hours=9), naive[3] + timedelta(hours=9)) == []

    since_only = events(client, auditor, action="window.", since=naive[2].isoformat())
    assert [e["action"] for e in since_only] == ["window.3", "window.2"]

    bad = client.get("/api/v1/audit/events", headers=auditor, params={"since": "yesterday"})
    assert bad.status_code == 422


def test_keyset_paging_with_before(
    client: TestClient, session: Session, auditor: dict[str, str]
) -> None:
    record_many(session, 7, action="page.entry")
    seen: list[int] = []
    before: int | None = None
    pages = []
    while True:
        params: dict[str, Any] = {"action": "page.", "limit": 3}
        if before is not None:
            params["before"] = before
        body = client.get("/api/v1/audit/events", headers=auditor, params=params).json()
        pages.append(len(body["events"]))
        seen += [e["seq"] for e in body["events"]]
        before = body["next_before"]
        if before is None:
            break
        assert before == body["events"][-1]["seq"]
    assert pages == [3, 3, 1]
    assert seen == sorted(seen, reverse=True)
    assert len(set(seen)) == 7

    # Entries written while paging do not shift the pages already computed.
    first = events(client, auditor, action="page.", limit=3)
    record_many(session, 2, action="page.entry")
    again = events(client, auditor, action="page.", limit=3, before=first[0]["seq"] + 1)
    assert [e["seq"] for e in again] == [e["seq"] for e in first]

    for bad in ({"limit": 0}, {"limit": 501}, {"before": 0}):
        response = client.get("/api/v1/audit/events", headers=auditor, params=bad)
        assert response.status_code == 422, bad


def test_the_verify_endpoint_reports_a_broken_chain(
    client: TestClient, session: Session, database: Database, auditor: dict[str, str]
) -> None:
    record_many(session, 3)
    session.close()
    unprotect_audit_log(database.engine)
    tamper(database, "DELETE FROM audit_events WHERE seq = 2")
    body = client.get("/api/v1/audit/verify", headers=auditor).json()
    assert body["ok"] is False
    assert body["broken_seq"] == 2
    assert "missing" in body["reason"]
