"""The cases API and pages: permissions, restricted cases 404 on every endpoint and page,
evidence upload and tamper refusal over HTTP, exports, saved views, bad input as 4xx."""

from __future__ import annotations

import hashlib
import io

import pytest
from cases_helpers import BTC_ADDR, trace_graph
from fastapi.testclient import TestClient
from pypdf import PdfReader
from sqlalchemy import select
from sqlalchemy.orm import Session

from chainsleuth.audit.models import AuditEvent
from chainsleuth.auth.enums import Permission, Role
from chainsleuth.cases.models import CaseEvidence
from chainsleuth.core.config import Settings
from factories import Account, bearer, csrf_from, login, make_user
from security_helpers import make_token

READ, WORK = Permission.CASES_READ, Permission.CASES_WORK


def _account(session: Session, settings: Settings, role: Role = Role.INVESTIGATOR) -> Account:
    return make_user(session, settings, role=role, with_mfa=False)


def _headers(session: Session, account: Account, *scopes: Permission) -> dict[str, str]:
    return bearer(make_token(session, account, *(scopes or (READ, WORK))))


def _open(client: TestClient, headers: dict[str, str], **kw: object) -> dict[str, object]:
    body = {"title": "Mule ring", "type": "money_mule", "severity": "high", **kw}
    r = client.post("/api/v1/cases", json=body, headers=headers)
    assert r.status_code == 201, r.text
    return dict(r.json())


def test_open_work_and_close_a_case_over_the_api(
    client: TestClient, session: Session, settings: Settings
) -> None:
    ivan = _account(session, settings)
    h = _headers(session, ivan)
    case = _open(client, h, links=[{"item_type": "address", "item_ref": f"btc:{BTC_ADDR}"}])
    cid = case["id"]
    assert case["owner"] == ivan.username and case["status"] == "open"

    r = client.post(
        f"/api/v1/cases/{cid}/tasks",
        json={"title": "Ask for KYC", "assignee": ivan.username, "due_date": "2020-01-01"},
        headers=h,
    )
    assert r.status_code == 201 and r.json()["overdue"] is True
    tid = r.json()["id"]
    r = client.patch(f"/api/v1/cases/{cid}/tasks/{tid}", json={"status": "done"}, headers=h)
    assert r.json()["status"] == "done" and r.json()["overdue"] is False
    assert (
        client.post(f"/api/v1/cases/{cid}/notes", json={"body": "first"}, headers=h).status_code
        == 201
    )
    r = client.post(
        f"/api/v1/cases/{cid}/snapshots", json={"title": "fwd", "graph": trace_graph()}, headers=h
    )
    assert r.status_code == 201 and r.json()["node_count"] == 4
    sid = r.json()["id"]
    assert (
        client.get(f"/api/v1/cases/{cid}/snapshots/{sid}", headers=h).json()["nodes"][0]["id"]
        == "btc:a0"
    )

    r = client.post(f"/api/v1/cases/{cid}/status", json={"status": "closed"}, headers=h)
    assert r.status_code == 422 and "needs a reason" in r.json()["error"]["message"]
    r = client.post(
        f"/api/v1/cases/{cid}/status",
        json={"status": "closed", "reason": "resolved", "note": "done"},
        headers=h,
    )
    assert r.status_code == 200 and r.json()["close_reason"] == "resolved"

    detail = client.get(f"/api/v1/cases/{cid}", headers=h).json()
    kinds = [e["kind"] for e in detail["timeline"]["items"]]
    assert kinds == [
        "closed",
        "snapshot_saved",
        "note_added",
        "task_updated",
        "task_added",
        "link_added",
        "opened",
    ]
    assert detail["links"][0]["item_ref"] == f"btc:{BTC_ADDR}"
    assert detail["links"][0]["url"] == f"/chains/btc/addresses/{BTC_ADDR}"
    page = client.get(f"/api/v1/cases/{cid}/timeline", params={"limit": 3}, headers=h).json()
    assert page["total"] == 7 and len(page["items"]) == 3
    rest = client.get(
        f"/api/v1/cases/{cid}/timeline",
        params={"limit": 10, "before": page["next_before"]},
        headers=h,
    ).json()
    assert [e["kind"] for e in rest["items"]] == kinds[3:] and rest["next_before"] is None


def test_bad_input_is_a_4xx_with_a_reason(
    client: TestClient, session: Session, settings: Settings
) -> None:
    h = _headers(session, _account(session, settings))
    assert (
        client.post("/api/v1/cases", json={"title": "", "type": "fraud"}, headers=h).status_code
        == 422
    )
    assert (
        client.post("/api/v1/cases", json={"title": "x", "type": "nope"}, headers=h).status_code
        == 422
    )
    r = client.post(
        "/api/v1/cases",
        json={
            "title": "x",
            "type": "fraud",
            "links": [{"item_type": "address", "item_ref": "btc:xyz"}],
        },
        headers=h,
    )
    assert r.status_code == 422 and "xyz" in r.json()["error"]["message"]
    assert client.get("/api/v1/cases", headers=h).json()["total"] == 0  # nothing half-written
    cid = _open(client, h)["id"]
    r = client.post(
        f"/api/v1/cases/{cid}/links", json={"item_type": "customer", "item_ref": "C404"}, headers=h
    )
    assert r.status_code == 422 and "no customer" in r.json()["error"]["message"]
    assert client.get("/api/v1/cases/0", headers=h).status_code == 422
    assert client.get("/api/v1/cases/12345", headers=h).status_code == 404
    r = client.post(
        f"/api/v1/cases/{cid}/links",
        json={"item_type": "address", "item_ref": f"btc:{BTC_ADDR}"},
        headers=h,
    )
    assert r.status_code == 201
    r = client.post(
        f"/api/v1/cases/{cid}/links",
        json={"item_type": "address", "item_ref": f"btc:{BTC_ADDR}"},
        headers=h,
    )
    assert r.status_code == 409


def test_permissions(client: TestClient, session: Session, settings: Settings) -> None:
    ivan = _account(session, settings)
    cid = _open(client, _headers(session, ivan))["id"]
    legal = _account(session, settings, Role.LEGAL_REVIEWER)  # cases:read only
    h = _headers(session, legal, READ)
    assert client.get(f"/api/v1/cases/{cid}", headers=h).status_code == 200
    assert (
        client.post(f"/api/v1/cases/{cid}/notes", json={"body": "x"}, headers=h).status_code == 403
    )
    officer = make_user(session, settings, role=Role.LE_OFFICER)
    login(client, officer)
    assert client.get("/api/v1/cases").status_code == 403
    assert client.get(f"/api/v1/cases/{cid}").status_code == 403
    assert client.get(f"/cases/{cid}").status_code == 403


def test_a_restricted_case_is_404_on_every_endpoint_and_page(
    client: TestClient, session: Session, settings: Settings
) -> None:
    ivan = _account(session, settings)
    h = _headers(session, ivan)
    cid = _open(client, h, restricted=True)["id"]
    snap = client.post(
        f"/api/v1/cases/{cid}/snapshots", json={"title": "g", "graph": trace_graph()}, headers=h
    ).json()["id"]
    ev = client.post(
        f"/api/v1/cases/{cid}/evidence", files={"file": ("a.txt", b"abc")}, headers=h
    ).json()["id"]
    admin = make_user(session, settings, role=Role.ADMIN)  # every permission, not a participant
    other = bearer(make_token(session, admin, *Permission))
    gets = [
        "",
        "/timeline",
        "/evidence",
        f"/evidence/{ev}",
        f"/evidence/{ev}/custody",
        f"/snapshots/{snap}",
        "/export?format=pdf",
        "/export?format=json",
    ]
    for path in gets:
        r = client.get(f"/api/v1/cases/{cid}{path}", headers=other)
        assert r.status_code == 404, (path, r.status_code)
        assert r.json()["error"]["message"] == f"no such case: {cid}"
    posts = [
        ("/notes", {"body": "x"}),
        ("/status", {"status": "in_progress"}),
        ("/links", {"item_type": "case", "item_ref": "1"}),
        ("/tasks", {"title": "t"}),
        ("/participants", {"username": admin.username}),
        ("/snapshots", {"title": "x", "graph": trace_graph()}),
    ]
    for path, body in posts:
        assert (
            client.post(f"/api/v1/cases/{cid}{path}", json=body, headers=other).status_code == 404
        )
    assert (
        client.patch(f"/api/v1/cases/{cid}", json={"title": "x"}, headers=other).status_code == 404
    )
    r = client.post(f"/api/v1/cases/{cid}/evidence", files={"file": ("b.txt", b"x")}, headers=other)
    assert r.status_code == 404
    assert client.get("/api/v1/cases", headers=other).json()["total"] == 0

    # the pages too
    login(client, admin)
    for path in [
        "",
        "?tab=timeline",
        "?tab=evidence",
        "?tab=graph",
        f"/evidence/{ev}",
        f"/evidence/{ev}/download",
        "/report.pdf",
        "/report.json",
    ]:
        assert client.get(f"/cases/{cid}{path}").status_code == 404, path
    token = csrf_from(client.get("/cases").text)
    for path in ["/notes", "/status", "/links", "/tasks", "/edit", "/participants", "/evidence"]:
        r = client.post(f"/cases/{cid}{path}", data={"csrf_token": token, "body": "x"})
        assert r.status_code == 404, path
    r = client.post(
        "/cases/add-link",
        data={
            "csrf_token": token,
            "case_id": str(cid),
            "item_type": "address",
            "item_ref": f"btc:{BTC_ADDR}",
        },
    )
    assert r.status_code == 404
    assert f"/cases/{cid}" not in client.get("/cases").text
    denials = session.scalars(select(AuditEvent).where(AuditEvent.action == "access.denied")).all()
    assert len(denials) >= len(gets)
    admin_name = admin.username
    session.rollback()  # SQLite: hold no transaction while the app writes

    # a participant sees it
    client.post(f"/api/v1/cases/{cid}/participants", json={"username": admin_name}, headers=h)
    assert client.get(f"/cases/{cid}").status_code == 200
    assert client.get(f"/api/v1/cases/{cid}", headers=other).status_code == 200


def test_evidence_upload_hash_download_and_tamper_refusal(
    client: TestClient, session: Session, settings: Settings
) -> None:
    h = _headers(session, _account(session, settings))
    cid = _open(client, h)["id"]
    content = b"%PDF-1.4 bank statement\n" * 500
    r = client.post(
        f"/api/v1/cases/{cid}/evidence",
        files={"file": ("stmt.pdf", content, "application/pdf")},
        data={"description": "from bank"},
        headers=h,
    )
    assert r.status_code == 201, r.text
    ev = r.json()
    assert ev["sha256"] == hashlib.sha256(content).hexdigest() and ev["size"] == len(content)
    r = client.get(f"/api/v1/cases/{cid}/evidence/{ev['id']}", headers=h)
    assert r.content == content and r.headers["x-content-sha256"] == ev["sha256"]

    r = client.get(f"/api/v1/cases/{cid}/export", params={"format": "pdf"}, headers=h)
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(r.content)).pages)
    assert "Mule ring" in text and ev["sha256"] in text
    bundle = client.get(f"/api/v1/cases/{cid}/export", params={"format": "json"}, headers=h).json()
    assert (
        bundle["case"]["title"] == "Mule ring" and bundle["evidence"][0]["sha256"] == ev["sha256"]
    )
    assert [e["kind"] for e in bundle["timeline"]][-2:] == ["evidence_added", "exported"]

    row = session.get(CaseEvidence, ev["id"])
    assert row is not None
    (settings.data_dir / row.storage_path).write_bytes(content.replace(b"bank", b"fake"))
    session.rollback()
    for fmt in ("pdf", "json"):
        r = client.get(f"/api/v1/cases/{cid}/export", params={"format": fmt}, headers=h)
        assert r.status_code == 409
        assert r.json()["error"]["code"] == "evidence_tampered"
        assert "stmt.pdf" in r.json()["error"]["message"]
    assert client.get(f"/api/v1/cases/{cid}/evidence/{ev['id']}", headers=h).status_code == 409
    custody = client.get(f"/api/v1/cases/{cid}/evidence/{ev['id']}/custody", headers=h).json()
    actions = [c["action"] for c in custody]
    assert actions[:2] == ["case.evidence_added", "case_evidence.download"]
    assert actions.count("case.evidence_tampered") == 3 and "case.exported" in actions
    assert all(
        c["outcome"] == "failure" for c in custody if c["action"] == "case.evidence_tampered"
    )


def test_saved_views_over_the_api_and_the_list_page(
    client: TestClient, session: Session, settings: Settings
) -> None:
    ivan = make_user(session, settings, role=Role.INVESTIGATOR)
    h = _headers(session, ivan)
    _open(client, h, title="Low fraud", type="fraud", severity="low")
    _open(client, h, title="Critical sanctions", type="sanctions", severity="critical")
    r = client.post(
        "/api/v1/case-views",
        json={"name": "crit", "filters": {"severity": ["critical"]}},
        headers=h,
    )
    assert r.status_code == 201
    vid = r.json()["id"]
    listed = client.get("/api/v1/cases", params={"view": vid}, headers=h).json()
    assert [c["title"] for c in listed["items"]] == ["Critical sanctions"]
    listed = client.get("/api/v1/cases", params={"type": "fraud"}, headers=h).json()
    assert [c["title"] for c in listed["items"]] == ["Low fraud"]

    login(client, ivan)
    # the filter form sends "any" as an empty value
    page = client.get("/cases", params={"q": "", "status": "", "type": "fraud", "severity": ""})
    assert page.status_code == 200 and "Low fraud" in page.text
    assert "Critical sanctions" not in page.text
    bad = client.get("/cases", params={"status": "bogus"})
    assert bad.status_code == 422 and "status" in bad.text
    page = client.get("/cases", params={"view": vid})
    assert (
        page.status_code == 200
        and "Critical sanctions" in page.text
        and "Low fraud" not in page.text
    )
    r = client.post(
        "/cases/views",
        data={
            "csrf_token": csrf_from(page.text),
            "name": "fraud",
            "filters_json": '{"type": ["fraud"]}',
        },
        follow_redirects=False,
    )
    assert r.status_code == 303
    page = client.get(r.headers["location"])
    assert "Low fraud" in page.text and "Critical sanctions" not in page.text


@pytest.mark.parametrize(
    "tab", ["summary", "timeline", "subjects", "graph", "evidence", "tasks", "links"]
)
def test_every_tab_renders(
    client: TestClient, session: Session, settings: Settings, tab: str
) -> None:
    ivan = make_user(session, settings, role=Role.INVESTIGATOR)
    h = _headers(session, ivan)
    cid = _open(client, h, links=[{"item_type": "address", "item_ref": f"btc:{BTC_ADDR}"}])["id"]
    client.post(
        f"/api/v1/cases/{cid}/snapshots", json={"title": "fwd", "graph": trace_graph()}, headers=h
    )
    client.post(f"/api/v1/cases/{cid}/evidence", files={"file": ("a.txt", b"abc")}, headers=h)
    client.post(f"/api/v1/cases/{cid}/tasks", json={"title": "Call bank"}, headers=h)
    login(client, ivan)
    r = client.get(f"/cases/{cid}", params={"tab": tab})
    assert r.status_code == 200
    expected = {
        "summary": "Mule ring",
        "timeline": "opened money mule case",
        "subjects": BTC_ADDR,
        "graph": "snapshot-data-",
        "evidence": hashlib.sha256(b"abc").hexdigest(),
        "tasks": "Call bank",
        "links": "Nothing linked yet",
    }
    assert expected[tab] in r.text
