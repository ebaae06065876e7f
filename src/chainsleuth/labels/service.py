"""Attribution: what is known about an address, by whom, with what confidence.

Other domains use ``labels_for``, ``addresses_with_categories`` and ``resolve`` (with
``attribution`` for one address and its entity's members). The resolver does not know how
entities are built: the caller passes the entity's member addresses, or its labels.

Who sees what (TLP, least privilege): exchange staff (internal roles) see every label;
anyone else (an officer, a partner, a trainee) sees TLP:CLEAR and TLP:GREEN labels, AMBER
and AMBER+STRICT ones that their own organisation or agency added, and RED ones only if
they added them themselves. ``viewer=None`` means the system itself (no restriction).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import OrderedDict, defaultdict
from collections.abc import Iterable, Sequence
from typing import Any, Literal, Protocol

from sqlalchemy import ColumnElement, ScalarSelect, Select, and_, func, or_, select
from sqlalchemy.orm import Session

from chainsleuth.audit import service as audit
from chainsleuth.audit.service import Actor
from chainsleuth.auth.enums import Role
from chainsleuth.auth.models import User
from chainsleuth.chain.addresses import canonical_address
from chainsleuth.chain.chains import get_chain
from chainsleuth.core.db import database_key
from chainsleuth.core.errors import InvalidInput, NotFound, NotVisible
from chainsleuth.core.models import utcnow
from chainsleuth.labels.enums import Category, HistoryAction, Scope, SourceKind, Tlp
from chainsleuth.labels.importers.common import confidence_of
from chainsleuth.labels.imports import chunks, import_parsed
from chainsleuth.labels.models import (
    VERSION_MEMO,
    VERSION_ROW,
    Label,
    LabelActor,
    LabelHistory,
    LabelSource,
    LabelsVersion,
)
from chainsleuth.labels.schemas import (
    CategoryConflict,
    HistoryRead,
    LabelCreate,
    LabelRead,
    ResolvedAttribution,
    SourceRead,
)

__all__ = [
    "active_categories",
    "addresses_with_categories",
    "attribution",
    "create_label",
    "import_parsed",
    "labels_for",
    "resolve",
]

MANUAL_SOURCE = "manual"
OPEN_TLP = (Tlp.CLEAR.value, Tlp.GREEN.value)
AMBER_TLP = (Tlp.AMBER.value, Tlp.AMBER_STRICT.value)
MAX_PAGE = 500


class Viewer(Protocol):
    """Whose eyes labels are shown to: a ``User``, or an API token's ``Bearer``."""

    @property
    def id(self) -> int: ...
    @property
    def role(self) -> Role: ...
    @property
    def organisation_id(self) -> int | None: ...
    @property
    def agency_id(self) -> int | None: ...


def tlp_condition(viewer: Viewer | None) -> ColumnElement[bool] | None:
    """The labels ``viewer`` may see; None when unrestricted (staff, the system)."""
    if viewer is None or viewer.role.is_internal:
        return None
    clauses: list[ColumnElement[bool]] = [Label.tlp.in_(OPEN_TLP), Label.created_by_id == viewer.id]
    if viewer.organisation_id is not None:
        clauses.append(
            and_(Label.organisation_id == viewer.organisation_id, Label.tlp.in_(AMBER_TLP))
        )
    if viewer.agency_id is not None:
        clauses.append(and_(Label.agency_id == viewer.agency_id, Label.tlp.in_(AMBER_TLP)))
    return or_(*clauses)


def can_see(viewer: Viewer | None, label: Label) -> bool:
    if viewer is None or viewer.role.is_internal:
        return True
    if label.tlp in OPEN_TLP or label.created_by_id == viewer.id:
        return True
    if label.tlp in AMBER_TLP:
        if viewer.organisation_id is not None and label.organisation_id == viewer.organisation_id:
            return True
        if viewer.agency_id is not None and label.agency_id == viewer.agency_id:
            return True
    return False


def _visible(stmt: Select[Any], viewer: Viewer | None) -> Select[Any]:
    condition = tlp_condition(viewer)
    return stmt if condition is None else stmt.where(condition)


def to_read(label: Label) -> LabelRead:
    return LabelRead.model_validate(label)


def _order(stmt: Select[Any]) -> Select[Any]:
    return stmt.order_by(Label.confidence.desc(), Label.last_seen.desc(), Label.id)


def canonical(chain: str, address: str) -> str:
    return canonical_address(get_chain(chain).id, address)


def labels_for(
    session: Session,
    *,
    chain: str,
    addresses: Sequence[str],
    viewer: Viewer | None = None,
    include_retired: bool = False,
) -> dict[str, list[LabelRead]]:
    """The labels of each address (canonical form -> labels, best first; [] when none).

    Raises InvalidInput for an unknown chain or a malformed address."""
    chain_id = get_chain(chain).id
    wanted = list(dict.fromkeys(canonical_address(chain_id, a) for a in addresses))
    out: dict[str, list[LabelRead]] = {a: [] for a in wanted}
    for part in chunks(wanted):
        stmt = select(Label).where(Label.chain == chain_id, Label.address.in_(part))
        if not include_retired:
            stmt = stmt.where(Label.active.is_(True))
        for label in session.scalars(_order(_visible(stmt, viewer))):
            out[label.address].append(to_read(label))
    return out


#: labels of single addresses kept between requests, per labels version (``labels_of``)
_KEPT_LABELS = 200_000
_LABELS_KEPT: OrderedDict[tuple[Any, ...], list[LabelRead]] = OrderedDict()
#: per database and chain: (labels version, every address with an active label)
_LABELLED: dict[tuple[str, str], tuple[int, frozenset[str]]] = {}
_KEPT_LOCK = threading.Lock()


def _visibility(viewer: Viewer | None) -> tuple[int | None, ...] | None:
    """What decides which labels ``viewer`` sees (see ``tlp_condition``)."""
    if viewer is None or viewer.role.is_internal:
        return None
    return (viewer.id, viewer.organisation_id, viewer.agency_id)


def labels_of(
    session: Session, *, chain: str, address: str, viewer: Viewer | None = None
) -> list[LabelRead]:
    """``labels_for(session, chain=chain, addresses=[address], viewer=viewer)[address]``,
    kept between calls for the current ``labels_version``: an address without any active
    label costs no query (the chain's labelled addresses are read once per version), a
    labelled one a query the first time. The hot path of screening and its counterparties."""
    chain_id = get_chain(chain).id
    text = canonical_address(chain_id, address)
    version = labels_version(session, chain=chain_id)
    db = database_key(session)
    with _KEPT_LOCK:
        labelled = _LABELLED.get((db, chain_id))
    if labelled is None or labelled[0] != version:
        stmt = select(Label.address).where(Label.chain == chain_id, Label.active.is_(True))
        labelled = (version, frozenset(session.scalars(stmt.distinct())))
        with _KEPT_LOCK:
            _LABELLED[(db, chain_id)] = labelled
    if text not in labelled[1]:
        return []
    key = (db, version, _visibility(viewer), chain_id, text)
    with _KEPT_LOCK:
        hit = _LABELS_KEPT.get(key)
        if hit is not None:
            _LABELS_KEPT.move_to_end(key)
            return list(hit)
    found = labels_for(session, chain=chain_id, addresses=[text], viewer=viewer)[text]
    with _KEPT_LOCK:
        _LABELS_KEPT[key] = found
        while len(_LABELS_KEPT) > _KEPT_LABELS:
            _LABELS_KEPT.popitem(last=False)
    return list(found)


def entity_labels(
    session: Session,
    *,
    chain: str,
    members: Iterable[str],
    exclude: str | None = None,
    viewer: Viewer | None = None,
) -> list[LabelRead]:
    """The entity-scoped labels anchored on any of an entity's member addresses."""
    chain_id = get_chain(chain).id
    wanted = list(dict.fromkeys(canonical_address(chain_id, m) for m in members))
    wanted = [a for a in wanted if a != exclude]
    found: list[LabelRead] = []
    for part in chunks(wanted):
        stmt = select(Label).where(
            Label.chain == chain_id,
            Label.address.in_(part),
            Label.scope == Scope.ENTITY.value,
            Label.active.is_(True),
        )
        found += [to_read(x) for x in session.scalars(_order(_visible(stmt, viewer)))]
    return _ranked(found)


def addresses_with_categories(
    session: Session, *, chain: str, categories: Iterable[Category | str]
) -> list[str]:
    """Every address on ``chain`` with an active label of one of ``categories`` (sorted)."""
    chain_id = get_chain(chain).id
    wanted = [str(c) for c in categories]
    if not wanted:
        return []
    stmt = (
        select(Label.address)
        .where(Label.chain == chain_id, Label.category.in_(wanted), Label.active.is_(True))
        .distinct()
        .order_by(Label.address)
    )
    return list(session.scalars(stmt))


#: how long one transaction may reuse its reading of ``labels_version`` (seconds)
VERSION_REUSE_S = 1.0


def labels_version(session: Session, *, chain: str) -> int:
    """Changes whenever a label or an actor is added, changed or retired (for caches):
    the counter every such write raises in its transaction (``LabelsVersion``). The same
    for every chain (``chain`` is checked).

    Read once per transaction (every screening asks, several times): the reading is kept
    with its transaction for ``VERSION_REUSE_S`` at most, and forgotten when the session
    raises the counter itself (``models._bump``), so that a change is seen at once by the
    transaction that made it and by the next one."""
    get_chain(chain)
    memo = session.info.get(VERSION_MEMO)
    now = time.monotonic()
    tx = session.get_transaction()
    if memo is not None and memo[0] is tx and now - memo[1] <= VERSION_REUSE_S:
        return int(memo[2])
    found = session.execute(
        select(LabelsVersion.value).where(LabelsVersion.id == VERSION_ROW)
    ).scalar()
    version = int(found or 0)
    remember_version(session, version)  # the query began the transaction, when none was open
    return version


def version_column() -> ScalarSelect[Any]:
    """The counter ``labels_version`` reads, as a scalar subquery for a hot path's query
    (give what it read to ``remember_version``)."""
    return select(LabelsVersion.value).where(LabelsVersion.id == VERSION_ROW).scalar_subquery()


def remember_version(session: Session, value: int | None) -> None:
    """Keep a reading of the counter (``version_column``, read in the session's open
    transaction) as ``labels_version``'s own reading."""
    tx = session.get_transaction()
    if tx is not None:
        session.info[VERSION_MEMO] = (tx, time.monotonic(), int(value or 0))


def active_categories(session: Session, *, chain: str) -> list[tuple[str, str, int]]:
    """(address, category, confidence) of every active label on ``chain``, best first per
    address (highest confidence), for bulk jobs (tracing, exposure) that run as the system."""
    chain_id = get_chain(chain).id
    stmt = (
        select(Label.address, Label.category, Label.confidence)
        .where(Label.chain == chain_id, Label.active.is_(True))
        .order_by(Label.address, Label.confidence.desc(), Label.id)
    )
    return [(a, c, int(n)) for a, c, n in session.execute(stmt)]


def _rank_key(label: LabelRead) -> tuple[int, float, int]:
    seen = label.last_seen or label.first_seen
    return (-label.confidence, -(seen.timestamp() if seen else 0.0), label.id)


def _ranked(labels: Iterable[LabelRead]) -> list[LabelRead]:
    return sorted(labels, key=_rank_key)


def resolve(own: list[LabelRead], entity: list[LabelRead]) -> ResolvedAttribution:
    """The address's own labels win over its entity's; within one side the highest
    confidence wins, then the most recently seen. Every category the labels give is kept,
    and two or more of them are reported as conflicts, never hidden."""
    own_active = _ranked(x for x in own if x.active)
    entity_active = _ranked(x for x in entity if x.active and x.id not in {o.id for o in own})
    winner: LabelRead | None = None
    side: Literal["address", "entity"] | None = None
    if own_active:
        winner, side = own_active[0], "address"
    elif entity_active:
        winner, side = entity_active[0], "entity"
    by_category: dict[Category, list[LabelRead]] = defaultdict(list)
    for label in own_active + entity_active:
        by_category[label.category].append(label)
    categories = sorted(by_category, key=lambda c: _rank_key(by_category[c][0]))
    conflicts: list[CategoryConflict] = []
    if len(categories) > 1:
        conflicts = [
            CategoryConflict(
                category=c,
                label_ids=[x.id for x in by_category[c]],
                sources=sorted({x.source.name for x in by_category[c]}),
            )
            for c in categories
        ]
    return ResolvedAttribution(
        winner=winner,
        winner_from=side,
        own=own_active,
        entity=entity_active,
        categories=categories,
        conflicts=conflicts,
    )


def attribution(
    session: Session,
    *,
    chain: str,
    address: str,
    members: Sequence[str] | None = None,
    viewer: Viewer | None = None,
) -> ResolvedAttribution:
    """One address resolved against its own labels and, given the entity's member
    addresses, the entity-scoped labels on them."""
    address = canonical(chain, address)
    own = labels_for(session, chain=chain, addresses=[address], viewer=viewer)[address]
    entity = (
        entity_labels(session, chain=chain, members=members, exclude=address, viewer=viewer)
        if members
        else []
    )
    return resolve(own, entity)


def search(
    session: Session,
    *,
    viewer: Viewer | None,
    chain: str | None = None,
    address: str | None = None,
    category: Category | None = None,
    source: str | None = None,
    include_retired: bool = False,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[LabelRead], int]:
    stmt = select(Label)
    if address is not None and chain is None:
        raise InvalidInput("give the chain with the address")
    if chain is not None:
        stmt = stmt.where(Label.chain == get_chain(chain).id)
    if address is not None and chain is not None:
        stmt = stmt.where(Label.address == canonical(chain, address))
    if category is not None:
        stmt = stmt.where(Label.category == str(category))
    if source is not None:
        stmt = stmt.join(LabelSource, Label.source_id == LabelSource.id).where(
            LabelSource.name == source
        )
    if not include_retired:
        stmt = stmt.where(Label.active.is_(True))
    stmt = _visible(stmt, viewer)
    total = int(session.scalar(select(func.count()).select_from(stmt.subquery())) or 0)
    rows = session.scalars(stmt.order_by(Label.id).limit(min(limit, MAX_PAGE)).offset(offset))
    return [to_read(x) for x in rows], total


def get_label(session: Session, *, label_id: int, viewer: Viewer | None) -> Label:
    label = session.get(Label, label_id)
    if label is None:
        raise NotFound(f"no label with id {label_id}")
    if not can_see(viewer, label):
        raise NotVisible(f"no label with id {label_id}")
    return label


def history(session: Session, *, label_id: int, viewer: Viewer | None) -> list[HistoryRead]:
    get_label(session, label_id=label_id, viewer=viewer)
    rows = session.scalars(
        select(LabelHistory).where(LabelHistory.label_id == label_id).order_by(LabelHistory.id)
    )
    return [HistoryRead.model_validate(r) for r in rows]


def sources(session: Session) -> list[SourceRead]:
    counts: dict[tuple[int, bool], int] = {
        (sid, bool(active)): n
        for sid, active, n in session.execute(
            select(Label.source_id, Label.active, func.count()).group_by(
                Label.source_id, Label.active
            )
        )
    }
    out = []
    for s in session.scalars(select(LabelSource).order_by(LabelSource.name)):
        read = SourceRead.model_validate(s)
        read.active_labels = counts.get((s.id, True), 0)
        read.retired_labels = counts.get((s.id, False), 0)
        out.append(read)
    return out


def _manual_source(session: Session) -> LabelSource:
    source = session.scalar(select(LabelSource).where(LabelSource.name == MANUAL_SOURCE))
    if source is None:
        source = LabelSource(
            name=MANUAL_SOURCE,
            kind=SourceKind.MANUAL.value,
            format="manual",
            title="Labels added by investigators",
        )
        session.add(source)
        session.flush()
    return source


def create_label(
    session: Session, *, actor: Actor, data: LabelCreate, user: User | None = None
) -> Label:
    """A label added by hand, owned by the user's organisation or agency (TLP sharing)."""
    chain_id = get_chain(data.chain).id
    address = canonical_address(chain_id, data.address)
    score, level = confidence_of(data.confidence, "confidence")
    actor_id = None
    if data.actor:
        actor_id = session.scalar(select(LabelActor.id).where(LabelActor.ext_id == data.actor))
        if actor_id is None:
            raise InvalidInput(f"no actor {data.actor!r}: import its ActorPack first")
    now = utcnow()
    label = Label(
        source_id=_manual_source(session).id,
        key=f"manual:{uuid.uuid4().hex}",
        chain=chain_id,
        address=address,
        scope=str(data.scope),
        category=str(data.category),
        label=data.label,
        actor_id=actor_id,
        confidence=score,
        confidence_name=level,
        tlp=str(data.tlp),
        source_uri=data.source_uri,
        first_seen=now,
        last_seen=now,
        created_by=actor.name,
        created_by_id=actor.user_id,
        organisation_id=user.organisation_id if user else None,
        agency_id=user.agency_id if user else None,
        active=True,
        details={"note": data.note} if data.note else {},
    )
    session.add(label)
    session.flush()
    session.add(
        LabelHistory(
            label_id=label.id,
            action=str(HistoryAction.ADD),
            at=now,
            by=actor.name,
            changes={
                k: [None, v] for k, v in data.model_dump(mode="json").items() if v is not None
            },
        )
    )
    audit.record(
        session,
        actor=actor,
        action="label.create",
        object_type="label",
        object_id=label.id,
        details={
            "chain": chain_id,
            "address": address,
            "category": str(data.category),
            "scope": str(data.scope),
            "tlp": str(data.tlp),
        },
    )
    session.commit()
    session.refresh(label)
    return label


def retire_label(session: Session, *, actor: Actor, label_id: int, viewer: Viewer | None) -> Label:
    """Retire a manual label (imported labels are retired by their source's next import)."""
    label = get_label(session, label_id=label_id, viewer=viewer)
    if label.source.kind != SourceKind.MANUAL.value:
        raise InvalidInput(
            f"label {label_id} comes from {label.source.name!r}: it changes with its source"
        )
    if label.active:
        now = utcnow()
        label.active, label.retired_at = False, now
        session.add(
            LabelHistory(
                label_id=label.id,
                action=str(HistoryAction.RETIRE),
                at=now,
                by=actor.name,
                changes={"active": [True, False]},
            )
        )
        audit.record(
            session, actor=actor, action="label.retire", object_type="label", object_id=label.id
        )
        session.commit()
    return label
