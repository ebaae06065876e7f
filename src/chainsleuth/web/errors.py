"""One table from domain errors to HTTP, and the handlers that answer with JSON or a page.

Security events among them (permission denials, CSRF failures, probes of another tenant's
objects) are written to the audit log here, in their own transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from chainsleuth.audit import service as audit
from chainsleuth.audit.enums import Outcome
from chainsleuth.audit.service import Actor
from chainsleuth.core import errors as e

log = logging.getLogger(__name__)

STATUS: list[tuple[type[e.ChainsleuthError], int]] = [
    (e.PayloadTooLarge, 413),
    (e.InvalidInput, 422),
    (e.AccountLocked, 423),
    (e.RateLimited, 429),
    (e.NotAuthenticated, 401),
    (e.MfaRequired, 401),
    (e.PermissionDenied, 403),
    (e.NotFound, 404),
    (e.Conflict, 409),
    (e.IntegrityViolation, 500),
    (e.DatabaseNotReady, 503),
    (e.ConfigurationError, 500),
]

SECURITY_EVENTS: dict[type[e.ChainsleuthError], str] = {
    e.CsrfFailed: "security.csrf_failed",
    e.PermissionDenied: "access.denied",
    e.NotVisible: "access.denied",
    e.RateLimited: "security.rate_limited",
}

_HTTP_MESSAGES = {
    404: "no such page",
    405: "this method is not allowed here",
    413: "the request body is too large",
}


def status_for(exc: e.ChainsleuthError) -> int:
    for cls, status in STATUS:
        if isinstance(exc, cls):
            return status
    return 400


def wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/") or "application/json" in request.headers.get(
        "accept", ""
    )


def error_response(
    request: Request,
    status: int,
    code: str,
    message: str,
    details: list[Any] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    if wants_json(request):
        body: dict[str, Any] = {"code": code, "message": message}
        if details:
            body["details"] = details
        return JSONResponse({"error": body}, status_code=status, headers=headers)
    from chainsleuth.web.templating import render

    response = render(
        request,
        "error.html",
        {"status": status, "code": code, "message": message},
        status_code=status,
    )
    response.headers.update(headers or {})
    return response


def _audit_security_event(request: Request, exc: e.ChainsleuthError, action: str) -> None:
    principal = getattr(request.state, "principal", None)
    # a CSRF failure is raised before the principal is known: name the session's user
    web_session = getattr(request.state, "web_session", None)
    ip = request.client.host if request.client else None
    if principal is not None:
        actor = principal.actor()
    elif web_session is not None:
        actor = Actor(user_id=web_session.user.id, name=web_session.user.username, ip=ip)
    else:
        actor = Actor.anonymous(ip=ip)
    try:
        with request.app.state.db.session() as session:
            audit.record(
                session,
                actor=actor,
                action=action,
                outcome=Outcome.DENIED,
                details={"method": request.method, "path": request.url.path, "reason": exc.message},
            )
            session.commit()
    except Exception:  # the refusal still stands; the failure to log is itself logged
        log.exception("could not write the audit entry for a security event")


def _redirect(request: Request, target: str) -> Response:
    if request.headers.get("hx-request"):
        return Response(status_code=204, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)


async def handle_domain_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, e.ChainsleuthError)
    for cls, action in SECURITY_EVENTS.items():
        if isinstance(exc, cls):
            _audit_security_event(request, exc, action)
            break
    if not wants_json(request):
        if isinstance(exc, e.MfaRequired):
            return _redirect(request, "/mfa")
        if type(exc) is e.NotAuthenticated:
            target = "/login?next=" + quote(request.url.path)
            if "expired" in exc.message:
                target += "&expired=1"
            return _redirect(request, target)
    headers = {"WWW-Authenticate": "Bearer"} if isinstance(exc, e.NotAuthenticated) else None
    if isinstance(exc, e.RateLimited):
        headers = {"Retry-After": str(exc.retry_after)}
    if isinstance(exc, e.IntegrityViolation | e.ConfigurationError):
        log.error("%s: %s", type(exc).__name__, exc.message)
    return error_response(
        request, status_for(exc), exc.code, exc.message, exc.details, headers=headers
    )


async def handle_validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    details = [
        {"field": ".".join(str(p) for p in err.get("loc", ())[1:]), "problem": err.get("msg")}
        for err in exc.errors()
    ]
    if details:
        first = details[0]
        message = f"{first['field'] or 'body'}: {first['problem']}"
    else:  # pragma: no cover
        message = "invalid input"
    return error_response(request, 422, "invalid_input", message, details)


async def handle_http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    message = _HTTP_MESSAGES.get(exc.status_code) or str(exc.detail)
    code = "payload_too_large" if exc.status_code == 413 else f"http_{exc.status_code}"
    return error_response(request, exc.status_code, code, message, headers=exc.headers)


async def handle_unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(
        request, 500, "internal_error", "something went wrong on our side; it has been logged"
    )


def install(app: FastAPI) -> None:
    app.add_exception_handler(e.ChainsleuthError, handle_domain_error)
    app.add_exception_handler(RequestValidationError, handle_validation_error)
    app.add_exception_handler(StarletteHTTPException, handle_http_error)
    app.add_exception_handler(Exception, handle_unexpected)
