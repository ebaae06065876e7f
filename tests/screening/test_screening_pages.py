"""The screenings page and the policy page's access rules (without a browser)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from screening_helpers import TokenFor, ransom_addresses
from sqlalchemy.orm import Session

from chainsleuth.auth.enums import Role
from chainsleuth.core.config import Settings
from factories import login, make_user


@pytest.fixture
def backend() -> str:
    return "sqlite"  # the pages add nothing database-specific


def test_screenings_page_lists_decisions(
    client: TestClient, session: Session, settings: Settings, world: Path, world_data: Path,
    world_labels: None, token_for: TokenFor,
) -> None:  # fmt: skip
    headers = token_for(Role.INVESTIGATOR)
    body = {"chain": "btc", "direction": "withdrawal", "address": ransom_addresses(world)[0],
            "amount": 5000}  # fmt: skip
    made = client.post("/api/v1/screenings", json=body, headers=headers)
    assert made.status_code == 201, made.text
    account = make_user(session, settings, role=Role.INVESTIGATOR)
    session.commit()
    login(client, account)
    page = client.get("/risk/screenings", params={"action": "hold"})
    assert page.status_code == 200 and 'data-testid="screenings-table"' in page.text
    assert ransom_addresses(world)[0] in page.text and "hold" in page.text
    assert "ransomware" in page.text
    assert client.get("/risk/screenings", params={"action": "maybe"}).status_code == 422
    policy = client.get("/risk/policy")
    assert policy.status_code == 200 and 'data-testid="policy-save"' not in policy.text


def test_officers_cannot_open_the_policy_page(
    client: TestClient, session: Session, settings: Settings
) -> None:
    login(client, make_user(session, settings, role=Role.LE_OFFICER))
    assert client.get("/risk/policy").status_code == 403
    assert client.get("/risk/screenings").status_code == 403
