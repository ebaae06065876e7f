"""Service endpoints of the API: health, version and the interactive documentation."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel
from sqlalchemy import text

from chainsleuth import __version__
from chainsleuth.web.deps import SessionDep
from chainsleuth.web.templating import templates

router = APIRouter(tags=["service"])


class Health(BaseModel):
    status: str
    version: str
    database: str


@router.get("/health")
def health(db: SessionDep) -> Health:
    db.execute(text("SELECT 1"))
    return Health(status="ok", version=__version__, database=db.get_bind().dialect.name)


@router.get("/docs", include_in_schema=False)
def api_docs(request: Request) -> HTMLResponse:
    """Swagger UI, served from vendored files (nothing loads from a CDN)."""
    return templates.TemplateResponse(
        request, "api_docs.html", {"openapi_url": request.app.openapi_url}
    )
