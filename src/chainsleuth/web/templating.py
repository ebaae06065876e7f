"""Jinja2 templates with the context every page needs (user, navigation, CSRF token)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.templating import Jinja2Templates
from starlette.responses import HTMLResponse

from chainsleuth import __version__
from chainsleuth.auth.enums import Permission
from chainsleuth.web import csrf
from chainsleuth.web.deps import ANON_CSRF_COOKIE

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
STATIC_DIR = Path(__file__).resolve().parent / "static"

templates = Jinja2Templates(directory=str(TEMPLATES_DIR))


def _fmt_ts(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S UTC") if value else "-"


def _sentence(value: object) -> str:
    """A message as a sentence: first letter up (the rest untouched, unlike ``capitalize``),
    closed by a full stop unless it already ends in punctuation."""
    text = str(value).strip()
    if not text:
        return text
    text = text[0].upper() + text[1:]
    return text if text[-1] in ".!?…" else text + "."


templates.env.filters["ts"] = _fmt_ts
templates.env.filters["sentence"] = _sentence
templates.env.globals["Permission"] = Permission
templates.env.globals["version"] = __version__


#: (label, path, permission needed or None for any signed-in user, internal staff only)
NAV: list[tuple[str, str, Permission | None]] = [
    ("Home", "/", None),
    ("Users", "/admin/users", Permission.USERS_MANAGE),
    ("Organisations", "/admin/orgs", Permission.ORGS_MANAGE),
    ("Agencies", "/admin/agencies", Permission.AGENCIES_MANAGE),
    ("Officers", "/admin/officers", Permission.OFFICERS_APPROVE),
    ("Explorer", "/chains", Permission.CHAIN_READ),
    ("Trace", "/trace", Permission.CHAIN_READ),
    ("Labels", "/labels", Permission.LABELS_READ),
    ("Customers", "/customers", Permission.EXCHANGE_READ),
    ("Risk policy", "/risk/policy", Permission.RISK_READ),
    ("Alerts", "/alerts", Permission.ALERTS_READ),
    ("Cases", "/cases", Permission.CASES_READ),
    ("Freezes", "/freezes", Permission.FREEZES_READ),
    ("Requests", "/requests", Permission.REQUESTS_WORK),
    ("My requests", "/portal/requests", Permission.REQUESTS_SUBMIT),
    ("Request metrics", "/requests/stats", Permission.REQUESTS_STATS),
    ("Chain sync", "/admin/sync", Permission.USERS_MANAGE),
    ("Audit log", "/audit", Permission.AUDIT_READ),
    ("My account", "/account", None),
]


def render(
    request: Request, name: str, context: dict[str, Any] | None = None, *, status_code: int = 200
) -> HTMLResponse:
    principal = getattr(request.state, "principal", None)
    ctx: dict[str, Any] = {
        "request": request,
        "principal": principal,
        "user": principal.user if principal else None,
        "csrf_token": csrf.token_for(request),
        "nav": [
            (label, path)
            for label, path, perm in NAV
            if principal is not None and (perm is None or principal.can(perm))
        ],
        "settings": request.app.state.settings,
    }
    ctx.update(context or {})
    response = templates.TemplateResponse(request, name, ctx, status_code=status_code)
    new_anon = getattr(request.state, "new_anon_csrf", None)
    if new_anon:
        response.set_cookie(
            ANON_CSRF_COOKIE,
            new_anon,
            httponly=True,
            samesite="strict",
            secure=request.app.state.settings.cookie_secure,
        )
    return response
