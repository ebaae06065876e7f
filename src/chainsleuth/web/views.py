"""Service endpoints of the API: health and version."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy import text

from chainsleuth import __version__
from chainsleuth.web.deps import SessionDep

router = APIRouter(tags=["service"])


class Health(BaseModel):
    status: str
    version: str
    database: str


@router.get("/health")
def health(db: SessionDep) -> Health:
    db.execute(text("SELECT 1"))
    return Health(status="ok", version=__version__, database=db.get_bind().dialect.name)
