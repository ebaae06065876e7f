from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from chainsleuth.auth.enums import Role
from chainsleuth.core.config import Settings
from factories import login, make_user


def test_admin_signs_in_with_mfa_and_sees_home(
    client: TestClient, session: Session, settings: Settings
) -> None:
    admin = make_user(session, settings, role=Role.ADMIN)
    login(client, admin)
    home = client.get("/")
    assert home.status_code == 200
    assert admin.user.full_name in home.text
    assert client.get("/api/v1/me").json()["username"] == admin.username
    assert client.get("/admin/users").status_code == 200
    assert client.get("/audit").status_code == 200
    assert client.get("/audit/verify").status_code == 200
    assert client.get("/account").status_code == 200
    assert client.get("/admin/orgs").status_code == 200


def test_api_docs_are_served_from_vendored_files(client: TestClient) -> None:
    page = client.get("/api/v1/docs")
    assert page.status_code == 200
    assert "/static/vendor/swagger-ui/swagger-ui-bundle.js" in page.text
    bundle = client.get("/static/vendor/swagger-ui/swagger-ui-bundle.js")
    assert bundle.status_code == 200
    assert "max-age" in bundle.headers["cache-control"]
    assert page.headers["cache-control"] == "no-store"
    schemes = client.get("/api/v1/openapi.json").json()["components"]["securitySchemes"]
    assert schemes["HTTPBearer"]["scheme"] == "bearer"
