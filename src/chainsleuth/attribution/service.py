"""Attribution across domains: labels (the operational database) joined with entities
(the clustering beside the chain store).

``from chainsleuth.attribution import service as attribution_service``.

* ``address_attribution``: what the explorer and the API show for one address: its entity
  and its labels resolved against the labels of the entity's other addresses (an address's
  own label wins; a label on any other member, of either scope, speaks for the entity;
  conflicts are listed, never hidden).
* ``LabelCategories``: the category of every labelled address **and of every address in a
  labelled entity**, as the tracing and exposure engines want it (address id -> category),
  so that a deposit address clustered with an exchange's labelled hot wallet counts as the
  exchange. Own labels win over the entity's; within a side the highest confidence wins.
"""

from __future__ import annotations

import functools
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sqlalchemy.orm import Session

from chainsleuth.auth.models import User
from chainsleuth.chain import storage
from chainsleuth.chain.chains import get_chain
from chainsleuth.chain.lookups import ChainReader
from chainsleuth.core.db import Database, database_key
from chainsleuth.core.errors import NotFound
from chainsleuth.entities import service as entity_service
from chainsleuth.entities import store as entity_store
from chainsleuth.entities.schemas import AddressEntity
from chainsleuth.labels import service as label_service
from chainsleuth.labels.schemas import LabelRead, ResolvedAttribution

#: at most this many of an entity's other addresses are looked up for labels on a page
MEMBER_CAP = 5_000


@dataclass
class AddressAttribution:
    entity: AddressEntity | None  # None: no clustering built yet, or an unseen address
    resolved: ResolvedAttribution
    members_checked: int  # how many other addresses of the entity were looked up
    members_total: int


def address_attribution(
    session: Session,
    reader: ChainReader,
    *,
    chain: str,
    address: str,
    viewer: User | None,
) -> AddressAttribution:
    """An address's entity and resolved labels (TLP-filtered for ``viewer``)."""
    info = get_chain(chain)
    address = label_service.canonical(info.id, address)
    entity: AddressEntity | None = None
    try:
        entity = entity_service.address_entity(reader, info.id, address, top=10)
    except NotFound:
        entity = None
    others: list[str] = []
    total = 0
    if entity is not None and entity.entity.size > 1:
        ids = entity_service.members(reader.root, info.id, entity.entity.entity_id)
        ids = ids[ids != entity.address_id]
        total = int(ids.size)
        others = storage.flat_files(reader.root, info.id).addresses(ids[:MEMBER_CAP])
    own = label_service.labels_for(session, chain=info.id, addresses=[address], viewer=viewer)
    entity_side: list[LabelRead] = []
    if others:
        found = label_service.labels_for(session, chain=info.id, addresses=others, viewer=viewer)
        entity_side = [label for labels in found.values() for label in labels]
    resolved = label_service.resolve(own[address], entity_side)
    return AddressAttribution(
        entity=entity,
        resolved=resolved,
        members_checked=len(others),
        members_total=total,
    )


def category_ids(
    session: Session, reader: ChainReader, chain: str
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Every address with a category, own labels before the entity's: (address ids,
    category codes, the categories by code), address ids sorted and unique."""
    info = get_chain(chain)
    rows = label_service.active_categories(session, chain=info.id)
    if not rows:
        return np.empty(0, np.int64), np.empty(0, np.int32), []
    best: dict[str, str] = {}
    for address, category, _confidence in rows:  # best first per address
        best.setdefault(address, category)
    texts = list(best)
    ids = reader.address_ids(info.id, texts)
    names = sorted(set(best.values()))
    code_of = {name: i for i, name in enumerate(names)}
    codes = np.array([code_of[best[t]] for t in texts], dtype=np.int32)
    known = ids >= 0
    ids, codes = ids[known], codes[known]
    order = np.argsort(ids, kind="stable")
    ids, codes = ids[order], codes[order]
    try:
        entities = entity_service.entity_map(reader.root, info.id)
    except NotFound:
        return ids, codes, names
    # the entity side: every address of an entity that has a labelled member
    in_map = ids < entities.size
    labelled_entities = entities[ids[in_map]]
    entity_codes = codes[in_map]
    entity_order = np.argsort(labelled_entities, kind="stable")
    labelled_entities = labelled_entities[entity_order]
    entity_codes = entity_codes[entity_order]
    first = np.concatenate([[True], labelled_entities[1:] != labelled_entities[:-1]])
    labelled_entities, entity_codes = labelled_entities[first], entity_codes[first]
    position = np.searchsorted(labelled_entities, entities)
    position = np.minimum(position, max(labelled_entities.size - 1, 0))
    hit = labelled_entities.size > 0
    covered = (
        np.flatnonzero(labelled_entities[position] == entities) if hit else np.empty(0, np.int64)
    )
    inherited = entity_codes[position[covered]] if hit else np.empty(0, np.int32)
    # own labels win: drop inherited rows of addresses that carry their own
    mine = np.isin(covered, ids, assume_unique=False)
    all_ids = np.concatenate([ids, covered[~mine].astype(np.int64)])
    all_codes = np.concatenate([codes, inherited[~mine].astype(np.int32)])
    order = np.argsort(all_ids, kind="stable")
    return all_ids[order], all_codes[order], names


@functools.lru_cache(maxsize=64)
def _state_file(root: str, chain_id: str) -> Path:
    return entity_store.entity_dir(Path(root), chain_id) / entity_store.STATE_FILE


def entities_version(root: Path, chain: str) -> int | None:
    """Changes whenever the entities of ``chain`` are rebuilt (None: never built)."""
    state = _state_file(str(root), get_chain(chain).id)  # asked on every screening
    try:
        return state.stat().st_mtime_ns
    except FileNotFoundError:
        return None


#: (database URL, store root, chain) -> (labels and entities version, address id -> category),
#: the most recently used last; at most _CATEGORIES_KEPT of them (a server has one database
#: and store, so two or three; a test run opens many, and each map can be millions of ids)
_CATEGORIES: OrderedDict[tuple[str, Path, str], tuple[object, dict[int, str]]] = OrderedDict()
_CATEGORIES_KEPT = 4


class LabelCategories:
    """A ``tracing.service.CategoryProvider`` over the labels database and the entities:
    address id -> category. Kept between calls (per database, store and chain) and rebuilt
    when the chain's labels or its entities change (one cheap query per call tells).

    Give the request's own ``session`` inside a web request (SQLite allows one writer, and
    every transaction there takes the write lock), or a ``database`` to open one per call."""

    def __init__(self, database: Database | None = None, *, session: Session | None = None):
        if (database is None) == (session is None):
            raise ValueError("give a database or a session")
        self.database = database
        self.session = session

    def categories(self, reader: ChainReader, chain: str) -> dict[int, str]:
        if self.session is not None:
            return _categories(self.session, reader, chain)
        assert self.database is not None
        with self.database.session() as session:
            return _categories(session, reader, chain)


def _categories(session: Session, reader: ChainReader, chain: str) -> dict[int, str]:
    chain_id = get_chain(chain).id
    root = Path(reader.root)
    key = (database_key(session), root, chain_id)
    version = (
        label_service.labels_version(session, chain=chain_id),
        entities_version(root, chain_id),
    )
    cached = _CATEGORIES.get(key)
    if cached is not None and cached[0] == version:
        _CATEGORIES.move_to_end(key)
        return cached[1]
    ids, codes, names = category_ids(session, reader, chain_id)
    found = {int(i): names[c] for i, c in zip(ids.tolist(), codes.tolist(), strict=True)}
    _CATEGORIES[key] = (version, found)
    _CATEGORIES.move_to_end(key)
    while len(_CATEGORIES) > _CATEGORIES_KEPT:
        _CATEGORIES.popitem(last=False)
    return found


class EntityMaps(dict[str, np.ndarray]):
    """``TracingContext.entity_of`` for a store: each chain's address -> entity array of the
    last clustering build, read (memory-mapped) on first use and again after a rebuild;
    a chain without a build is simply absent."""

    def __init__(self, root: Path) -> None:
        super().__init__()
        self.root = Path(root)
        self._versions: dict[str, int | None] = {}

    def _refresh(self, chain: object) -> None:
        if not isinstance(chain, str):
            return
        version = entities_version(self.root, chain)
        if self._versions.get(chain, -1) == version:
            return
        self._versions[chain] = version
        try:
            self[chain] = np.asarray(entity_service.entity_map(self.root, chain))
        except NotFound:
            self.pop(chain, None)

    def __contains__(self, chain: object) -> bool:
        self._refresh(chain)
        return super().__contains__(chain)

    def __getitem__(self, chain: str) -> np.ndarray:
        self._refresh(chain)
        return super().__getitem__(chain)
