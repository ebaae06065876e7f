"""The ASGI application: ``create_app()`` builds it; start-up work runs in ``lifespan``."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio.to_thread
from fastapi import Depends, FastAPI
from fastapi.staticfiles import StaticFiles

from chainsleuth import __version__
from chainsleuth.api import mount_routers
from chainsleuth.chain import service as chain_service
from chainsleuth.chain.access import ChainStoreAccess
from chainsleuth.core.config import Settings, load_settings
from chainsleuth.core.db import Database
from chainsleuth.core.errors import ChainsleuthError
from chainsleuth.risk import screening_lane, screening_warm
from chainsleuth.risk.screening_lane import ScreeningLane, threads_setting
from chainsleuth.web import errors
from chainsleuth.web.csrf import csrf_protect
from chainsleuth.web.middleware import BodyLimitMiddleware, SecurityHeadersMiddleware
from chainsleuth.web.ratelimit import RateLimits
from chainsleuth.web.templating import STATIC_DIR

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None, database: Database | None = None) -> FastAPI:
    """Build the app. Nothing touches the database until the lifespan starts."""
    settings = settings or load_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        db = database or Database.from_settings(settings)
        try:  # a refused start, too, closes the connections it opened
            db.check_migrated()  # refuses to serve an unmigrated database
            _ = settings.secret  # create the development secret before the first request
            app.state.db = db
            # the chain store: opened read-only on first use, handed over to loads
            app.state.chain_store = ChainStoreAccess(chain_service.store_root(settings))
            if screening_lane.enabled() and screening_warm.enabled():
                try:
                    await anyio.to_thread.run_sync(screening_warm.warm, app, threads_setting())
                except (ChainsleuthError, OSError) as exc:
                    log.warning("screening warm-up skipped (the first screenings warm): %s", exc)
            log.info("chainsleuth %s serving %s", __version__, settings.env)
            yield
        finally:
            if getattr(app.state, "chain_store", None) is not None:
                app.state.chain_store.close()
            if database is None:
                db.dispose()

    app = FastAPI(
        title="chainsleuth",
        version=__version__,
        description="Investigations platform: REST API. Authenticate with "
        "`Authorization: Bearer <personal API token>`.",
        openapi_url="/api/v1/openapi.json",
        docs_url=None,  # served by web.views from vendored Swagger UI (CSP: no CDN)
        redoc_url=None,
        lifespan=lifespan,
        dependencies=[Depends(csrf_protect)],
    )
    app.state.settings = settings
    app.state.rate_limits = RateLimits(settings)
    errors.install(app)
    # innermost: inside the body limit and the headers
    app.add_middleware(ScreeningLane, threads=threads_setting())
    app.add_middleware(SecurityHeadersMiddleware)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    mount_routers(app)
    return app
