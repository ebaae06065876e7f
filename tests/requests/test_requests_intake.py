"""Intake: reference and acknowledgement, subjects canonical, duplicates, SLA clock, and
every bad input refused with a reason and nothing half-stored."""

from __future__ import annotations

import hashlib
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from openpyxl import Workbook
from request_helpers import BTC_ADDR, BTC_TX, ETH_ADDR, Actor, submit, verified_officer
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from chainsleuth.audit.models import AuditEvent
from chainsleuth.core.config import Settings
from chainsleuth.orgs.models import Agency
from chainsleuth.requests.models import LeRequest, LeRequestDocument, LeRequestSubject


def _count(session: Session, model: type) -> int:
    session.expire_all()
    n = int(session.scalar(select(func.count()).select_from(model)) or 0)
    session.rollback()  # SQLite: one writer; leave the app free to write
    return n


def _stored_files(settings: Settings) -> list[Path]:
    root = settings.data_dir / "requests"
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def test_a_submission_gets_a_reference_and_an_acknowledgement_at_once(
    client: TestClient, session: Session, settings: Settings, officer: Actor
) -> None:
    response = submit(
        client,
        officer,
        subjects=f"Alice@Example.org\n{ETH_ADDR}\ntx: {BTC_TX.upper()}\n"
        "name: Jane  Doe, 1980-02-03\nphone: +44 20 7946 0958\naccount: c123456789-btc\n",
    )
    assert response.status_code == 201, response.text
    ack = response.json()
    year = datetime.now(UTC).year
    assert ack["reference"] == f"LER-{year}-{ack['id']:06d}"
    assert ack["status"] == "received"
    assert ack["acknowledged_at"] and ack["subject_count"] == 6
    assert ack["possible_duplicate_of"] is None
    assert ack["reference"] in ack["message"]
    req = session.get(LeRequest, ack["id"])
    assert req is not None and req.agency_id == officer.account.user.agency_id
    got = {(s.kind, s.value, s.chain, s.date_of_birth) for s in req.subjects}
    assert got == {
        ("email", "alice@example.org", None, None),
        ("address", ETH_ADDR.lower(), "eth", None),
        ("tx_hash", BTC_TX, "btc", None),
        ("name_dob", "Jane Doe", None, "1980-02-03"),
        ("phone", "+442079460958", None, None),
        ("account_id", "C123456789-BTC", None, None),
    }
    doc = session.scalars(
        select(LeRequestDocument).where(LeRequestDocument.request_id == req.id)
    ).one()
    stored = settings.data_dir / doc.storage_path
    import hashlib

    assert hashlib.sha256(stored.read_bytes()).hexdigest() == doc.sha256
    event = session.scalars(select(AuditEvent).where(AuditEvent.action == "request.submit")).one()
    assert event.object_id == str(req.id)
    req_id, doc_id, doc_sha = req.id, doc.id, doc.sha256
    session.rollback()
    # the officer reads it back; the document downloads with its hash
    detail = client.get(f"/api/v1/requests/{req_id}", headers=officer.headers).json()
    assert detail["reference"] == ack["reference"] and len(detail["subjects"]) == 6
    assert detail["approvals"] is None  # staff-only fields stay hidden from the officer
    dl = client.get(f"/api/v1/requests/{req_id}/documents/{doc_id}", headers=officer.headers)
    assert dl.status_code == 200 and dl.content[:5] == b"%PDF-"
    assert dl.headers["x-content-sha256"] == doc_sha


def test_same_subjects_and_case_reference_from_the_same_agency_is_a_possible_duplicate(
    client: TestClient, session: Session, settings: Settings, officer: Actor
) -> None:
    first = submit(client, officer, case_reference="NCA-1", subjects=f"a@b.org\n{BTC_ADDR}").json()
    # the same subjects in another order and spelling
    second = submit(
        client, officer, case_reference="NCA-1", subjects=f"btc: {BTC_ADDR}\nA@B.org"
    ).json()
    assert second["possible_duplicate_of"] == first["reference"]
    assert first["reference"] in second["message"]
    assert session.get(LeRequest, second["id"]).duplicate_of_id == first["id"]  # type: ignore[union-attr]
    session.rollback()
    # another case reference, or another agency: not a duplicate
    other_case = submit(client, officer, case_reference="NCA-2", subjects=f"a@b.org\n{BTC_ADDR}")
    assert other_case.json()["possible_duplicate_of"] is None
    colleague = verified_officer(session, settings)
    elsewhere = submit(client, colleague, case_reference="NCA-1", subjects=f"a@b.org\n{BTC_ADDR}")
    assert elsewhere.json()["possible_duplicate_of"] is None
    listed = client.get("/api/v1/requests", headers=officer.headers).json()["items"]
    assert {i["reference"]: i["possible_duplicate_of"] for i in listed}[second["reference"]] == (
        first["reference"]
    )


def test_the_sla_clock_follows_the_type_and_the_deadline(
    client: TestClient, session: Session, officer: Actor, investigator: Actor
) -> None:
    emergency = submit(client, officer, type="emergency_disclosure", deadline=None).json()
    info = submit(client, officer, type="information_request", deadline=None).json()
    soon = (datetime.now(UTC) + timedelta(days=3)).isoformat()
    tight = submit(client, officer, type="court_order", deadline=soon).json()
    e, i, t = (session.get(LeRequest, x["id"]) for x in (emergency, info, tight))
    assert e and i and t
    assert e.sla_due_at - e.received_at == timedelta(hours=4)
    assert i.sla_due_at - i.received_at == timedelta(days=14)
    assert abs((t.sla_due_at - datetime.fromisoformat(soon)).total_seconds()) < 1
    assert e.sla_warn_at - e.received_at == timedelta(hours=4) * 0.8
    session.rollback()
    # nothing warns yet; once 80 % of the emergency's clock is gone it does
    assert client.get("/api/v1/requests/due", headers=investigator.headers).json() == []
    e.received_at -= timedelta(hours=3, minutes=30)
    e.sla_due_at -= timedelta(hours=3, minutes=30)
    e.sla_warn_at -= timedelta(hours=3, minutes=30)
    session.commit()
    due = client.get("/api/v1/requests/due", headers=investigator.headers).json()
    assert [d["reference"] for d in due] == [emergency["reference"]]
    assert due[0]["sla_warning"] and not due[0]["sla_breached"]
    warned = client.get(
        "/api/v1/requests", params={"sla_warning": True}, headers=investigator.headers
    ).json()["items"]
    assert [w["reference"] for w in warned] == [emergency["reference"]]


def _xlsx(rows: list[list[object]]) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()


def test_subjects_from_csv_and_xlsx_files(
    client: TestClient, session: Session, officer: Actor
) -> None:
    csv_body = f"kind,value,chain\naddress,{ETH_ADDR},eth\nemail,x@y.org,\ncustomer,C000000042,\n"
    r = submit(
        client,
        officer,
        subjects="",
        files={"subjects_file": ("subjects.csv", csv_body.encode(), "text/csv")},
    )
    assert r.status_code == 201, r.text
    req = session.get(LeRequest, r.json()["id"])
    assert req and {s.kind for s in req.subjects} == {"address", "email", "customer_id"}
    session.rollback()
    x = _xlsx(
        [
            ["type", "value", "date_of_birth"],
            ["name", "Max Mustermann", "1970-01-31"],
            ["tx_hash", BTC_TX, None],
        ]
    )
    r = submit(
        client,
        officer,
        subjects="",
        files={"subjects_file": ("s.xlsx", x, "application/octet-stream")},
    )
    assert r.status_code == 201, r.text
    req = session.get(LeRequest, r.json()["id"])
    assert req and {(s.kind, s.value) for s in req.subjects} == {
        ("name_dob", "Max Mustermann"),
        ("tx_hash", BTC_TX),
    }
    kinds = {
        d.kind
        for d in session.scalars(
            select(LeRequestDocument).where(LeRequestDocument.request_id == req.id)
        )
    }
    assert kinds == {"signed_order", "subjects_file"}


def _refused(
    client: TestClient,
    session: Session,
    settings: Settings,
    officer: Actor,
    status: int,
    needle: str,
    **kwargs: object,
) -> dict[str, object]:
    before = (
        _count(session, LeRequest),
        _count(session, LeRequestSubject),
        len(_stored_files(settings)),
    )
    r = submit(client, officer, **kwargs)  # type: ignore[arg-type]
    assert r.status_code == status, r.text
    error = r.json()["error"]
    assert needle in error["message"], error
    after = (
        _count(session, LeRequest),
        _count(session, LeRequestSubject),
        len(_stored_files(settings)),
    )
    assert after == before, "a refused request left something behind"
    return dict(error)


def test_bad_input_is_refused_with_a_reason_and_nothing_half_stored(
    client: TestClient, session: Session, settings: Settings, officer: Actor
) -> None:
    _refused(client, session, settings, officer, 422, "not a PDF", document=b"hello, not a pdf")
    _refused(
        client, session, settings, officer, 422, "not a readable PDF", document=b"%PDF-1.4\ngarbage"
    )
    big = b"%PDF-1.4\n" + b"0" * (settings.request_document_max_bytes + 10)
    _refused(client, session, settings, officer, 413, "the limit is", document=big)
    # each refused upload is audited with its size and SHA-256 (repeated attempts show)
    uploads = session.scalars(
        select(AuditEvent).where(AuditEvent.action == "request.upload_refused")
    ).all()
    assert [json.loads(e.details)["size"] for e in uploads] == [16, 16, len(big)]
    assert {e.outcome for e in uploads} == {"denied"}
    assert (
        json.loads(uploads[0].details)["sha256"] == hashlib.sha256(b"hello, not a pdf").hexdigest()
    )
    session.rollback()
    past = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    _refused(client, session, settings, officer, 422, "deadline", deadline=past)
    bad_addr = BTC_ADDR[:-1] + ("3" if BTC_ADDR[-1] != "3" else "4")
    error = _refused(
        client,
        session,
        settings,
        officer,
        422,
        "malformed subject",
        subjects=f"a@b.org\nbtc: {bad_addr}\neth: 0x5AAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
    )
    assert error["code"] == "invalid_subjects"
    rows = {d["row"]: d["reason"] for d in error["details"]}  # type: ignore[union-attr]
    assert set(rows) == {2, 3} and "Base58Check" in rows[2] and "EIP-55" in rows[3]
    _refused(
        client,
        session,
        settings,
        officer,
        422,
        "row 3",
        subjects="",
        files={
            "subjects_file": (
                "s.csv",
                b"kind,value\nemail,ok@x.org\nemail,not-an-email\n",
                "text/csv",
            )
        },
    )
    for raw, needle in (
        (b"kind,value\nemail,caf\xe9@x.org\n", "not UTF-8"),
        (b"kind,address\nemail,a@b.org\n", "no 'value' column"),
        (b"\xff\xfe\x00\x01\x02", "not UTF-8"),
    ):
        _refused(
            client, session, settings, officer, 422, needle, subjects="",
            files={"subjects_file": ("s.csv", raw, "text/csv")},
        )  # fmt: skip
    _refused(
        client,
        session,
        settings,
        officer,
        422,
        "not an Excel workbook",
        subjects="",
        files={"subjects_file": ("s.xlsx", b"PK\x03\x04broken", "application/octet-stream")},
    )
    bad_xlsx = _xlsx([["kind", "value"], ["email", "fine@x.org"], ["address", "0x123"]])
    _refused(
        client,
        session,
        settings,
        officer,
        422,
        "row 3",
        subjects="",
        files={"subjects_file": ("s.xlsx", bad_xlsx, "application/octet-stream")},
    )
    _refused(client, session, settings, officer, 422, "at least one subject", subjects="")
    _refused(client, session, settings, officer, 422, "type", type="wiretap")
    _refused(client, session, settings, officer, 422, "follow-up names", type="follow_up")
    _refused(
        client,
        session,
        settings,
        officer,
        422,
        "parent reference",
        type="follow_up",
        parent_reference="LER-2026-999999",
    )
    _refused(
        client,
        session,
        settings,
        officer,
        422,
        "non-disclosure order is past",
        nondisclosure="true",
        nondisclosure_until=(datetime.now(UTC) - timedelta(days=2)).isoformat(),
    )


def test_an_unverified_sender_or_unknown_agency_is_refused_and_audited(
    client: TestClient, session: Session, settings: Settings
) -> None:
    unverified = verified_officer(session, settings, verified=False)
    before = _count(session, LeRequest)
    r = submit(client, unverified)
    assert r.status_code == 403 and "not verified" in r.json()["error"]["message"]
    assert _count(session, LeRequest) == before and _stored_files(settings) == []
    denied = session.scalars(select(AuditEvent).where(AuditEvent.action == "request.refused")).all()
    assert len(denied) == 1 and denied[0].outcome == "denied"
    assert denied[0].actor_id == unverified.id
    # the officer's agency is suspended: unknown to intake
    officer = verified_officer(session, settings)
    agency = session.get(Agency, officer.account.user.agency_id)
    assert agency is not None
    agency.status = "suspended"
    session.commit()
    session.rollback()
    r = submit(client, officer)
    assert r.status_code in (403, 422)
    assert _count(session, LeRequest) == before
    assert _count(session, AuditEvent) > 0
    session.expire_all()
    refused = session.scalars(
        select(AuditEvent).where(AuditEvent.action == "request.refused")
    ).all()
    assert len(refused) == 2


def test_a_follow_up_links_to_its_parent_of_the_same_agency_only(
    client: TestClient, session: Session, settings: Settings, officer: Actor
) -> None:
    parent = submit(client, officer).json()
    follow = submit(client, officer, type="follow_up", parent_reference=parent["reference"])
    assert follow.status_code == 201, follow.text
    detail = client.get(f"/api/v1/requests/{follow.json()['id']}", headers=officer.headers).json()
    assert detail["parent_reference"] == parent["reference"]
    stranger = verified_officer(session, settings)
    r = submit(client, stranger, type="follow_up", parent_reference=parent["reference"])
    assert r.status_code == 422
    probe = session.scalars(select(AuditEvent).where(AuditEvent.action == "request.refused")).all()
    assert probe and probe[-1].actor_id == stranger.id


def test_the_lists_page_with_a_cursor_and_filter(
    client: TestClient, session: Session, settings: Settings, officer: Actor, investigator: Actor
) -> None:
    mine = [
        submit(client, officer, type=t).json()["reference"]
        for t in ("subpoena", "court_order", "subpoena")
    ]
    other = verified_officer(session, settings)
    theirs = submit(client, other, type="subpoena").json()["reference"]
    first = client.get("/api/v1/requests", params={"limit": 2}, headers=officer.headers).json()
    assert [i["reference"] for i in first["items"]] == mine[::-1][:2]
    rest = client.get(
        "/api/v1/requests",
        params={"limit": 2, "cursor": first["next_cursor"]},
        headers=officer.headers,
    ).json()
    assert [i["reference"] for i in rest["items"]] == [mine[0]] and rest["next_cursor"] is None
    staff = client.get(
        "/api/v1/requests", params={"type": "subpoena"}, headers=investigator.headers
    ).json()["items"]
    assert [i["reference"] for i in staff] == [theirs, mine[2], mine[0]]
    agency_id = other.account.user.agency_id
    only = client.get(
        "/api/v1/requests",
        params={"agency_id": agency_id, "country": "GB"},
        headers=investigator.headers,
    ).json()["items"]
    assert [i["reference"] for i in only] == [theirs]
    assert (
        client.get(
            "/api/v1/requests", params={"country": "FR"}, headers=investigator.headers
        ).json()["items"]
        == []
    )
    bad = client.get("/api/v1/requests", params={"cursor": "garbage!"}, headers=officer.headers)
    assert bad.status_code == 422
