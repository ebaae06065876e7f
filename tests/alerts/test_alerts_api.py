"""The alerts API and CLI: queue with filters and paging, the workflow over HTTP (4xx with a
reason for invalid transitions), bulk actions, figures, the watch list; who may do what."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from chainsleuth.alerts import service as alerts
from chainsleuth.alerts.models import Alert, WatchlistEntry
from chainsleuth.audit import service as audit
from chainsleuth.auth.enums import Permission, Role
from chainsleuth.cli import app as cli_app
from chainsleuth.core.config import Settings
from factories import SYSTEM, bearer, make_user
from security_helpers import make_token

ALL = list(Permission)
ADDR = "0x" + "cd" * 20


def _headers(session: Session, settings: Settings, role: Role) -> tuple[dict[str, str], str]:
    account = make_user(session, settings, role=role, with_mfa=False)
    scopes = [p for p in ALL if p in _role_perms(role)]
    headers = bearer(make_token(session, account, *scopes))
    session.commit()
    return headers, account.username


def _role_perms(role: Role) -> frozenset[Permission]:
    from chainsleuth.auth.enums import ROLE_PERMISSIONS

    return ROLE_PERMISSIONS[role]


def _alert(session: Session, reason: str = "r", **kw: object) -> int:
    values: dict[str, object] = {
        "actor": SYSTEM,
        "severity": "high",
        "subject_type": "address",
        "subject": ADDR,
        "chain": "eth",
        "reasons": [reason],
        "source": "screening",
    }
    values.update(kw)
    alert = alerts.raise_alert(session, **values)  # type: ignore[arg-type]
    session.commit()
    return alert.id


def test_investigator_works_an_alert_over_the_api(
    client: TestClient, session: Session, settings: Settings
) -> None:
    headers, me = _headers(session, settings, Role.INVESTIGATOR)
    alert_id = _alert(session)
    other = _alert(session, "other", severity="low", source="manual")

    page = client.get("/api/v1/alerts", headers=headers).json()
    assert page["total"] == 2 and [a["id"] for a in page["items"]] == [alert_id, other]
    page = client.get(
        "/api/v1/alerts", params={"severity": "low", "source": "manual"}, headers=headers
    ).json()
    assert [a["id"] for a in page["items"]] == [other]
    page = client.get("/api/v1/alerts", params={"limit": 1, "offset": 1}, headers=headers)
    assert [a["id"] for a in page.json()["items"]] == [other]
    bad = client.get("/api/v1/alerts", params={"severity": "urgent"}, headers=headers)
    assert bad.status_code == 422

    r = client.patch(
        f"/api/v1/alerts/{alert_id}", json={"assignee": me, "status": "in_review"}, headers=headers
    )
    assert r.status_code == 200, r.text
    assert r.json()["assignee"] == me and r.json()["status"] == "in_review"
    assert (
        client.get("/api/v1/alerts", params={"assignee": me}, headers=headers).json()["total"] == 1
    )

    r = client.post(
        f"/api/v1/alerts/{alert_id}/comments", json={"body": "looks like OTC"}, headers=headers
    )
    assert r.status_code == 201 and r.json()["author"] == me

    # closing without a disposition or a note: 422 with the reason, nothing changed
    r = client.patch(f"/api/v1/alerts/{alert_id}", json={"status": "closed"}, headers=headers)
    assert r.status_code == 422 and "disposition" in r.json()["error"]["message"]
    r = client.patch(
        f"/api/v1/alerts/{alert_id}",
        json={"status": "closed", "disposition": "false_positive"},
        headers=headers,
    )
    assert r.status_code == 422 and "note" in r.json()["error"]["message"]
    r = client.patch(
        f"/api/v1/alerts/{alert_id}", json={"assignee": "nobody-at-all"}, headers=headers
    )
    assert r.status_code == 422 and "nobody-at-all" in r.json()["error"]["message"]
    r = client.patch(
        f"/api/v1/alerts/{alert_id}",
        json={"status": "closed", "disposition": "false_positive", "note": "known desk"},
        headers=headers,
    )
    assert r.status_code == 200 and r.json()["disposition"] == "false_positive"
    r = client.patch(f"/api/v1/alerts/{alert_id}", json={"status": "in_review"}, headers=headers)
    assert r.status_code == 409 and "re-open" in r.json()["error"]["message"]

    detail = client.get(f"/api/v1/alerts/{alert_id}", headers=headers).json()
    assert [c["body"] for c in detail["comments"]] == ["looks like OTC"]
    assert [h["action"] for h in detail["history"]] == [
        "alert.raised",
        "alert.assigned",
        "alert.status_changed",
        "alert.commented",
        "alert.closed",
    ]
    assert all(h["actor"] == me for h in detail["history"][1:])
    assert client.get("/api/v1/alerts/999999", headers=headers).status_code == 404

    figures = client.get("/api/v1/alerts/stats", params={"days": 7}, headers=headers).json()
    assert figures["total"] == 2 and figures["closed"] == 1
    assert figures["false_positive_share"] == 1.0
    assert audit.verify(session).ok


def test_bulk_over_the_api_is_all_or_nothing(
    client: TestClient, session: Session, settings: Settings
) -> None:
    headers, me = _headers(session, settings, Role.COMPLIANCE_ANALYST)
    ids = [_alert(session, f"reason {i}") for i in range(3)]
    r = client.post(
        "/api/v1/alerts/bulk",
        json={"ids": ids, "action": "assign", "assignee": me},
        headers=headers,
    )
    assert r.status_code == 200 and r.json()["updated"] == ids
    r = client.post(
        "/api/v1/alerts/bulk", json={"ids": [*ids, 424242], "action": "escalate"}, headers=headers
    )
    assert r.status_code == 404
    session.expire_all()
    assert {a.status for a in session.scalars(select(Alert))} == {"new"}
    session.rollback()  # SQLite: one writer; the app writes next
    r = client.post("/api/v1/alerts/bulk", json={"ids": ids, "action": "close"}, headers=headers)
    assert r.status_code == 422
    r = client.post(
        "/api/v1/alerts/bulk",
        json={"ids": ids, "action": "close", "disposition": "duplicate", "note": "same case"},
        headers=headers,
    )
    assert r.status_code == 200
    session.expire_all()
    assert {a.disposition for a in session.scalars(select(Alert))} == {"duplicate"}
    session.rollback()
    r = client.post("/api/v1/alerts/bulk", json={"ids": ids, "action": "purge"}, headers=headers)
    assert r.status_code == 422


@pytest.mark.parametrize(
    ("role", "read", "work", "watch"),
    [
        (Role.LE_OFFICER, 403, 403, 403),
        (Role.PARTNER, 403, 403, 403),
        (Role.TRAINEE, 403, 403, 403),
        (Role.LEGAL_REVIEWER, 200, 403, 403),
        (Role.INVESTIGATOR, 200, 200, 200),
    ],
)
def test_who_may_read_and_work_alerts(
    client: TestClient,
    session: Session,
    settings: Settings,
    role: Role,
    read: int,
    work: int,
    watch: int,
) -> None:
    headers, _ = _headers(session, settings, role)
    alert_id = _alert(session)
    assert client.get("/api/v1/alerts", headers=headers).status_code == read
    assert client.get(f"/api/v1/alerts/{alert_id}", headers=headers).status_code == read
    r = client.patch(f"/api/v1/alerts/{alert_id}", json={"status": "in_review"}, headers=headers)
    assert r.status_code == work
    assert client.get("/api/v1/watchlist", headers=headers).status_code == watch
    session.expire_all()
    expected = "in_review" if work == 200 else "new"
    assert session.get(Alert, alert_id).status == expected  # type: ignore[union-attr]


def test_watchlist_api(client: TestClient, session: Session, settings: Settings) -> None:
    headers, me = _headers(session, settings, Role.INVESTIGATOR)
    r = client.post(
        "/api/v1/watchlist",
        json={"chain": "eth", "value": ADDR.upper().replace("0X", "0x"), "reason": "scam"},
        headers=headers,
    )
    assert r.status_code == 201, r.text
    entry = r.json()
    assert entry["value"] == ADDR and entry["added_by"] == me and entry["severity"] == "high"
    again = client.post(
        "/api/v1/watchlist", json={"chain": "eth", "value": ADDR, "reason": "x"}, headers=headers
    )
    assert again.status_code == 409
    bad = client.post(
        "/api/v1/watchlist", json={"chain": "eth", "value": "0x12", "reason": "x"}, headers=headers
    )
    assert bad.status_code == 422
    assert [e["id"] for e in client.get("/api/v1/watchlist", headers=headers).json()] == [
        entry["id"]
    ]
    assert client.get(f"/api/v1/watchlist/{entry['id']}/hits", headers=headers).json() == []
    r = client.delete(f"/api/v1/watchlist/{entry['id']}", headers=headers)
    assert r.status_code == 200 and r.json()["removed_by"] == me
    assert client.get("/api/v1/watchlist", headers=headers).json() == []
    assert client.delete(f"/api/v1/watchlist/{entry['id']}", headers=headers).status_code == 409


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, settings: Settings, db_url: str) -> None:
    monkeypatch.setenv("CHAINSLEUTH_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("CHAINSLEUTH_DATABASE_URL", db_url)
    monkeypatch.setenv("CHAINSLEUTH_SECRET_KEY", "cli-test-secret-" + "z" * 40)
    monkeypatch.setenv("COLUMNS", "200")


def test_cli(cli_env: None, session: Session, settings: Settings) -> None:
    worker = make_user(session, settings, with_mfa=False)
    alert_id = _alert(session)
    session.close()
    runner = CliRunner()

    def run(*args: str) -> tuple[int, str]:
        result = runner.invoke(cli_app, list(args))
        return result.exit_code, result.output

    code, out = run("alerts", "list", "--json")
    assert code == 0 and json.loads(out)["total"] == 1
    code, out = run("alerts", "assign", str(alert_id), worker.username)
    assert code == 0, out
    code, out = run("alerts", "close", str(alert_id), "--disposition", "meh", "--note", "n")
    assert code == 2 and "unknown disposition" in out and "Traceback" not in out
    code, out = run("alerts", "close", str(alert_id), "--disposition", "benign", "--note", "salary")
    assert code == 0, out
    code, out = run("alerts", "move", str(alert_id), "in_review")
    assert code == 2 and "re-open" in out
    code, out = run("alerts", "show", str(alert_id))
    detail = json.loads(out)
    assert detail["status"] == "closed" and detail["assignee"] == worker.username
    code, out = run("alerts", "stats", "--json")
    assert code == 0 and json.loads(out)["closed"] == 1
    code, out = run("alerts", "show", "999")
    assert code == 2 and "no alert 999" in out

    code, out = run("watch", "add", "eth", ADDR, "--reason", "scam wallet")
    assert code == 0, out
    code, out = run("watch", "add", "eth", "0xnope", "--reason", "x")
    assert code == 2
    code, out = run("watch", "list", "--json")
    entries = json.loads(out)
    assert [e["value"] for e in entries] == [ADDR]
    code, out = run("watch", "scan", "--chain", "eth")
    assert code == 2 and "no blocks" in out
    code, out = run("watch", "remove", str(entries[0]["id"]))
    assert code == 0
    with Session(bind=session.get_bind()) as s:
        assert s.scalars(select(WatchlistEntry)).one().removed_by is not None
