"""CSRF protection for every unsafe request that rides on a cookie.

A signed-in browser session holds its own random token (synchronizer pattern); before
sign-in a random cookie is echoed by the form (double submit). Forms send it as the
``csrf_token`` field, htmx and scripts as the ``X-CSRF-Token`` header. Requests with an API
token (``Authorization: Bearer``), and JSON calls without a live session, carry no ambient
credential and need none (the route refuses them for want of one).
"""

from __future__ import annotations

from fastapi import Request

from chainsleuth.core.crypto import new_token, same
from chainsleuth.core.errors import CsrfFailed
from chainsleuth.web.deps import ANON_CSRF_COOKIE, WebSessionDep

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
HEADER = "x-csrf-token"
FIELD = "csrf_token"


def token_for(request: Request) -> str:
    """The token a page rendered now must embed (and remember a new anonymous one)."""
    web_session = getattr(request.state, "web_session", None)
    if web_session is not None:
        return str(web_session.csrf_token)
    token = request.cookies.get(ANON_CSRF_COOKIE) or getattr(request.state, "new_anon_csrf", None)
    if not token:
        token = new_token(nbytes=24)
        request.state.new_anon_csrf = token
    return str(token)


async def csrf_protect(request: Request, web_session: WebSessionDep) -> None:
    if request.method in SAFE_METHODS or request.headers.get("authorization"):
        return
    # media types are case-insensitive: "Application/X-WWW-Form-Urlencoded" is a form too
    is_form = request.headers.get("content-type", "").strip().lower().startswith(FORM_TYPES)
    if web_session is not None:
        expected = web_session.csrf_token
    elif is_form:  # sign-in forms: a forged login is an attack too
        expected = request.cookies.get(ANON_CSRF_COOKIE) or ""
    else:  # no live session: no ambient credential to abuse; the route itself asks for one
        return
    given = request.headers.get(HEADER)
    if given is None and is_form:
        value = (await request.form()).get(FIELD)
        given = value if isinstance(value, str) else None
    if not expected or not given or not same(expected, given):
        raise CsrfFailed("the form has expired or its security token is missing: reload the page")
