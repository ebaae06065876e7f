"""A domain error's per-item details reach the JSON error body (a subject file's bad rows)."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient

from chainsleuth.core import errors as e
from chainsleuth.web import errors as web_errors


def test_details_of_a_domain_error_are_answered_with_it() -> None:
    app = FastAPI()
    web_errors.install(app)
    rows = [{"row": 3, "problem": "bad checksum"}, {"row": 7, "problem": "unknown chain"}]

    @app.get("/api/v1/boom")
    def boom() -> None:
        raise e.InvalidInput("2 rows of the subject file are not valid", details=rows)

    @app.get("/api/v1/plain")
    def plain() -> None:
        raise e.NotFound("no such thing")

    with TestClient(app) as client:
        answer = client.get("/api/v1/boom")
        assert answer.status_code == 422
        assert answer.json()["error"] == {
            "code": "invalid_input",
            "message": "2 rows of the subject file are not valid",
            "details": rows,
        }
        assert "details" not in client.get("/api/v1/plain").json()["error"]
