"""HTML page of ingest: the administrator's sync status of each chain."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from chainsleuth.chain.views import ReaderDep
from chainsleuth.ingest.views import CanAdminister, sync_statuses
from chainsleuth.web.templating import render

router = APIRouter()


@router.get("/admin/sync")
def sync_page(request: Request, _: CanAdminister, reader: ReaderDep) -> Response:
    tips = {c.chain: c.tip_height for c in reader.stats().chains}
    return render(
        request,
        "ingest/status.html",
        {"chains": sync_statuses(request.app.state.settings, tips)},
    )
