"""Writing a parsed file into the database: one transaction per import, with its audit entry.

An import is compared with what its source holds already, label by label (``key``): new
labels are added, changed ones updated, ones the file no longer lists retired, retired ones
that come back reactivated; each change goes to ``label_history`` with the import that made
it. The same file imported again changes nothing. A file older than the source's imported
version is refused unless the caller allows it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from chainsleuth.audit import service as audit
from chainsleuth.audit.service import Actor
from chainsleuth.core.errors import Conflict, InvalidInput
from chainsleuth.core.models import Base, utcnow
from chainsleuth.labels.enums import HistoryAction, Tlp
from chainsleuth.labels.importers.common import ActorDraft, LabelDraft, Parsed, as_datetime
from chainsleuth.labels.models import Label, LabelActor, LabelImport, LabelSource
from chainsleuth.labels.schemas import ImportResult

Progress = Callable[[int, int], None]
#: the tables, for bulk inserts without the ORM's unit of work
LABELS = Base.metadata.tables["labels"]
HISTORY = Base.metadata.tables["label_history"]
T = TypeVar("T")
#: fields of a label an import compares (and records in the history)
COMPARED = (
    "scope",
    "category",
    "label",
    "actor_id",
    "confidence",
    "confidence_name",
    "tlp",
    "source_uri",
    "details",
)
ACTOR_FIELDS = ("name", "categories", "jurisdictions", "uri", "aliases", "context")
CHUNK = 500
#: rows per bulk INSERT
BULK = 1000
#: formats whose files define actors (a newer file retires the actors it no longer lists)
DEFINES_ACTORS = ("actorpack", "ofac-xml", "ofac-csv")


def file_sha256(parts: Sequence[tuple[str, bytes]]) -> str:
    """SHA-256 of one file; of several (a folder of lists), of their names and digests."""
    if len(parts) == 1:
        return hashlib.sha256(parts[0][1]).hexdigest()
    lines = "".join(f"{hashlib.sha256(d).hexdigest()}  {n}\n" for n, d in sorted(parts))
    return hashlib.sha256(lines.encode()).hexdigest()


def chunks(items: Sequence[T], size: int = CHUNK) -> Iterable[Sequence[T]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _jsonish(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def _history(
    label_id: int,
    import_id: int | None,
    action: HistoryAction,
    at: datetime,
    by: str,
    diff: dict[str, Any],
) -> dict[str, Any]:
    return {
        "label_id": label_id,
        "import_id": import_id,
        "action": str(action),
        "at": at,
        "by": by,
        "changes": {k: [_jsonish(a), _jsonish(b)] for k, (a, b) in diff.items()},
    }


def _values(draft: LabelDraft, actor_ids: dict[str, int], tlp: Tlp) -> dict[str, Any]:
    return {
        "scope": str(draft.scope),
        "category": str(draft.category),
        "label": draft.label[:500],
        "actor_id": actor_ids.get(draft.actor) if draft.actor else None,
        "confidence": draft.confidence,
        "confidence_name": draft.confidence_name,
        "tlp": str(draft.tlp or tlp),
        "source_uri": draft.source_uri[:1000] if draft.source_uri else None,
        "details": draft.details,
    }


def _source(session: Session, name: str, parsed: Parsed) -> LabelSource:
    source = session.scalar(select(LabelSource).where(LabelSource.name == name))
    if source is None:
        source = LabelSource(name=name, kind=str(parsed.format.kind), format=str(parsed.format))
        session.add(source)
        session.flush()
    elif source.format != str(parsed.format):
        raise Conflict(
            f"the source {name!r} holds {source.format} labels, not {parsed.format}: "
            "give this import another --source-name"
        )
    return source


def _sync_actors(
    session: Session, source: LabelSource, drafts: list[ActorDraft], now: datetime
) -> tuple[int, int, int]:
    """Upsert the actors a file defines; retire this source's actors it no longer lists.

    An actor belongs to the source that defined it first (a stub made for a tag belongs to
    none, and a retired one to no one): two sources naming the same actor (the SDN XML and
    the SDN CSV) do not take it from each other on every import."""
    added = updated = retired = 0
    ids = [d.ext_id for d in drafts]
    existing: dict[str, LabelActor] = {}
    for part in chunks(ids):
        for a in session.scalars(select(LabelActor).where(LabelActor.ext_id.in_(part))):
            existing[a.ext_id] = a
    for draft in drafts:
        values = {f: getattr(draft, f) for f in ACTOR_FIELDS}
        row = existing.get(draft.ext_id)
        if row is None:
            session.add(LabelActor(ext_id=draft.ext_id, source_id=source.id, **values))
            added += 1
            continue
        if row.source_id is not None and row.source_id != source.id and row.retired_at is None:
            continue  # another source defines this actor: the first definer keeps it
        if (
            any(getattr(row, f) != v for f, v in values.items())
            or row.retired_at is not None
            or row.source_id != source.id
        ):
            for f, v in values.items():
                setattr(row, f, v)
            row.source_id, row.retired_at = source.id, None
            updated += 1
    if drafts or source.format in DEFINES_ACTORS:
        listed = set(ids)
        for row in session.scalars(
            select(LabelActor).where(
                LabelActor.source_id == source.id, LabelActor.retired_at.is_(None)
            )
        ):
            if row.ext_id not in listed:
                row.retired_at = now
                retired += 1
    return added, updated, retired


def _actor_ids(session: Session, drafts: list[LabelDraft]) -> dict[str, int]:
    """Ids of the actors the labels name; a stub for one no ActorPack has defined yet."""
    wanted = sorted({d.actor for d in drafts if d.actor})
    found: dict[str, int] = {}
    for part in chunks(wanted):
        for ext_id, id_ in session.execute(
            select(LabelActor.ext_id, LabelActor.id).where(LabelActor.ext_id.in_(part))
        ):
            found[ext_id] = id_
    missing = [w for w in wanted if w not in found]
    if missing:
        stubs = [LabelActor(ext_id=w[:200], name=w[:300]) for w in missing]
        session.add_all(stubs)
        session.flush()
        found.update({s.ext_id: s.id for s in stubs})
    return found


def import_parsed(
    session: Session,
    *,
    parsed: Parsed,
    sha256: str,
    file_name: str | None,
    actor: Actor,
    source_name: str | None = None,
    tlp: Tlp | None = None,
    allow_older: bool = False,
    on_progress: Progress | None = None,
) -> ImportResult:
    """Write ``parsed`` as the new state of its source and commit; roll back on any error."""
    name = (source_name or parsed.default_name).strip()
    if not 1 <= len(name) <= 200:
        raise InvalidInput("the source name must have 1 to 200 characters")
    try:
        result = _import(
            session, parsed, sha256, file_name, actor, name, tlp, allow_older, on_progress
        )
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return result


def _import(
    session: Session,
    parsed: Parsed,
    sha256: str,
    file_name: str | None,
    actor: Actor,
    name: str,
    tlp: Tlp | None,
    allow_older: bool,
    on_progress: Progress | None,
) -> ImportResult:
    now = utcnow()
    source = _source(session, name, parsed)
    if (
        not allow_older
        and source.version
        and parsed.version
        and parsed.version < source.version
        and source.sha256 != sha256
    ):
        raise Conflict(
            f"{file_name or 'the file'} is version {parsed.version}, older than version "
            f"{source.version} of {name!r} imported before (--allow-older imports it anyway)"
        )
    version_time = as_datetime(parsed.version, "version") if parsed.version else None
    actors_added, actors_updated, actors_retired = _sync_actors(session, source, parsed.actors, now)
    session.flush()
    actor_ids = _actor_ids(session, parsed.labels)
    # plain rows, not ORM objects: a source may hold hundreds of thousands of labels
    columns = [Label.id, Label.key, Label.active, Label.last_seen] + [
        getattr(Label, c) for c in COMPARED
    ]
    existing = {
        row.key: row._mapping
        for row in session.execute(select(*columns).where(Label.source_id == source.id))
    }
    updates: list[dict[str, Any]] = []
    default_tlp = tlp or parsed.default_tlp
    changes: list[tuple[int, HistoryAction, dict[str, Any]]] = []  # of existing labels
    new_rows: list[dict[str, Any]] = []
    unchanged = 0
    total = len(parsed.labels)
    for done, draft in enumerate(parsed.labels, start=1):
        values = _values(draft, actor_ids, default_tlp)
        seen = draft.last_seen or version_time
        row = existing.get(draft.key)
        if row is None:
            new_rows.append(
                {
                    "source_id": source.id,
                    "key": draft.key[:500],
                    "chain": draft.chain,
                    "address": draft.address,
                    "first_seen": draft.first_seen or version_time or now,
                    "last_seen": seen or now,
                    "created_by": actor.name,
                    "created_by_id": actor.user_id,
                    "active": True,
                    "retired_at": None,
                    "organisation_id": None,
                    "agency_id": None,
                    "created_at": now,
                    "updated_at": now,
                    **values,
                }
            )
        else:
            diff = {k: [row[k], v] for k, v in values.items() if row[k] != v}
            change: dict[str, Any] = {k: v for k, (_, v) in diff.items()}
            if seen is not None and row["last_seen"] != seen:
                change["last_seen"] = seen
            if not row["active"]:
                change.update(active=True, retired_at=None)
                changes.append((row["id"], HistoryAction.REACTIVATE, diff))
            elif diff:
                changes.append((row["id"], HistoryAction.UPDATE, diff))
            else:
                unchanged += 1
            if change:
                updates.append({"id": row["id"], "updated_at": now, **change})
        if on_progress is not None and (done % CHUNK == 0 or done == total):
            on_progress(done, total + len(new_rows))
    listed = {d.key for d in parsed.labels}
    for key, row in existing.items():
        if row["active"] and key not in listed:
            updates.append({"id": row["id"], "active": False, "retired_at": now, "updated_at": now})
            changes.append((row["id"], HistoryAction.RETIRE, {"active": [True, False]}))
    for part in chunks(updates, BULK):
        session.execute(update(Label), list(part))
    counts = {a: sum(1 for _, act, _ in changes if act is a) for a in HistoryAction}
    counts[HistoryAction.ADD] = len(new_rows)
    changed = bool(new_rows or changes or actors_added or actors_updated or actors_retired)
    import_id: int | None = None
    if changed:
        session.flush()
        record = LabelImport(
            source_id=source.id,
            format=str(parsed.format),
            file_name=file_name,
            sha256=sha256,
            version=parsed.version,
            imported_at=now,
            imported_by=actor.name,
            user_id=actor.user_id,
            added=counts[HistoryAction.ADD],
            updated=counts[HistoryAction.UPDATE] + counts[HistoryAction.REACTIVATE],
            retired=counts[HistoryAction.RETIRE],
            unchanged=unchanged,
            skipped=parsed.skipped_total,
            details={"skipped": dict(parsed.skipped), "messages": parsed.messages},
        )
        session.add(record)
        session.flush()
        import_id = record.id
        history: list[dict[str, Any]] = []
        inserted = 0
        for part in chunks(new_rows, BULK):
            session.execute(insert(LABELS), list(part))
            inserted += len(part)
            if on_progress is not None:
                on_progress(total + inserted, total + len(new_rows))
        if new_rows:
            ids = {
                row.key: row.id
                for row in session.execute(
                    select(Label.key, Label.id).where(Label.source_id == source.id)
                )
            }
            history += [
                _history(
                    ids[row["key"]],
                    import_id,
                    HistoryAction.ADD,
                    now,
                    actor.name,
                    {k: [None, row[k]] for k in COMPARED},
                )
                for row in new_rows
            ]
        history += [
            _history(label_id, import_id, action, now, actor.name, diff)
            for label_id, action, diff in changes
        ]
        for part in chunks(history, BULK):
            session.execute(insert(HISTORY), list(part))
        source.title, source.uri, source.version = parsed.title, parsed.uri, parsed.version
        source.file_name, source.sha256 = file_name, sha256
        source.imported_at, source.imported_by = now, actor.name
    result = ImportResult(
        source=name,
        source_id=source.id,
        format=str(parsed.format),
        file_name=file_name,
        sha256=sha256,
        version=parsed.version,
        import_id=import_id,
        added=counts[HistoryAction.ADD],
        updated=counts[HistoryAction.UPDATE] + counts[HistoryAction.REACTIVATE],
        retired=counts[HistoryAction.RETIRE],
        unchanged=unchanged,
        skipped=parsed.skipped_total,
        skipped_by_reason=dict(sorted(parsed.skipped.items())),
        messages=parsed.messages,
        actors_added=actors_added,
        actors_updated=actors_updated,
        actors_retired=actors_retired,
    )
    audit.record(
        session,
        actor=actor,
        action="labels.import",
        object_type="label_source",
        object_id=source.id,
        details={
            "source": name,
            "format": str(parsed.format),
            "file": file_name,
            "sha256": sha256,
            "version": parsed.version,
            "import_id": import_id,
            "added": result.added,
            "updated": result.updated,
            "retired": result.retired,
            "unchanged": result.unchanged,
            "skipped": result.skipped,
            "actors": [actors_added, actors_updated, actors_retired],
        },
    )
    return result
