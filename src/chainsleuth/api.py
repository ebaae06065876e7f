"""Mounts every domain's routers: the JSON API under /api/v1 and the HTML pages."""

from __future__ import annotations

import functools

from fastapi import APIRouter, Depends, FastAPI

from chainsleuth.alerts import pages as alert_pages
from chainsleuth.alerts import views as alert_views
from chainsleuth.audit import pages as audit_pages
from chainsleuth.audit import views as audit_views
from chainsleuth.auth import pages as auth_pages
from chainsleuth.auth import views as auth_views
from chainsleuth.cases import pages as case_pages
from chainsleuth.cases import views as case_views
from chainsleuth.chain import pages as chain_pages
from chainsleuth.chain import views as chain_views
from chainsleuth.entities import views as entity_views
from chainsleuth.exchange import pages as exchange_pages
from chainsleuth.exchange import views as exchange_views
from chainsleuth.freezes import pages as freeze_pages
from chainsleuth.freezes import views as freeze_views
from chainsleuth.ingest import pages as ingest_pages
from chainsleuth.ingest import views as ingest_views
from chainsleuth.labels import pages as label_pages
from chainsleuth.labels import views as label_views
from chainsleuth.officers import pages as officer_pages
from chainsleuth.officers import views as officer_views
from chainsleuth.orgs import pages as org_pages
from chainsleuth.orgs import views as org_views
from chainsleuth.packages import pages as package_pages
from chainsleuth.packages import views as package_views
from chainsleuth.requests import pages as request_pages
from chainsleuth.requests import views as request_views
from chainsleuth.risk import screening_pages as risk_pages
from chainsleuth.risk import screening_views
from chainsleuth.risk import views as risk_views
from chainsleuth.tracing import pages as tracing_pages
from chainsleuth.tracing import views as tracing_views
from chainsleuth.web import views as web_views
from chainsleuth.web.ratelimit import limit_api

API_PREFIX = "/api/v1"


@functools.cache
def api_router() -> APIRouter:
    """The JSON API under /api/v1, built once per process and included in every app.

    Including a router makes FastAPI analyse the dependencies of each of its routes; done
    afresh for every ``create_app()`` this cost about 0.8 CPU-s per app (and the tests
    build an app per test)."""
    api = APIRouter(prefix=API_PREFIX, dependencies=[Depends(limit_api)])
    # first: FastAPI matches a request against the routes in order (about 10 us each), and
    # screening is the API's hot path (a KYT service answers it for every transfer)
    api.include_router(screening_views.router)
    api.include_router(web_views.router)
    api.include_router(auth_views.router)
    api.include_router(org_views.router)
    api.include_router(audit_views.router)
    api.include_router(chain_views.router)
    api.include_router(ingest_views.router)
    api.include_router(entity_views.router)
    api.include_router(label_views.router)
    api.include_router(tracing_views.router)
    api.include_router(exchange_views.router)
    api.include_router(risk_views.router)
    api.include_router(alert_views.router)
    api.include_router(case_views.router)
    api.include_router(request_views.router)
    api.include_router(package_views.router)
    api.include_router(officer_views.router)
    api.include_router(freeze_views.router)
    return api


def mount_routers(app: FastAPI) -> None:
    app.include_router(api_router())

    for pages in (auth_pages.router, org_pages.router, audit_pages.router, chain_pages.router):
        app.include_router(pages, include_in_schema=False)
    app.include_router(tracing_pages.router, include_in_schema=False)
    app.include_router(exchange_pages.router, include_in_schema=False)
    app.include_router(ingest_pages.router, include_in_schema=False)
    app.include_router(label_pages.router, include_in_schema=False)
    app.include_router(request_pages.router, include_in_schema=False)
    app.include_router(alert_pages.router, include_in_schema=False)
    # before the requests pages: /requests/stats and /requests/{id}/response are ours
    app.include_router(package_pages.router, include_in_schema=False)
    app.include_router(officer_pages.router, include_in_schema=False)
    app.include_router(risk_pages.router, include_in_schema=False)
    app.include_router(case_pages.router, include_in_schema=False)
    app.include_router(freeze_pages.router, include_in_schema=False)
