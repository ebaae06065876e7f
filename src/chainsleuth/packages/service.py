"""Rules of gathering, approving and delivering response packages.

``from chainsleuth.packages import service as package_service``.

* :func:`gather` (``requests:work``) finds every item of a request's subjects and stores
  the gathering (items unticked) with its audit entry; a newer gathering of the same
  request supersedes the older one.
* :func:`select_items` (``requests:work``) ticks what the legal basis allows.
* :func:`approve` (``requests:approve``) builds and signs the ZIP from the ticked items,
  stores the package, and, for a request, moves it to "delivered" through the requests
  workflow, which refuses an unapproved request or an unverified sender (its ``Conflict``
  reaches the caller and nothing is stored). The KYC records disclosed are named in the
  audit entry.
* :func:`download` (the agency's officer, or staff) checks the link's expiry and audits
  every download. Another agency's package is not found.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from chainsleuth.audit import service as audit
from chainsleuth.audit.enums import Outcome
from chainsleuth.audit.service import Actor
from chainsleuth.auth.models import User
from chainsleuth.auth.scoping import ensure_visible, scoped
from chainsleuth.chain.lookups import ChainReader
from chainsleuth.core.config import Settings
from chainsleuth.core.errors import Conflict, InvalidInput, NotFound
from chainsleuth.core.models import utcnow
from chainsleuth.exchange import service as exchange_service
from chainsleuth.orgs.models import Agency
from chainsleuth.packages import build as build_module
from chainsleuth.packages import gather as gather_module
from chainsleuth.packages import signing
from chainsleuth.packages.enums import Category, GatheringStatus
from chainsleuth.packages.gather import Scope, Sources, Subject, Table
from chainsleuth.packages.models import (
    Gathering,
    GatheringItem,
    Package,
    PackageDownload,
    PackageFile,
)
from chainsleuth.requests import flows as request_flows
from chainsleuth.requests.enums import RequestType
from chainsleuth.requests.models import LeRequest
from chainsleuth.tracing import service as tracing_service

PACKAGE_DIR = "packages"
ProgressFn = Callable[[str, int, int], None]


@dataclass(frozen=True)
class GatherSpec:
    """What to gather when no request is given (the CLI, the benchmark)."""

    agency_id: int
    reference: str
    legal_basis: str
    subjects: list[Subject]
    since: datetime | None = None
    until: datetime | None = None


def sources(
    settings: Settings,
    *,
    reader: ChainReader | None = None,
    tracing: tracing_service.TracingContext | None = None,
    balances_at: datetime | None = None,
    reveal: bool = False,
) -> Sources:
    return Sources(
        keys=exchange_service.keys_for(settings),
        balances_at=balances_at or utcnow(),
        reader=reader,
        tracing=tracing,
        reveal=reveal,
    )


def subjects_of(req: LeRequest) -> list[Subject]:
    return [
        Subject(
            kind=s.kind,
            value=s.value,
            chain=s.chain,
            date_of_birth=s.date_of_birth,
            since=s.time_from,
            until=s.time_until,
        )
        for s in req.subjects
    ]


def spec_of(req: LeRequest) -> GatherSpec:
    return GatherSpec(
        agency_id=req.agency_id,
        reference=req.reference,
        legal_basis=req.legal_basis,
        subjects=subjects_of(req),
    )


def _subject_from_json(d: dict[str, Any]) -> Subject:
    return Subject(
        kind=d["kind"],
        value=d["value"],
        chain=d.get("chain"),
        date_of_birth=d.get("date_of_birth"),
        since=datetime.fromisoformat(d["since"]) if d.get("since") else None,
        until=datetime.fromisoformat(d["until"]) if d.get("until") else None,
    )


def gather(
    session: Session,
    *,
    actor: Actor,
    src: Sources,
    request: LeRequest | None = None,
    spec: GatherSpec | None = None,
    progress: ProgressFn | None = None,
) -> Gathering:
    """Gather every item of the request's (or the spec's) subjects; committed, audited."""
    if (request is None) == (spec is None):
        raise InvalidInput("gather for a request or for a given set of subjects")
    spec = spec or spec_of(request)  # type: ignore[arg-type]
    if not spec.subjects:
        raise InvalidInput("the request names no subjects")
    if session.get(Agency, spec.agency_id) is None:
        raise NotFound(f"no agency {spec.agency_id}")
    found, notes = gather_module.gather(
        session,
        subjects=spec.subjects,
        since=spec.since,
        until=spec.until,
        src=src,
        progress=progress,
    )
    if request is not None:
        for older in session.scalars(
            select(Gathering).where(
                Gathering.request_id == request.id,
                Gathering.status == GatheringStatus.GATHERED.value,
            )
        ):
            older.status = GatheringStatus.SUPERSEDED.value
    g = Gathering(
        request_id=request.id if request is not None else None,
        agency_id=spec.agency_id,
        reference=spec.reference,
        legal_basis=spec.legal_basis,
        subjects=[s.to_json() for s in spec.subjects],
        since=spec.since,
        until=spec.until,
        balances_at=src.balances_at,
        status=GatheringStatus.GATHERED.value,
        notes=notes,
        gathered_by=actor.name,
    )
    g.items = [
        GatheringItem(
            customer_id=f.scope.customer_id,
            subjects=f.subjects,
            category=str(f.scope.category),
            chain=f.scope.chain,
            source=gather_module.SOURCES[f.scope.category],
            rows=f.rows,
            digest=f.digest,
            summary=f.summary,
            selected=False,
        )
        for f in found
    ]
    session.add(g)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="packages.gather",
        object_type="le_gathering",
        object_id=g.id,
        details={
            "reference": g.reference,
            "request_id": g.request_id,
            "customers": sorted({f.scope.customer_id for f in found}),
            "items": len(found),
            "rows": sum(f.rows for f in found),
            "notes": notes[:20],
        },
    )
    session.commit()
    return g


def get_gathering(session: Session, *, user: User, gathering_id: int) -> Gathering:
    return ensure_visible(user, session.get(Gathering, gathering_id), what="gathering")


def gatherings_of_request(session: Session, request_id: int) -> list[Gathering]:
    return list(
        session.scalars(
            select(Gathering)
            .where(Gathering.request_id == request_id)
            .order_by(Gathering.id.desc())
        )
    )


def scope_of(item: GatheringItem) -> Scope:
    summary = item.summary or {}
    return Scope(
        customer_id=item.customer_id,
        category=Category(item.category),
        chain=item.chain,
        since=datetime.fromisoformat(summary["since"]) if summary.get("since") else None,
        until=datetime.fromisoformat(summary["until"]) if summary.get("until") else None,
    )


def preview(session: Session, *, item: GatheringItem, src: Sources, limit: int = 20) -> Table:
    """The first rows of an item as the reviewer sees them (KYC masked)."""
    masked = Sources(src.keys, src.balances_at, src.reader, src.tracing, reveal=False)
    table = gather_module.read_item(session, scope_of(item), masked)
    return Table(table.columns, table.head(limit).plain())


def _open(g: Gathering) -> None:
    if g.status != GatheringStatus.GATHERED.value:
        raise Conflict(f"the gathering is {g.status}: gather again to change it")


def select_items(
    session: Session,
    *,
    actor: Actor,
    gathering: Gathering,
    item_ids: Iterable[int],
) -> Gathering:
    """Tick exactly the given items (the others are withheld); committed, audited."""
    _open(gathering)
    wanted = set(item_ids)
    known = {i.id for i in gathering.items}
    unknown = sorted(wanted - known)
    if unknown:
        raise InvalidInput(f"items {unknown} are not in gathering {gathering.id}")
    for item in gathering.items:
        item.selected = item.id in wanted
    audit.record(
        session,
        actor=actor,
        action="packages.select",
        object_type="le_gathering",
        object_id=gathering.id,
        details={"selected": sorted(wanted), "withheld": sorted(known - wanted)},
    )
    session.commit()
    return gathering


def select_categories(
    session: Session, *, actor: Actor, gathering: Gathering, categories: Sequence[str]
) -> Gathering:
    """Tick every item of the given categories (the CLI's ``--include``)."""
    chosen = {Category(c) for c in categories}
    return select_items(
        session,
        actor=actor,
        gathering=gathering,
        item_ids=[i.id for i in gathering.items if Category(i.category) in chosen],
    )


def _letter(
    session: Session, g: Gathering, actor: Actor, now: datetime, expires: datetime
) -> build_module.Letter:
    agency = session.get(Agency, g.agency_id)
    req = session.get(LeRequest, g.request_id) if g.request_id is not None else None
    return build_module.Letter(
        reference=g.reference,
        legal_basis=g.legal_basis,
        agency=agency.name if agency else f"agency {g.agency_id}",
        agency_country=agency.country if agency else None,
        subjects=[_subject_from_json(s).shown for s in g.subjects],
        notes=list(g.notes),
        approved_by=actor.name,
        created_at=now,
        expires_at=expires,
        request_type=RequestType(req.type).label if req is not None else None,
        case_reference=req.case_reference if req is not None else None,
    )


def package_path(settings: Settings, package: Package) -> Path:
    return settings.data_dir / package.storage_path


def approve(
    session: Session,
    *,
    actor: Actor,
    settings: Settings,
    gathering: Gathering,
    src: Sources,
) -> Package:
    """Build, sign and store the package of the ticked items, and deliver it: for a
    request, through its workflow (which may refuse: nothing is then kept)."""
    _open(gathering)
    req = session.get(LeRequest, gathering.request_id) if gathering.request_id else None
    if req is not None:  # the workflow's rules first, before anything is written
        gate = request_flows.delivery_gate(session, req)
        if not gate.ok:
            raise Conflict(gate.reason)
    now = utcnow()
    expires = now + timedelta(days=settings.package_link_days)
    items = [build_module.Item(scope_of(i), i.rows, i.digest, i.selected) for i in gathering.items]
    key = signing.load_private_key(settings)
    reveal = Sources(src.keys, gathering.balances_at, src.reader, src.tracing, reveal=True)
    stamp = now.strftime("%Y%m%dT%H%M%SZ")
    safe_ref = "".join(c if c.isalnum() or c in "-_" else "_" for c in gathering.reference)
    name = f"{safe_ref}-{stamp}.zip"
    relative = Path(PACKAGE_DIR) / f"g{gathering.id}" / name
    path = settings.data_dir / relative
    built = build_module.build_package(
        session, letter=_letter(session, gathering, actor, now, expires), items=items,
        src=reveal, key=key, path=path,
    )  # fmt: skip
    try:
        package = Package(
            gathering_id=gathering.id,
            request_id=gathering.request_id,
            agency_id=gathering.agency_id,
            reference=gathering.reference,
            file_name=name,
            storage_path=str(relative),
            size=built.size,
            sha256=built.sha256,
            manifest_sha256=built.manifest_sha256,
            signature=built.signature,
            key_fingerprint=built.fingerprint,
            created_by=actor.name,
            created_at=now,
            expires_at=expires,
            delivered_at=now,
        )
        package.files = [
            PackageFile(name=f.name, category=f.category, rows=f.rows, size=f.size,
                        sha256=f.sha256)
            for f in built.files
        ]  # fmt: skip
        session.add(package)
        gathering.status = GatheringStatus.APPROVED.value
        gathering.approved_by = actor.name
        gathering.approved_at = now
        session.flush()
        produced = [i for i in items if i.selected]
        audit.record(
            session,
            actor=actor,
            action="packages.approve",
            object_type="le_package",
            object_id=package.id,
            details={
                "reference": package.reference,
                "gathering_id": gathering.id,
                "request_id": gathering.request_id,
                "sha256": package.sha256,
                "manifest_sha256": package.manifest_sha256,
                "key_fingerprint": package.key_fingerprint,
                "produced": len(produced),
                "withheld": len(items) - len(produced),
                "kyc_disclosed": sorted(
                    i.scope.customer_id for i in produced if i.scope.category is Category.KYC
                ),
                "expires_at": expires.isoformat(),
            },
        )
        if req is not None:
            request_flows.mark_delivered(
                session, req=req, actor=actor, note=f"package {name}", commit=False
            )
        session.commit()
    except BaseException:
        session.rollback()
        path.unlink(missing_ok=True)
        raise
    return package


def disclosed_customers(session: Session, *, request_id: int) -> dict[str, list[Category]]:
    """Customer id -> the categories of their records that the request's delivered
    packages produced (what a customer notice names)."""
    rows = session.execute(
        select(GatheringItem.customer_id, GatheringItem.category)
        .join(Package, Package.gathering_id == GatheringItem.gathering_id)
        .where(Package.request_id == request_id, GatheringItem.selected.is_(True))
        .distinct()
    ).all()
    order = list(Category)
    out: dict[str, list[Category]] = {}
    for customer_id, category in rows:
        out.setdefault(customer_id, []).append(Category(category))
    return {c: sorted(set(v), key=order.index) for c, v in sorted(out.items())}


def get_package(session: Session, *, user: User, package_id: int) -> Package:
    """A package the user may see; another agency's is not found."""
    return ensure_visible(user, session.get(Package, package_id), what="package")


def packages_for(session: Session, *, user: User, request_id: int | None = None) -> list[Package]:
    stmt = select(Package).order_by(Package.id.desc())
    if request_id is not None:
        stmt = stmt.where(Package.request_id == request_id)
    return list(session.scalars(scoped(user, stmt, Package)))


def expired(package: Package, now: datetime | None = None) -> bool:
    return (now or utcnow()) >= package.expires_at


def download(
    session: Session, *, settings: Settings, user: User, actor: Actor, package: Package
) -> Path:
    """The ZIP's path for a download; refused once the link expired; audited, committed."""
    ensure_visible(user, package, what="package")
    now = utcnow()
    if expired(package, now):
        audit.record(
            session, actor=actor, action="packages.download_expired",
            outcome=Outcome.DENIED, object_type="le_package", object_id=package.id,
            details={"reference": package.reference, "expired_at": package.expires_at.isoformat()},
        )  # fmt: skip
        session.commit()
        raise Conflict(
            f"the download link expired on {package.expires_at:%Y-%m-%d %H:%M} UTC: "
            "ask the investigations team for a new one"
        )
    path = package_path(settings, package)
    if not path.exists():
        raise NotFound("the package file is missing: ask the investigations team")
    session.add(PackageDownload(package_id=package.id, user_id=user.id, username=user.username,
                                ip=actor.ip, at=now))  # fmt: skip
    audit.record(
        session,
        actor=actor,
        action="packages.download",
        object_type="le_package",
        object_id=package.id,
        details={"reference": package.reference, "sha256": package.sha256},
    )
    session.commit()
    return path


def downloads_of(session: Session, package: Package) -> list[PackageDownload]:
    return list(
        session.scalars(
            select(PackageDownload)
            .where(PackageDownload.package_id == package.id)
            .order_by(PackageDownload.at, PackageDownload.id)
        )
    )


def extend(session: Session, *, actor: Actor, settings: Settings, package: Package) -> Package:
    """A new expiry for a package's link (staff); audited."""
    package.expires_at = utcnow() + timedelta(days=settings.package_link_days)
    audit.record(
        session, actor=actor, action="packages.extend", object_type="le_package",
        object_id=package.id, details={"expires_at": package.expires_at.isoformat()},
    )  # fmt: skip
    session.commit()
    return package
