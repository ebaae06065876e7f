"""The alert pages through the app: queue with filters, detail, the workflow's forms with
their refusals, bulk actions, figures and the watch list; officers and trainees kept out."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from chainsleuth.alerts import service as alerts
from chainsleuth.alerts.models import Alert, WatchlistEntry
from chainsleuth.auth.enums import Role
from chainsleuth.core.config import Settings
from factories import SYSTEM, csrf_from, login, make_user

ADDR = "0x" + "ef" * 20


def _alert(session: Session, reason: str, **kw: object) -> int:
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


def test_queue_detail_and_workflow_pages(
    client: TestClient, session: Session, settings: Settings
) -> None:
    account = make_user(session, settings, role=Role.INVESTIGATOR)
    first = _alert(session, "incoming from a mixer")
    second = _alert(session, "structuring below 10k", severity="low", source="typology")
    session.close()
    login(client, account)

    page = client.get("/alerts")
    assert page.status_code == 200
    assert "incoming from a mixer" in page.text and "structuring below 10k" in page.text
    filtered = client.get("/alerts", params={"severity": "low"})
    assert "structuring below 10k" in filtered.text and "incoming from a mixer" not in filtered.text
    assert client.get("/alerts", params={"since": "yesterday"}).status_code == 422

    detail = client.get(f"/alerts/{first}")
    assert detail.status_code == 200 and "incoming from a mixer" in detail.text
    token = csrf_from(detail.text)
    r = client.post(
        f"/alerts/{first}/comments",
        data={"body": "checked the customer", "csrf_token": token},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == f"/alerts/{first}?done=commented"
    # closing without a note: the page again, with the reason, and a 422
    r = client.post(
        f"/alerts/{first}/status",
        data={"status": "closed", "disposition": "false_positive", "csrf_token": token},
    )
    assert r.status_code == 422 and "needs a note" in r.text
    r = client.post(
        f"/alerts/{first}/status",
        data={
            "status": "closed",
            "disposition": "false_positive",
            "note": "salary",
            "csrf_token": token,
        },
        follow_redirects=False,
    )
    assert r.status_code == 303
    r = client.post(f"/alerts/{first}/status", data={"status": "in_review", "csrf_token": token})
    assert r.status_code == 409 and "re-open" in r.text
    closed = client.get(f"/alerts/{first}?done=closed")
    assert "The alert was closed." in closed.text and "checked the customer" in closed.text
    # the queue shows open alerts unless asked
    assert "incoming from a mixer" not in client.get("/alerts").text
    assert "incoming from a mixer" in client.get("/alerts", params={"status": "closed"}).text

    r = client.post(
        "/alerts/bulk",
        data={
            "ids": [str(second)],
            "action": "assign",
            "assignee": account.username,
            "back": "severity=low",
            "csrf_token": token,
        },
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/alerts?severity=low&done=bulk"
    r = client.post("/alerts/bulk", data={"action": "escalate", "csrf_token": token})
    assert r.status_code == 422 and "Select at least one alert" in r.text
    r = client.post("/alerts/bulk", data={"ids": [str(second)], "action": "assign"})
    assert r.status_code == 403  # no CSRF token

    stats = client.get("/alerts/stats")
    assert stats.status_code == 200 and "100.0%" in stats.text
    with Session(bind=session.get_bind()) as s:
        got = s.get(Alert, second)
        assert got is not None and got.assignee_id == account.user.id


def test_watchlist_page(client: TestClient, session: Session, settings: Settings) -> None:
    account = make_user(session, settings, role=Role.COMPLIANCE_ANALYST)
    session.close()
    login(client, account)
    page = client.get("/watchlist")
    assert page.status_code == 200 and "Nothing is under watch" in page.text
    token = csrf_from(page.text)
    r = client.post(
        "/watchlist",
        data={
            "chain": "eth",
            "kind": "address",
            "value": "0xbad",
            "reason": "x",
            "csrf_token": token,
        },
    )
    assert r.status_code == 422 and "0xbad" in r.text
    r = client.post(
        "/watchlist",
        data={
            "chain": "eth",
            "kind": "address",
            "value": ADDR,
            "reason": "scam",
            "csrf_token": token,
        },
        follow_redirects=False,
    )
    assert r.status_code == 303
    page = client.get("/watchlist?done=watched")
    assert ADDR in page.text and "The entry was put on the watch list." in page.text
    with Session(bind=session.get_bind()) as s:
        entry_id = s.scalars(select(WatchlistEntry.id)).one()
    r = client.post(
        f"/watchlist/{entry_id}/remove", data={"csrf_token": token}, follow_redirects=False
    )
    assert r.status_code == 303
    assert "Nothing is under watch" in client.get("/watchlist").text


def test_officers_and_trainees_are_kept_out(
    client: TestClient, session: Session, settings: Settings
) -> None:
    alert_id = _alert(session, "r")
    officer = make_user(session, settings, role=Role.LE_OFFICER)
    trainee = make_user(session, settings, role=Role.TRAINEE)
    reviewer = make_user(session, settings, role=Role.LEGAL_REVIEWER)
    session.close()
    for account in (officer, trainee):
        client.cookies.clear()
        login(client, account)
        for path in ("/alerts", f"/alerts/{alert_id}", "/alerts/stats", "/watchlist"):
            assert client.get(path).status_code == 403, (account.username, path)
        assert "/alerts" not in client.get("/").text
    client.cookies.clear()
    login(client, reviewer)
    page = client.get(f"/alerts/{alert_id}")
    assert page.status_code == 200 and "Close alert" not in page.text  # reads, may not work
    token = csrf_from(page.text)
    r = client.post(f"/alerts/{alert_id}/comments", data={"body": "x", "csrf_token": token})
    assert r.status_code == 403
