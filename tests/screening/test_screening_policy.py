"""The risk policy: validation (a self-contradicting policy is refused with its reason),
versions (the default written on first use, every edit a new audited version), the API
and who may edit it."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from fastapi.testclient import TestClient
from screening_helpers import TokenFor
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from chainsleuth.audit.models import AuditEvent
from chainsleuth.auth.enums import Role
from chainsleuth.core.errors import InvalidInput
from chainsleuth.risk import policy_store
from chainsleuth.risk.riskpolicy import body_json, default_body, parse_body
from chainsleuth.risk.screening_models import RiskPolicy
from factories import SYSTEM


def _body() -> dict[str, Any]:
    return copy.deepcopy(body_json(default_body()))


def test_the_default_policy_is_consistent_and_names_the_label_categories() -> None:
    body = parse_body(_body())
    assert {"ransomware", "sanctioned", "darknet_market", "mixer", "scam", "stolen_funds",
            "terrorist_financing", "gambling", "exchange"} <= set(body.categories)  # fmt: skip
    assert body.actions["severe"] == "hold" and body.actions["low"] == "allow"
    assert body.typologies.peel_chain.min_hops == 5  # the detectors' parameters are embedded


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda b: b["categories"]["ransomware"]["levels"]["high"].update(direct_share=0.5),
         "high has a stricter direct_share (0.5) than severe (0.2)"),
        (lambda b: b["categories"]["mixer"].update(hops=0), "greater than or equal to 1"),
        (lambda b: b["categories"]["mixer"].update(hops=9), "less than or equal to 5"),
        (lambda b: b["categories"].update(unicorns={"hops": 2}), "unknown category 'unicorns'"),
        (lambda b: b["actions"].update(medium="hold"), "medium calls for hold, stricter than high"),
        (lambda b: b["categories"]["scam"]["levels"].update(low={}), "at least one threshold"),
        (lambda b: b["categories"]["scam"]["levels"]["low"].update(indirect_share=1.5),
         "less than or equal to 1"),
        (lambda b: b.update(colour="red"), "Extra inputs are not permitted"),
    ],
)  # fmt: skip
def test_a_self_contradicting_policy_is_refused_with_its_reason(change: Any, reason: str) -> None:
    body = _body()
    change(body)
    with pytest.raises(InvalidInput) as exc:
        parse_body(body)
    assert reason in exc.value.message


def test_versions_default_on_first_use_then_one_per_edit(session: Session) -> None:
    first = policy_store.active(session)
    assert first.version == 1 and first.row.created_by == "system" and first.row.is_active
    body = _body()
    body["categories"]["mixer"]["hops"] = 1
    saved = policy_store.save(session, actor=SYSTEM, body=body, comment="mixers: direct only")
    session.commit()
    assert saved.version == 2 and policy_store.active(session).version == 2
    rows = policy_store.versions(session)
    assert [(r.version, r.is_active) for r in rows] == [(2, True), (1, False)]
    assert policy_store.get(session, 1).body.categories["mixer"].hops == 2  # kept as it was
    diff = policy_store.version_diff(session, 1, 2)
    assert '-      "hops": 2' in diff and '+      "hops": 1' in diff
    events = session.scalars(
        select(AuditEvent).where(AuditEvent.object_type == "risk_policy").order_by(AuditEvent.seq)
    ).all()
    assert [e.action for e in events] == ["risk.policy.create", "risk.policy.update"]
    with pytest.raises(InvalidInput, match="nothing changed"):
        policy_store.save(session, actor=SYSTEM, body=body)


def test_policy_api(client: TestClient, session: Session, token_for: TokenFor) -> None:
    analyst = token_for(Role.COMPLIANCE_ANALYST)
    shown = client.get("/api/v1/risk/policy", headers=analyst)
    assert shown.status_code == 200 and shown.json()["version"] == 1
    body = shown.json()["body"]
    body["categories"]["gambling"]["levels"]["medium"]["direct_share"] = 0.4
    put = client.put(
        "/api/v1/risk/policy", json={"body": body, "comment": "gambling"}, headers=analyst
    )
    assert put.status_code == 200, put.text
    assert put.json()["version"] == 2 and put.json()["comment"] == "gambling"
    body["categories"]["gambling"]["levels"]["low"]["direct_share"] = 0.9  # above medium's
    bad = client.put("/api/v1/risk/policy", json={"body": body}, headers=analyst)
    assert bad.status_code == 422
    assert (
        "low has a stricter direct_share (0.9) than medium (0.4)" in bad.json()["error"]["message"]
    )
    versions = client.get("/api/v1/risk/policy/versions", headers=analyst).json()
    assert [v["version"] for v in versions] == [2, 1]
    old = client.get("/api/v1/risk/policy/versions/1", headers=analyst).json()
    assert old["body"]["categories"]["gambling"]["levels"]["medium"]["direct_share"] == 0.5
    diff = client.get("/api/v1/risk/policy/diff", params={"from": 1, "to": 2}, headers=analyst)
    assert '+          "direct_share": 0.4' in diff.json()["diff"]
    assert client.get("/api/v1/risk/policy/versions/9", headers=analyst).status_code == 404
    # an investigator reads but may not edit; an officer sees nothing of it
    investigator = token_for(Role.INVESTIGATOR)
    assert client.get("/api/v1/risk/policy", headers=investigator).status_code == 200
    refused = client.put("/api/v1/risk/policy", json={"body": body}, headers=investigator)
    assert refused.status_code == 403
    officer = token_for(Role.LE_OFFICER)
    assert client.get("/api/v1/risk/policy", headers=officer).status_code == 403
    assert session.scalar(select(func.count(RiskPolicy.id))) == 2
