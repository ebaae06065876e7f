"""What is saved to a case or for its list: trace graphs (snapshots, as the /trace page
drew them) and each user's saved views of the case list."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from chainsleuth.audit import service as audit
from chainsleuth.audit.service import Actor
from chainsleuth.cases.enums import EventKind
from chainsleuth.cases.events import record_event
from chainsleuth.cases.models import Case, CaseSnapshot, CaseView
from chainsleuth.cases.schemas import CaseFilter
from chainsleuth.core.errors import Conflict, InvalidInput, NotFound
from chainsleuth.core.models import MAX_ROW_ID

#: a saved graph may hold at most this many nodes and edges
MAX_GRAPH_ITEMS = 20_000


# --- saved trace graphs -----------------------------------------------------------------


def _check_graph(graph: dict[str, Any]) -> tuple[int, int]:
    nodes, edges = graph.get("nodes"), graph.get("edges")
    if not isinstance(nodes, list) or not isinstance(edges, list):
        raise InvalidInput("the graph needs a list of nodes and a list of edges")
    if len(nodes) + len(edges) > MAX_GRAPH_ITEMS:
        raise InvalidInput(f"the graph is too large to save (over {MAX_GRAPH_ITEMS} items)")
    ids: set[str] = set()
    for n in nodes:
        if not isinstance(n, dict) or not isinstance(n.get("id"), str) or not n["id"]:
            raise InvalidInput("every node of the graph needs an id")
        ids.add(n["id"])
    for e in edges:
        if not isinstance(e, dict) or e.get("source") not in ids or e.get("target") not in ids:
            raise InvalidInput("every edge of the graph must join two of its nodes")
    return len(nodes), len(edges)


def save_snapshot(
    session: Session, *, actor: Actor, case: Case, title: str, graph: dict[str, Any]
) -> CaseSnapshot:
    node_count, edge_count = _check_graph(graph)
    digest = hashlib.sha256(audit.canonical_json(graph).encode()).hexdigest()
    snap = CaseSnapshot(
        case_id=case.id,
        title=title.strip() or "trace",
        graph=json.loads(json.dumps(graph)),
        node_count=node_count,
        edge_count=edge_count,
        sha256=digest,
        created_by_id=actor.user_id,
    )
    session.add(snap)
    session.flush()
    record_event(
        session,
        actor=actor,
        case=case,
        kind=EventKind.SNAPSHOT_SAVED,
        summary=f"saved graph {snap.title!r} ({node_count} nodes, {edge_count} edges)",
        details={"snapshot_id": snap.id, "sha256": digest},
    )
    session.commit()
    return snap


def snapshots(session: Session, case: Case) -> Sequence[CaseSnapshot]:
    return session.scalars(
        select(CaseSnapshot).where(CaseSnapshot.case_id == case.id).order_by(CaseSnapshot.id)
    ).all()


def get_snapshot(session: Session, case: Case, snapshot_id: int) -> CaseSnapshot:
    snap = session.get(CaseSnapshot, snapshot_id) if 1 <= snapshot_id <= MAX_ROW_ID else None
    if snap is None or snap.case_id != case.id:
        raise NotFound(f"case {case.id} has no saved graph {snapshot_id}")
    return snap


# --- saved views ------------------------------------------------------------------------


def views(session: Session, *, user_id: int) -> Sequence[CaseView]:
    return session.scalars(
        select(CaseView).where(CaseView.user_id == user_id).order_by(CaseView.name)
    ).all()


def save_view(session: Session, *, actor: Actor, name: str, flt: CaseFilter) -> CaseView:
    if actor.user_id is None:
        raise InvalidInput("saved views belong to a user")
    name = name.strip()
    if not name:
        raise InvalidInput("a saved view needs a name")
    exists = session.scalar(
        select(CaseView.id).where(CaseView.user_id == actor.user_id, CaseView.name == name)
    )
    if exists is not None:
        raise Conflict(f"you have a view named {name!r} already")
    view = CaseView(user_id=actor.user_id, name=name, filters=flt.model_dump(mode="json"))
    session.add(view)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="case_view.create",
        object_type="case_view",
        object_id=view.id,
        details={"name": name, "filters": view.filters},
    )
    session.commit()
    return view


def get_view(session: Session, *, actor: Actor, view_id: int) -> CaseView:
    view = session.get(CaseView, view_id) if 1 <= view_id <= MAX_ROW_ID else None
    if view is None or view.user_id != actor.user_id:
        raise NotFound(f"no such saved view: {view_id}")
    return view


def delete_view(session: Session, *, actor: Actor, view_id: int) -> None:
    view = get_view(session, actor=actor, view_id=view_id)
    session.delete(view)
    audit.record(
        session,
        actor=actor,
        action="case_view.delete",
        object_type="case_view",
        object_id=view_id,
        details={"name": view.name},
    )
    session.commit()
