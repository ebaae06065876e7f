"""Bad input and odd requests get clear 4xx answers in the right form; nothing is a 500."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from httpx2 import Response
from sqlalchemy.orm import Session

from chainsleuth.app import create_app
from chainsleuth.auth.enums import Permission, Role
from chainsleuth.core.config import Settings
from chainsleuth.core.db import Database
from factories import bearer, login, make_settings, make_user
from security_helpers import csrf_headers, make_token, reuse_password_hashes

SMALL_LIMIT = 1024
LEAKS = ("Traceback", 'File "', "sqlalchemy", "psycopg", "RuntimeError", "secret-detail")


@pytest.fixture(autouse=True)
def _fast_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    reuse_password_hashes(monkeypatch)


@pytest.fixture
def admin_token(session: Session, settings: Settings) -> dict[str, str]:
    admin = make_user(session, settings, role=Role.ADMIN, with_mfa=False)
    scopes = (Permission.PROFILE_READ, Permission.USERS_READ, Permission.USERS_MANAGE)
    return bearer(make_token(session, admin, *scopes, Permission.AUDIT_READ))


@pytest.fixture
def small_client(tmp_path: Path, db_url: str, database: Database) -> Iterator[TestClient]:
    app = create_app(make_settings(tmp_path, db_url, max_body_bytes=SMALL_LIMIT), database)
    with TestClient(app) as c:
        yield c


def json_error(response: Response, status: int) -> dict[str, object]:
    """The JSON error body ``{"error": {"code": ..., "message": ...}}``, checked."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["error"]
    assert isinstance(error["code"], str) and error["code"]
    assert isinstance(error["message"], str) and error["message"]
    assert not any(leak in response.text for leak in LEAKS)
    value: dict[str, object] = error
    return value


def html_error(response: Response, status: int) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("text/html")
    assert 'data-testid="error-message"' in response.text
    assert not any(leak in response.text for leak in LEAKS)
    return response.text


# --- bodies --------------------------------------------------------------------------------


def test_malformed_json_is_a_422(client: TestClient, admin_token: dict[str, str]) -> None:
    for body in (b'{"username": ', b"not json at all", b"{'single': 'quotes'}"):
        response = client.post(
            "/api/v1/users",
            content=body,
            headers={**admin_token, "Content-Type": "application/json"},
        )
        assert json_error(response, 422)["code"] == "invalid_input"


def test_wrong_types_are_422_with_the_fields_named(
    client: TestClient, admin_token: dict[str, str]
) -> None:
    response = client.post(
        "/api/v1/users",
        json={
            "username": 5,
            "email": "not-an-e-mail",
            "full_name": "X",
            "role": "emperor",
            "password": ["a", "list"],
            "agency_id": "one",
        },
        headers=admin_token,
    )
    error = json_error(response, 422)
    assert error["code"] == "invalid_input"
    fields = {d["field"] for d in error["details"]}  # type: ignore[attr-defined]
    assert {"username", "email", "role", "password", "agency_id"} <= fields

    huge_id = client.post(
        "/api/v1/users",
        json={
            "username": "huge",
            "email": "huge@example.org",
            "full_name": "Huge",
            "role": "le_officer",
            "password": "a-long-enough-passphrase",
            "agency_id": 10**30,
        },
        headers=admin_token,
    )
    assert "agency_id" in str(json_error(huge_id, 422)["details"])
    not_a_list = client.post("/api/v1/users", json=["a", "list"], headers=admin_token)
    json_error(not_a_list, 422)
    extra = client.post(
        "/api/v1/users",
        json={
            "username": "extra",
            "email": "extra@example.org",
            "full_name": "Extra",
            "role": "investigator",
            "password": "a-long-enough-passphrase",
            "is_admin": True,
        },
        headers=admin_token,
    )
    assert "is_admin" in str(json_error(extra, 422)["details"])

    # query and path parameters too
    json_error(client.get("/api/v1/users", params={"active": "perhaps"}, headers=admin_token), 422)
    json_error(client.get("/api/v1/users", params={"role": "emperor"}, headers=admin_token), 422)
    json_error(client.get("/api/v1/users/not-a-number", headers=admin_token), 422)
    json_error(client.get("/api/v1/audit/events", params={"limit": 0}, headers=admin_token), 422)
    json_error(client.get("/api/v1/users", params={"q": "x" * 101}, headers=admin_token), 422)


def test_wrong_types_in_a_form_get_an_html_page(
    client: TestClient, session: Session, settings: Settings
) -> None:
    trainee = make_user(session, settings, role=Role.TRAINEE, with_mfa=False)
    login(client, trainee)
    response = client.post(
        "/account/tokens",
        data={"name": "t", "scopes": ["profile:read"], "days": "many"},
        headers=csrf_headers(client),
    )
    html_error(response, 422)


def test_oversized_bodies_are_413(small_client: TestClient) -> None:
    big = b"x" * (SMALL_LIMIT + 1)
    declared = small_client.post(
        "/api/v1/users", content=big, headers={"Content-Type": "application/json"}
    )
    assert json_error(declared, 413)["code"] == "payload_too_large"
    form = small_client.post(
        "/login", content=big, headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert form.status_code == 413

    # a body just under the limit goes through to the route (which refuses it for want of
    # credentials, not for its size)
    fits = small_client.post(
        "/api/v1/tokens",
        content=b"{}" + b" " * (SMALL_LIMIT - 2),
        headers={"Content-Type": "application/json"},
    )
    assert fits.status_code == 401


def test_streamed_oversized_bodies_are_413_too(small_client: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(4):
            yield b" " * (SMALL_LIMIT // 2)

    streamed = small_client.post(
        "/api/v1/users", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert "content-length" not in {k.lower() for k in streamed.request.headers}
    assert json_error(streamed, 413)["code"] == "payload_too_large"

    page = small_client.get("/login")
    assert page.status_code == 200
    form = small_client.post(
        "/login",
        content=chunks(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    html_error(form, 413)


# --- routes and methods --------------------------------------------------------------------


def test_unknown_routes_are_404_in_the_callers_language(client: TestClient) -> None:
    assert json_error(client.get("/api/v1/no-such-thing"), 404)["code"] == "http_404"
    assert json_error(client.post("/api/v1/no-such-thing", json={}), 404)["code"] == "http_404"
    assert json_error(client.get("/api/v2/users"), 404)["code"] == "http_404"
    page = html_error(client.get("/no-such-page"), 404)
    assert "Not found" in page
    # a page path asked for JSON gets JSON
    asked = client.get("/no-such-page", headers={"Accept": "application/json"})
    json_error(asked, 404)


def test_wrong_methods_are_405(client: TestClient) -> None:
    api = client.delete("/api/v1/me")
    assert json_error(api, 405)["code"] == "http_405"
    assert "GET" in api.headers["allow"]
    page = client.put("/login", data={"username": "x"})
    html_error(page, 405)
    assert page.headers["allow"]


def test_bad_content_length_is_a_400(client: TestClient) -> None:
    response = client.get("/api/v1/health", headers={"Content-Length": "lots"})
    json_error(response, 400)


def test_unexpected_errors_are_500_without_a_traceback(
    settings: Settings, database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    app = create_app(settings, database)

    @app.get("/api/v1/boom")
    def api_boom() -> None:
        raise RuntimeError("secret-detail of the failure")

    @app.get("/boom")
    def page_boom() -> None:
        raise RuntimeError("secret-detail of the failure")

    with TestClient(app, raise_server_exceptions=False) as c:
        api = c.get("/api/v1/boom")
        assert json_error(api, 500) == {
            "code": "internal_error",
            "message": "something went wrong on our side; it has been logged",
        }
        page = html_error(c.get("/boom"), 500)
        assert "Something went wrong" in page
    # the details go to the log, not to the caller
    assert "secret-detail of the failure" in caplog.text


def test_none_of_the_bad_requests_is_a_500(client: TestClient, admin_token: dict[str, str]) -> None:
    """A sweep of odd requests: each gets a 4xx."""
    requests = [
        ("GET", "/api/v1/users/-1", None, None),
        ("GET", "/api/v1/users/99999999999999999999999", None, None),
        ("POST", "/api/v1/users", b"\xff\xfe\x00", "application/json"),
        ("POST", "/api/v1/users", b"", "application/json"),
        ("POST", "/api/v1/users", b"null", "application/json"),
        ("POST", "/api/v1/users", b"username=x", "application/x-www-form-urlencoded"),
        ("POST", "/api/v1/users/1/frobnicate", None, None),
        ("GET", "/api/v1/audit/events?since=yesterday", None, None),
        ("GET", "/api/v1/audit/events?before=0", None, None),
        ("DELETE", "/api/v1/tokens/abc", None, None),
        ("DELETE", "/api/v1/tokens/99999999999999999999999", None, None),
        ("POST", "/api/v1/users/99999999999999999999999/disable", None, None),
        ("GET", "/api/v1/audit/events?before=99999999999999999999999", None, None),
    ]
    for method, url, content, ctype in requests:
        headers = dict(admin_token)
        if ctype:
            headers["Content-Type"] = ctype
        response = client.request(method, url, content=content, headers=headers)
        assert 400 <= response.status_code < 500, (method, url, response.status_code)
        json_error(response, response.status_code)


# --- the published API description ---------------------------------------------------------


def test_openapi_lists_the_api_and_no_pages(client: TestClient) -> None:
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    paths = set(response.json()["paths"])
    assert {
        "/api/v1/me",
        "/api/v1/users",
        "/api/v1/users/{user_id}",
        "/api/v1/users/{user_id}/disable",
        "/api/v1/tokens",
        "/api/v1/tokens/{token_id}",
        "/api/v1/audit/events",
        "/api/v1/health",
    } <= paths
    assert all(path.startswith("/api/v1/") for path in paths), sorted(paths)
    for page in ("/", "/login", "/logout", "/mfa", "/mfa/enrol", "/account", "/admin/users"):
        assert page not in paths
    assert "bearer" in response.json()["info"]["description"].lower()


def test_security_headers_on_pages_and_errors(client: TestClient) -> None:
    for response in (client.get("/login"), client.get("/no-such-page"), client.get("/api/v1/x")):
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
        assert response.headers["cache-control"] == "no-store"
