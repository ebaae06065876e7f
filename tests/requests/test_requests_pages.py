"""The portal and the staff queue as pages: submit with CSRF, the acknowledgement, refused
input re-rendered with its reason, the queue's filters, workflow buttons, per-agency 404."""

from __future__ import annotations

import re

from fastapi import FastAPI
from fastapi.testclient import TestClient
from request_helpers import BTC_ADDR, Actor, pdf_bytes, submit, verified_officer
from sqlalchemy.orm import Session

from chainsleuth.core.config import Settings
from factories import csrf_from, login


def _new(client: TestClient, **fields: str) -> object:
    page = client.get("/portal/requests/new")
    assert page.status_code == 200
    data = {
        "csrf_token": csrf_from(page.text),
        "type": "information_request",
        "legal_basis": "Production order under s.345 POCA",
        "jurisdiction": "England and Wales",
        "case_reference": "MET-2026-1",
        "subjects": f"email: jane@example.org\nbtc: {BTC_ADDR}",
    }
    data.update(fields)
    return client.post(
        "/portal/requests/new",
        data=data,
        files={"document": ("order.pdf", pdf_bytes(), "application/pdf")},
        follow_redirects=False,
    )


def test_an_officer_submits_in_the_portal_and_staff_work_it(
    app: FastAPI, session: Session, settings: Settings, officer: Actor, investigator: Actor
) -> None:
    with TestClient(app) as portal:
        login(portal, officer.account)
        r = _new(portal)
        assert r.status_code == 303, r.text  # type: ignore[attr-defined]
        target = r.headers["location"]  # type: ignore[attr-defined]
        assert re.match(r"^/portal/requests/\d+\?ack=1$", target)
        page = portal.get(target)
        reference = re.search(r"LER-\d{4}-\d{6}", page.text)
        assert reference and "received and acknowledged" in page.text
        assert "jane@example.org" in page.text
        listing = portal.get("/portal/requests")
        assert reference.group(0) in listing.text
        # a bad subject: the form comes back with the row and the reason, and the values
        bad = _new(portal, subjects="btc: 1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN3", case_reference="X-9")
        assert bad.status_code == 422  # type: ignore[attr-defined]
        assert "Base58Check" in bad.text and 'value="X-9"' in bad.text  # type: ignore[attr-defined]
        rid = int(target.split("/")[3].split("?")[0])
        post = portal.post(
            f"/portal/requests/{rid}/messages",
            data={"csrf_token": csrf_from(page.text), "body": "Any update?"},
            follow_redirects=True,
        )
        assert "Any update?" in post.text

    with TestClient(app) as desk:
        login(desk, investigator.account)
        queue = desk.get("/requests")
        assert queue.status_code == 200 and reference.group(0) in queue.text
        empty = desk.get("/requests", params={"status": "closed"})
        assert reference.group(0) not in empty.text
        detail = desk.get(f"/requests/{rid}")
        assert "Any update?" in detail.text and "verified sender" in detail.text
        token = csrf_from(detail.text)
        moved = desk.post(
            f"/requests/{rid}/transition",
            data={"csrf_token": token, "status": "triage"},
            follow_redirects=True,
        )
        assert "moved to triage" in moved.text.lower()
        refused = desk.post(
            f"/requests/{rid}/transition",
            data={"csrf_token": token, "status": "delivered"},
            follow_redirects=True,
        )
        assert "cannot move to delivered" in refused.text
        # without the CSRF token nothing moves
        forged = desk.post(f"/requests/{rid}/transition", data={"status": "assigned"})
        assert forged.status_code == 403


def test_portal_pages_of_another_agency_are_404(
    app: FastAPI, client: TestClient, session: Session, settings: Settings, officer: Actor
) -> None:
    rid = submit(client, officer).json()["id"]
    other = verified_officer(session, settings)
    with TestClient(app) as portal:
        login(portal, other.account)
        assert portal.get(f"/portal/requests/{rid}").status_code == 404
        assert portal.get(f"/portal/requests/{rid}/documents/1").status_code == 404
        page = portal.get("/portal/requests")
        assert "No requests." in page.text
        token = csrf_from(page.text)
        r = portal.post(f"/portal/requests/{rid}/messages", data={"csrf_token": token, "body": "x"})
        assert r.status_code == 404
        # and the staff queue is not for officers
        assert portal.get("/requests").status_code == 403
        assert portal.get(f"/requests/{rid}").status_code == 403
