"""Evidence files of a case, and their chain of custody.

The server hashes a file (SHA-256) as it arrives, before anything else sees it, and keeps
it under the data folder (``evidence/case-N/``) by a random name. Every use re-checks the
hash: a download or an export of a file whose content no longer matches is refused with
:class:`EvidenceTampered` and the refusal is written to the timeline and the audit log (in
its own transaction, since the export itself does not happen). The chain of custody of a
file is the audit log: its upload, every download, every check and every export.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from chainsleuth.audit import service as audit
from chainsleuth.audit.enums import Outcome
from chainsleuth.audit.models import AuditEvent
from chainsleuth.audit.service import Actor
from chainsleuth.cases.enums import EventKind
from chainsleuth.cases.events import record_event
from chainsleuth.cases.models import Case, CaseEvidence
from chainsleuth.core.errors import Conflict, InvalidInput, NotFound, PayloadTooLarge
from chainsleuth.core.models import MAX_ROW_ID

CHUNK = 1024 * 1024
EVIDENCE_DIR = "evidence"
_UNSAFE = re.compile(r"[\x00-\x1f\x7f/\\]+")


class EvidenceTampered(Conflict):
    """A stored evidence file no longer has the hash it had when it arrived."""

    code = "evidence_tampered"


@dataclass(frozen=True)
class Problem:
    evidence: CaseEvidence
    reason: str


def safe_name(name: str) -> str:
    """The file's own name (no folders, no control characters), as it will be shown."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    clean = _UNSAFE.sub("_", base).strip().strip(".")
    if not clean:
        raise InvalidInput("the file needs a name")
    if len(clean) > 255:
        stem, dot, ext = clean.rpartition(".")
        clean = (stem[: 250 - len(ext)] + dot + ext) if dot and len(ext) < 20 else clean[:255]
    return clean


def file_path(data_dir: Path, evidence: CaseEvidence) -> Path:
    return data_dir / evidence.storage_path


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def add_evidence(
    session: Session,
    *,
    data_dir: Path,
    actor: Actor,
    case: Case,
    file_name: str,
    stream: BinaryIO,
    content_type: str | None = None,
    description: str = "",
    max_bytes: int = 512 * 1024 * 1024,
) -> CaseEvidence:
    """Store a file for a case, hashing it as it is written; one transaction with its
    timeline and audit entries (a failed commit leaves no file behind)."""
    name = safe_name(file_name)
    if len(description) > 5000:
        raise InvalidInput("the description is too long (5000 characters at most)")
    folder = data_dir / EVIDENCE_DIR / f"case-{case.id}"
    folder.mkdir(parents=True, exist_ok=True)
    stored = uuid.uuid4().hex
    tmp = folder / f".{stored}.part"
    digest, size = hashlib.sha256(), 0
    try:
        with tmp.open("wb") as out:
            while chunk := stream.read(CHUNK):
                size += len(chunk)
                if size > max_bytes:
                    raise PayloadTooLarge(f"the file is larger than {max_bytes} bytes")
                digest.update(chunk)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        if size == 0:
            raise InvalidInput("the file is empty")
        final = folder / stored
        tmp.replace(final)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    sha = digest.hexdigest()
    try:
        row = CaseEvidence(
            case_id=case.id,
            file_name=name,
            content_type=(content_type or "application/octet-stream")[:128],
            size=size,
            sha256=sha,
            storage_path=str(final.relative_to(data_dir)),
            description=description.strip(),
            uploaded_by_id=actor.user_id,
            uploaded_by=actor.name,
        )
        session.add(row)
        session.flush()
        record_event(
            session,
            actor=actor,
            case=case,
            kind=EventKind.EVIDENCE_ADDED,
            summary=f"evidence {name} ({size} bytes, sha256 {sha[:16]}…)",
            details={"evidence_id": row.id, "file_name": name, "size": size, "sha256": sha},
            object_type="case_evidence",
            object_id=row.id,
        )
        session.commit()
    except BaseException:
        session.rollback()
        final.unlink(missing_ok=True)
        raise
    return row


def get_evidence(session: Session, case: Case, evidence_id: int) -> CaseEvidence:
    row = session.get(CaseEvidence, evidence_id) if 1 <= evidence_id <= MAX_ROW_ID else None
    if row is None or row.case_id != case.id:
        raise NotFound(f"case {case.id} has no evidence file {evidence_id}")
    return row


def all_evidence(session: Session, case: Case) -> Sequence[CaseEvidence]:
    return session.scalars(
        select(CaseEvidence).where(CaseEvidence.case_id == case.id).order_by(CaseEvidence.id)
    ).all()


def evidence_page(
    session: Session, case: Case, *, limit: int = 50, before: int | None = None
) -> tuple[Sequence[CaseEvidence], int, int | None]:
    """Newest first, keyset-paged on the id: (files, total, next ``before``)."""
    stmt = select(CaseEvidence).where(CaseEvidence.case_id == case.id)
    if before is not None:
        stmt = stmt.where(CaseEvidence.id < before)
    rows = session.scalars(stmt.order_by(CaseEvidence.id.desc()).limit(limit + 1)).all()
    total = session.scalar(
        select(func.count()).select_from(CaseEvidence).where(CaseEvidence.case_id == case.id)
    )
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, int(total or 0), rows[-1].id if more and rows else None


def check(
    data_dir: Path,
    rows: Sequence[CaseEvidence],
    progress: Callable[[int, int], None] | None = None,
) -> list[Problem]:
    """The files whose stored content is missing or no longer matches its hash."""
    problems = []
    for done, row in enumerate(rows, 1):
        if progress is not None:
            progress(done, len(rows))
        path = file_path(data_dir, row)
        if not path.is_file():
            problems.append(Problem(row, "the stored file is missing"))
            continue
        actual = sha256_of(path)
        if actual != row.sha256:
            problems.append(
                Problem(row, f"its SHA-256 is now {actual}, not {row.sha256} as at upload")
            )
    return problems


def refuse(
    session: Session, *, actor: Actor, case: Case, problems: Sequence[Problem], purpose: str
) -> EvidenceTampered:
    """Write the refusal (timeline + audit, committed) and return the error to raise."""
    for p in problems:
        record_event(
            session,
            actor=actor,
            case=case,
            kind=EventKind.EVIDENCE_TAMPERED,
            summary=f"{purpose} refused: evidence {p.evidence.file_name}: {p.reason}",
            details={
                "evidence_id": p.evidence.id,
                "file_name": p.evidence.file_name,
                "sha256": p.evidence.sha256,
                "reason": p.reason,
                "purpose": purpose,
            },
            outcome=Outcome.FAILURE,
            object_type="case_evidence",
            object_id=p.evidence.id,
        )
    session.commit()
    first = problems[0]
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return EvidenceTampered(
        f"{purpose} refused: evidence file {first.evidence.file_name!r} "
        f"(#{first.evidence.id}) no longer matches its hash: {first.reason}{more}"
    )


def verified(
    session: Session,
    *,
    data_dir: Path,
    actor: Actor,
    case: Case,
    progress: Callable[[int, int], None] | None = None,
) -> list[CaseEvidence]:
    """Every evidence file of the case, each re-hashed; refuses (audited) if one fails."""
    rows = list(all_evidence(session, case))
    problems = check(data_dir, rows, progress)
    if problems:
        raise refuse(session, actor=actor, case=case, problems=problems, purpose="export")
    return rows


def open_for_download(
    session: Session, *, data_dir: Path, actor: Actor, case: Case, evidence: CaseEvidence
) -> Path:
    """The file's path, after checking its hash; the download is audited (custody)."""
    problems = check(data_dir, [evidence])
    if problems:
        raise refuse(session, actor=actor, case=case, problems=problems, purpose="download")
    audit.record(
        session,
        actor=actor,
        action="case_evidence.download",
        object_type="case_evidence",
        object_id=evidence.id,
        details={"case_id": case.id, "sha256": evidence.sha256, "file_name": evidence.file_name},
    )
    session.commit()
    return file_path(data_dir, evidence)


def custody(session: Session, case: Case, evidence: CaseEvidence) -> list[AuditEvent]:
    """The file's chain of custody: its own audit entries and the case's exports of it."""
    own = session.scalars(
        select(AuditEvent).where(
            AuditEvent.object_type == "case_evidence", AuditEvent.object_id == str(evidence.id)
        )
    ).all()
    exports = session.scalars(
        select(AuditEvent).where(
            AuditEvent.action == "case.exported",
            AuditEvent.object_type == "case",
            AuditEvent.object_id == str(case.id),
        )
    ).all()
    mine = [e for e in exports if evidence.id in json.loads(e.details).get("evidence_ids", [])]
    return sorted([*own, *mine], key=lambda e: e.seq)
