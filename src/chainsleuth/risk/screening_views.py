"""JSON API of risk results, screenings and the risk policy.

* ``GET /chains/{chain}/addresses/{address}/risk``, ``.../entities/{id}/risk`` and
  ``.../transactions/{hash}/risk``: a risk result under the active policy (``risk:read``);
* ``POST /screenings`` (``screenings:create``): screen a deposit or withdrawal; 201 with
  the stored screening, 200 with the stored one when the ``Idempotency-Key`` (header or
  field) comes again with the same request, 409 when it comes with another;
* ``GET /screenings`` (filters) and ``GET /screenings/{id}`` (``risk:read``);
* ``GET /risk/policy``, ``/risk/policy/versions[/{v}]``, ``/risk/policy/diff``
  (``risk:read``); ``PUT /risk/policy`` (``policy:write``): a new version, audited.

Bad input is a 422 with its reason and writes nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response
from sqlalchemy.orm import Session

from chainsleuth.auth.enums import Permission
from chainsleuth.chain.lookups import ChainReader
from chainsleuth.chain.views import ReaderDep
from chainsleuth.core.config import Settings
from chainsleuth.core.models import MAX_ROW_ID, RowId, as_utc
from chainsleuth.labels import service as label_service
from chainsleuth.risk import policy_store
from chainsleuth.risk import screening as screening_service
from chainsleuth.risk.facts import Scorer
from chainsleuth.risk.result import RiskResult, evaluate
from chainsleuth.risk.screening_models import RiskPolicy
from chainsleuth.risk.screening_schemas import (
    PolicyUpdate,
    PolicyVersionRead,
    ScreeningCreate,
    ScreeningPage,
    ScreeningRead,
)
from chainsleuth.tracing import service as tracing_service
from chainsleuth.web.deps import Principal, SessionDep, SettingsDep, requires

router = APIRouter(tags=["risk"])

CanReadRisk = Annotated[Principal, Depends(requires(Permission.RISK_READ))]
CanScreen = Annotated[Principal, Depends(requires(Permission.SCREENINGS_CREATE))]
CanWritePolicy = Annotated[Principal, Depends(requires(Permission.POLICY_WRITE))]


def tracing_context(
    request: Request, settings: SettingsDep, db: SessionDep
) -> tracing_service.TracingContext:
    return _tracing_context(request.app.state, settings, db)


def _tracing_context(state: Any, settings: Settings, db: Session) -> tracing_service.TracingContext:
    ctx = getattr(state, "tracing_context", None)
    if isinstance(ctx, tracing_service.TracingContext):
        return ctx
    return tracing_service.context_for(settings, session=db)


def make_scorer(
    state: Any,
    settings: Settings,
    db: Session,
    reader: ChainReader,
    viewer: label_service.Viewer | None,
    policy: policy_store.PolicyVersion | None = None,
) -> Scorer:
    """A scorer for one request under the active policy (``state``: the app's), or
    ``policy`` when the caller has read it."""
    return Scorer(
        session=db,
        reader=reader,
        settings=settings,
        tracing=_tracing_context(state, settings, db),
        policy=policy if policy is not None else policy_store.active(db),
        viewer=viewer,
    )


def scorer(
    request: Request,
    principal: Principal,
    db: SessionDep,
    reader: ReaderDep,
    settings: SettingsDep,
) -> Scorer:
    return make_scorer(request.app.state, settings, db, reader, principal.user)


def _risk_scorer(
    request: Request, principal: CanReadRisk, db: SessionDep, reader: ReaderDep,
    settings: SettingsDep,
) -> Scorer:  # fmt: skip
    return scorer(request, principal, db, reader, settings)


RiskScorer = Annotated[Scorer, Depends(_risk_scorer)]


@router.get("/chains/{chain}/addresses/{address}/risk")
def address_risk(scorer: RiskScorer, chain: str, address: str) -> RiskResult:
    """The address's risk under the active policy: severity, action, score, exposure per
    category, labels, typologies, the model's probability and the reasons."""
    return evaluate(scorer.policy, scorer.address(chain, address))


@router.get("/chains/{chain}/entities/{entity_id}/risk")
def entity_risk(
    scorer: RiskScorer, chain: str, entity_id: Annotated[int, Path(ge=0, le=MAX_ROW_ID)]
) -> RiskResult:
    """An entity's risk: the exposure of all its addresses together."""
    return evaluate(scorer.policy, scorer.entity(chain, entity_id))


@router.get("/chains/{chain}/transactions/{tx_hash}/risk")
def transfer_risk(
    scorer: RiskScorer,
    chain: str,
    tx_hash: str,
    direction: Annotated[str, Query(pattern="^(incoming|outgoing)$")] = "incoming",
) -> RiskResult:
    """A transfer's risk: where its funds came from (incoming) or went (outgoing)."""
    return evaluate(scorer.policy, scorer.transfer(chain, tx_hash, forward=direction == "outgoing"))


@router.post("/screenings", status_code=201, response_model=ScreeningRead)
def create_screening(
    request: Request,
    response: Response,
    principal: CanScreen,
    db: SessionDep,
    reader: ReaderDep,
    settings: SettingsDep,
    body: ScreeningCreate,
    idempotency_key: Annotated[str | None, Header(max_length=128)] = None,
) -> Response:
    """Screen a deposit or withdrawal: a synchronous decision (allow, review, hold) with
    its risk result, stored with the policy version; an alert when the policy says so.

    The answer is ``ScreeningRead``, serialised once here (the hot path of a KYT service:
    FastAPI would validate and serialise the returned model a second time)."""
    found, created = screening_service.screen(
        db,
        scorer=scorer(request, principal, db, reader, settings),
        actor=principal.actor(),
        data=body,
        key=idempotency_key,
    )
    out = Response(
        content=ScreeningRead.model_validate(found).model_dump_json(),
        status_code=201 if created else 200,
        media_type="application/json",
    )
    # headers the dependencies set (a returned response is sent as it is)
    out.raw_headers.extend(
        h for h in response.raw_headers if h[0] not in (b"content-length", b"content-type")
    )
    return out


@router.get("/screenings")
def list_screenings(
    _: CanReadRisk,
    db: SessionDep,
    chain: Annotated[str | None, Query(max_length=16)] = None,
    action: Annotated[str | None, Query(max_length=16)] = None,
    severity: Annotated[str | None, Query(max_length=16)] = None,
    address: Annotated[str | None, Query(max_length=200)] = None,
    account_id: Annotated[str | None, Query(max_length=48)] = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=screening_service.MAX_PAGE)] = 50,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
) -> ScreeningPage:
    rows, total = screening_service.search(
        db, chain=chain, action=action, severity=severity, address=address,
        account_id=account_id, since=as_utc(since), until=as_utc(until), limit=limit,
        offset=offset,
    )  # fmt: skip
    return ScreeningPage(
        items=[ScreeningRead.model_validate(r) for r in rows], total=total, limit=limit,
        offset=offset,
    )  # fmt: skip


@router.get("/screenings/{screening_id}")
def get_screening(_: CanReadRisk, db: SessionDep, screening_id: RowId) -> ScreeningRead:
    return ScreeningRead.model_validate(screening_service.get(db, screening_id))


def _read(row: RiskPolicy) -> PolicyVersionRead:
    return PolicyVersionRead(
        version=row.version,
        created_at=row.created_at,
        created_by=row.created_by,
        comment=row.comment,
        is_active=row.is_active,
        body=row.body,
    )


@router.get("/risk/policy")
def active_policy(_: CanReadRisk, db: SessionDep) -> PolicyVersionRead:
    """The policy in force (version 1, the default, on first use)."""
    return _read(policy_store.active(db).row)


@router.put("/risk/policy")
def update_policy(
    principal: CanWritePolicy, db: SessionDep, body: PolicyUpdate
) -> PolicyVersionRead:
    """Write a new version of the policy (made active); a self-contradicting one is a 422."""
    saved = policy_store.save(db, actor=principal.actor(), body=body.body, comment=body.comment)
    db.commit()
    return _read(saved.row)


@router.get("/risk/policy/versions")
def policy_versions(_: CanReadRisk, db: SessionDep) -> list[PolicyVersionRead]:
    return [_read(r) for r in policy_store.versions(db)]


@router.get("/risk/policy/versions/{version}")
def policy_version(
    _: CanReadRisk, db: SessionDep, version: Annotated[int, Path(ge=1, le=10**9)]
) -> PolicyVersionRead:
    return _read(policy_store.get(db, version).row)


@router.get("/risk/policy/diff")
def policy_diff(
    _: CanReadRisk,
    db: SessionDep,
    from_: Annotated[int, Query(alias="from", ge=1, le=10**9)],
    to: Annotated[int, Query(ge=1, le=10**9)],
) -> dict[str, object]:
    """A unified diff of two versions' bodies."""
    return {"from": from_, "to": to, "diff": policy_store.version_diff(db, from_, to)}
