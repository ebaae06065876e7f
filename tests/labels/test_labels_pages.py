"""The labels page: look up an address (own and entity labels, conflicts), sources for staff."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from label_helpers import SDN_SAMPLE, import_file, needs_data
from sqlalchemy.orm import Session

from chainsleuth.auth.enums import Role
from chainsleuth.core.config import Settings
from chainsleuth.labels.enums import ImportFormat
from factories import login, make_user

pytestmark = needs_data
EVIL = "0x8589427373D6D84E98730D7795D8f6f8731FDA16"


@pytest.fixture
def backend() -> str:
    return "sqlite"  # the page adds nothing database-specific to what test_imports covers


def test_lookup_page(
    client: TestClient, session: Session, settings: Settings, tmp_path: Path
) -> None:
    import_file(session, ImportFormat.OFAC_XML, SDN_SAMPLE)
    csv = tmp_path / "feed.csv"
    csv.write_text(f"chain,address,category,label,tlp\neth,{EVIL},exchange,a wallet,CLEAR\n")
    import_file(session, ImportFormat.CSV, csv)
    assert client.get("/labels", follow_redirects=False).status_code == 303
    login(client, make_user(session, settings, role=Role.INVESTIGATOR))
    page = client.get("/labels", params={"chain": "eth", "address": EVIL})
    assert page.status_code == 200
    assert 'data-testid="labels-winner"' in page.text and "EVIL CORP" in page.text
    assert page.text.count('data-testid="labels-conflict"') == 2
    assert 'data-testid="labels-sources"' in page.text and "ofac-sdn" in page.text
    none = client.get(
        "/labels", params={"chain": "btc", "address": "1Lud76Q98VRHCUiyK7XUs7AgFofrqXeP78"}
    )
    assert 'data-testid="labels-none"' in none.text
    bad = client.get("/labels", params={"chain": "btc", "address": "nonsense"})
    assert bad.status_code == 422 and 'data-testid="labels-error"' in bad.text


def test_partners_see_no_sources_and_only_shared_labels(
    client: TestClient, session: Session, settings: Settings, tmp_path: Path
) -> None:
    csv = tmp_path / "private.csv"
    csv.write_text(f"chain,address,category,label\neth,{EVIL},scam,internal finding\n")
    import_file(session, ImportFormat.CSV, csv)  # AMBER by default
    login(client, make_user(session, settings, role=Role.PARTNER))
    page = client.get("/labels", params={"chain": "eth", "address": EVIL})
    assert page.status_code == 200
    assert "internal finding" not in page.text and 'data-testid="labels-none"' in page.text
    assert 'data-testid="labels-sources"' not in page.text
