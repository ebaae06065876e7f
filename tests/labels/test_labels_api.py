"""The labels API: permissions per role, TLP for users outside the exchange, 4xx with a
reason, manual labels with history, imports by upload."""

from __future__ import annotations

from fastapi.testclient import TestClient
from label_helpers import BILLION_LAUGHS, SDN_SAMPLE, needs_data
from sqlalchemy.orm import Session

from chainsleuth.audit.service import Actor
from chainsleuth.auth.enums import Permission, Role
from chainsleuth.core.config import Settings
from chainsleuth.labels import service as label_service
from chainsleuth.labels.enums import Category, Tlp
from chainsleuth.labels.schemas import LabelCreate
from factories import bearer, make_user
from security_helpers import make_token

A = "1Lud76Q98VRHCUiyK7XUs7AgFofrqXeP78"
R, W, IMP = Permission.LABELS_READ, Permission.LABELS_WRITE, Permission.LABELS_IMPORT


def token(session: Session, settings: Settings, role: Role, *scopes: Permission) -> dict[str, str]:
    account = make_user(session, settings, role=role, with_mfa=False)
    return bearer(make_token(session, account, *scopes))


def test_investigator_adds_a_label_and_reads_it_back(
    client: TestClient, session: Session, settings: Settings
) -> None:
    headers = token(session, settings, Role.INVESTIGATOR, R, W)
    body = {
        "chain": "btc",
        "address": A,
        "category": "ransomware",
        "label": "victim paid here",
        "confidence": "forensic",
        "note": "case 17",
    }
    created = client.post("/api/v1/labels", json=body, headers=headers)
    assert created.status_code == 201, created.text
    label = created.json()
    assert label["tlp"] == "AMBER" and label["confidence"] == 50
    assert label["source"]["name"] == "manual" and label["details"] == {"note": "case 17"}
    view = client.get(f"/api/v1/chains/btc/addresses/{A}/labels", headers=headers).json()
    assert view["winner"]["id"] == label["id"] and view["winner_from"] == "address"
    page = client.get("/api/v1/labels", params={"chain": "btc", "address": A}, headers=headers)
    assert page.json()["total"] == 1 and page.json()["items"][0]["id"] == label["id"]
    history = client.get(f"/api/v1/labels/{label['id']}/history", headers=headers).json()
    assert [h["action"] for h in history] == ["add"]
    retired = client.delete(f"/api/v1/labels/{label['id']}", headers=headers)
    assert retired.status_code == 200 and retired.json()["active"] is False
    assert (
        client.get("/api/v1/labels", params={"chain": "btc"}, headers=headers).json()["total"] == 0
    )
    everything = client.get(
        "/api/v1/labels", params={"chain": "btc", "include_retired": True}, headers=headers
    )
    assert everything.json()["total"] == 1


def test_tlp_least_privilege_for_partners_and_officers(
    client: TestClient, session: Session, settings: Settings
) -> None:
    staff = Actor(user_id=None, name="investigator")
    for tlp in Tlp:
        label_service.create_label(
            session,
            actor=staff,
            data=LabelCreate(
                chain="btc", address=A, category=Category.SCAM, label=f"{tlp}", tlp=tlp
            ),
        )
    partner_account = make_user(session, settings, role=Role.PARTNER, with_mfa=False)
    # a label the partner's own organisation shared with us, AMBER
    label_service.create_label(
        session,
        actor=Actor(user_id=None, name="partner-feed"),
        data=LabelCreate(
            chain="btc", address=A, category=Category.MIXER, label="theirs", tlp=Tlp.AMBER
        ),
        user=partner_account.user,
    )
    partner = bearer(make_token(session, partner_account, R))
    officer = token(session, settings, Role.LE_OFFICER, R)
    investigator = token(session, settings, Role.INVESTIGATOR, R)

    def seen(headers: dict[str, str]) -> list[str]:
        page = client.get("/api/v1/labels", params={"chain": "btc", "limit": 100}, headers=headers)
        assert page.status_code == 200, page.text
        return sorted(x["label"] for x in page.json()["items"])

    assert seen(investigator) == sorted(
        ["AMBER", "AMBER+STRICT", "CLEAR", "GREEN", "RED", "theirs"]
    )
    assert seen(partner) == ["CLEAR", "GREEN", "theirs"]
    assert seen(officer) == ["CLEAR", "GREEN"]
    view = client.get(f"/api/v1/chains/btc/addresses/{A}/labels", headers=officer).json()
    assert {x["tlp"] for x in view["own"]} == {"CLEAR", "GREEN"}
    red = next(
        x["id"]
        for x in client.get("/api/v1/labels", params={"chain": "btc"}, headers=investigator).json()[
            "items"
        ]
        if x["tlp"] == "RED"
    )
    hidden = client.get(f"/api/v1/labels/{red}", headers=partner)
    assert hidden.status_code == 404 and hidden.json()["error"]["code"] == "not_found"
    assert client.get(f"/api/v1/labels/{red}/history", headers=officer).status_code == 404
    assert client.get(f"/api/v1/labels/{red}", headers=investigator).status_code == 200
    # reading is all they may do
    body = {"chain": "btc", "address": A, "category": "scam", "label": "x"}
    for headers in (partner, officer):
        denied = client.post("/api/v1/labels", json=body, headers=headers)
        assert denied.status_code == 403 and "labels:write" in denied.json()["error"]["message"]


def test_bad_input_is_a_4xx_with_a_reason(
    client: TestClient, session: Session, settings: Settings
) -> None:
    headers = token(session, settings, Role.INVESTIGATOR, R, W)
    assert client.get("/api/v1/labels").status_code == 401
    bad = client.get("/api/v1/chains/btc/addresses/not-an-address/labels", headers=headers)
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_address"
    alone = client.get("/api/v1/labels", params={"address": A}, headers=headers)
    assert alone.status_code == 422 and "chain" in alone.json()["error"]["message"]
    assert (
        client.get("/api/v1/labels", params={"category": "hamster"}, headers=headers).status_code
        == 422
    )
    assert (
        client.get("/api/v1/labels", params={"chain": "doge"}, headers=headers).status_code == 422
    )
    assert client.get("/api/v1/labels/99999", headers=headers).status_code == 404
    assert client.get("/api/v1/labels/0", headers=headers).status_code == 422
    for body in (
        {"chain": "btc", "address": A, "category": "hamster", "label": "x"},
        {"chain": "btc", "address": A, "category": "scam", "label": "x", "tlp": "PURPLE"},
        {"chain": "btc", "address": A, "category": "scam", "label": "x", "confidence": 300},
        {"chain": "btc", "address": "1abc", "category": "scam", "label": "x"},
        {"chain": "btc", "address": A, "category": "scam", "label": "x", "actor": "nobody"},
    ):
        refused = client.post("/api/v1/labels", json=body, headers=headers)
        assert refused.status_code == 422, (body, refused.text)
        assert refused.json()["error"]["message"]


@needs_data
def test_imports_by_upload_need_the_import_permission(
    client: TestClient, session: Session, settings: Settings
) -> None:
    admin = token(session, settings, Role.ADMIN, R, IMP)
    investigator = token(session, settings, Role.INVESTIGATOR, R, W)
    files = {"file": (SDN_SAMPLE.name, SDN_SAMPLE.read_bytes(), "application/xml")}
    denied = client.post(
        "/api/v1/labels/imports", data={"kind": "ofac-xml"}, files=files, headers=investigator
    )
    assert denied.status_code == 403
    done = client.post(
        "/api/v1/labels/imports", data={"kind": "ofac-xml"}, files=files, headers=admin
    )
    assert done.status_code == 201, done.text
    assert done.json()["added"] == 5 and done.json()["skipped_by_reason"] == {
        "currency TRX": 1,
        "not_an_address": 1,
    }
    sources = client.get("/api/v1/labels/sources", headers=admin).json()
    assert [(s["name"], s["active_labels"]) for s in sources] == [("ofac-sdn", 5)]
    evil = {"file": ("evil.xml", BILLION_LAUGHS, "application/xml")}
    refused = client.post(
        "/api/v1/labels/imports", data={"kind": "ofac-xml"}, files=evil, headers=admin
    )
    assert refused.status_code == 422 and "refused" in refused.json()["error"]["message"]
    wrong = client.post(
        "/api/v1/labels/imports", data={"kind": "tarot"}, files=files, headers=admin
    )
    assert wrong.status_code == 422
