"""HTML pages of risk: the policy editor (``/risk/policy``) with its version history and
diffs, and the screenings list (``/risk/screenings``).

Anyone with ``risk:read`` sees the policy and its history; a compliance analyst
(``policy:write``) edits it in a form with one row per category (direction, hop limit,
the severity of its own label and the direct / indirect share that reaches each severity),
the action of each severity and the model's alert threshold. Saving writes a new version
(audited); a policy that contradicts itself is shown again with the reason (422).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from starlette.datastructures import FormData

from chainsleuth.auth.enums import Permission
from chainsleuth.core.errors import InvalidInput
from chainsleuth.labels.enums import Category
from chainsleuth.risk import policy_store
from chainsleuth.risk import screening as screening_service
from chainsleuth.risk.riskpolicy import SEVERITIES, Action, ExposureDirection, Severity
from chainsleuth.web.deps import Principal, SessionDep, requires
from chainsleuth.web.templating import render

router = APIRouter()

CanReadRisk = Annotated[Principal, Depends(requires(Permission.RISK_READ))]
CanWritePolicy = Annotated[Principal, Depends(requires(Permission.POLICY_WRITE))]


def _percent(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value * 100:g}"


def _rows(body: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for name, rule in sorted(body["categories"].items()):
        levels = rule.get("levels", {})
        rows.append(
            {
                "name": name,
                "direction": rule.get("direction", "both"),
                "hops": rule.get("hops", 3),
                "own_label": rule.get("own_label") or "",
                "levels": {
                    s.value: {
                        "direct": _percent(levels.get(s.value, {}).get("direct_share")),
                        "indirect": _percent(levels.get(s.value, {}).get("indirect_share")),
                        "values": {
                            k: v
                            for k, v in levels.get(s.value, {}).items()
                            if k.endswith("value_usd")
                        },
                    }
                    for s in SEVERITIES
                },
            }
        )
    return rows


def _page(
    request: Request,
    principal: Principal,
    db: SessionDep,
    *,
    version: int | None = None,
    body: dict[str, Any] | None = None,
    comment: str = "",
    error: str | None = None,
    notice: str | None = None,
    diff: tuple[int, int, str] | None = None,
    status_code: int = 200,
) -> Response:
    active = policy_store.active(db)
    shown = policy_store.get(db, version) if version is not None else active
    data = body if body is not None else shown.row.body
    return render(
        request,
        "risk/policy.html",
        {
            "active": active,
            "shown": shown,
            "body": data,
            "rows": _rows(data),
            "versions": policy_store.versions(db),
            "can_edit": principal.can(Permission.POLICY_WRITE) and shown.version == active.version,
            "severities": [s.value for s in SEVERITIES],
            "actions": [a.value for a in Action],
            "directions": [d.value for d in ExposureDirection],
            "others": sorted(c.value for c in Category if c.value not in data["categories"]),
            "comment": comment,
            "error": error,
            "notice": notice,
            "diff": diff,
        },
        status_code=status_code,
    )


@router.get("/risk/policy")
def policy_page(
    request: Request,
    principal: CanReadRisk,
    db: SessionDep,
    version: Annotated[int | None, Query(ge=1, le=10**9)] = None,
    diff_from: Annotated[int | None, Query(alias="from", ge=1, le=10**9)] = None,
    diff_to: Annotated[int | None, Query(alias="to", ge=1, le=10**9)] = None,
) -> Response:
    diff = None
    if diff_from is not None and diff_to is not None:
        diff = (diff_from, diff_to, policy_store.version_diff(db, diff_from, diff_to))
    return _page(request, principal, db, version=version, diff=diff)


def _share(form: FormData, name: str) -> float | None:
    raw = str(form.get(name, "") or "").strip()
    if not raw:
        return None
    try:
        value = float(raw.rstrip("%"))
    except ValueError:
        raise InvalidInput(f"{name}: {raw!r} is not a percentage") from None
    if not 0 < value <= 100:
        raise InvalidInput(f"{name}: a share is more than 0% and at most 100%")
    return value / 100


def body_from_form(current: dict[str, Any], form: FormData) -> dict[str, Any]:
    """The policy body the editor's form describes (value thresholds, model details and
    typology parameters not on the form are kept from ``current``)."""
    body = {k: v for k, v in current.items() if k != "categories"}
    categories: dict[str, Any] = {}
    names = [str(n) for n in form.getlist("category")]
    added = str(form.get("add_category", "") or "").strip()
    if added:
        names.append(added)
    for name in names:
        if form.get(f"cat.{name}.remove"):
            continue
        old = current["categories"].get(name, {})
        rule: dict[str, Any] = {
            "direction": str(form.get(f"cat.{name}.direction", old.get("direction", "both"))),
            "levels": {},
        }
        hops = str(form.get(f"cat.{name}.hops", old.get("hops", 3)) or "").strip()
        try:
            rule["hops"] = int(hops)
        except ValueError:
            raise InvalidInput(f"{name}: the hop limit {hops!r} is not a whole number") from None
        own = str(form.get(f"cat.{name}.own_label", old.get("own_label") or "") or "")
        if own:
            rule["own_label"] = own
        for severity in SEVERITIES:
            s = severity.value
            level = {
                k: v for k, v in old.get("levels", {}).get(s, {}).items() if k.endswith("value_usd")
            }
            for kind in ("direct", "indirect"):
                share = _share(form, f"cat.{name}.{s}.{kind}")
                if share is not None:
                    level[f"{kind}_share"] = share
            if level:
                rule["levels"][s] = level
        categories[name] = rule
    body["categories"] = categories
    body["actions"] = {
        s.value: str(form.get(f"action.{s.value}", current["actions"][s.value])) for s in SEVERITIES
    }
    model = dict(current.get("model", {}))
    model["enabled"] = bool(form.get("model.enabled"))
    threshold = _share(form, "model.threshold")
    if threshold is None:
        model.pop("threshold", None)
    else:
        model["threshold"] = threshold
    model["severity"] = str(form.get("model.severity", model.get("severity", "high")))
    body["model"] = model
    body["typology_severity"] = str(form.get("typology_severity", "") or "") or None
    return body


@router.post("/risk/policy")
async def policy_save(request: Request, principal: CanWritePolicy, db: SessionDep) -> Response:
    form = await request.form()
    comment = str(form.get("comment", "") or "")[:500]
    current = policy_store.active(db)
    body: dict[str, Any] | None = None
    try:
        body = body_from_form(current.row.body, form)
        saved = policy_store.save(db, actor=principal.actor(), body=body, comment=comment)
        db.commit()
    except InvalidInput as exc:
        db.rollback()
        return _page(
            request, principal, db, body=body if body is not None else None, comment=comment,
            error=exc.message, status_code=422,
        )  # fmt: skip
    return _page(request, principal, db, notice=f"Saved the policy as version {saved.version}.")


@router.get("/risk/screenings")
def screenings_page(
    request: Request,
    principal: CanReadRisk,
    db: SessionDep,
    action: Annotated[str, Query(max_length=16)] = "",
    severity: Annotated[str, Query(max_length=16)] = "",
    chain: Annotated[str, Query(max_length=16)] = "",
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
) -> Response:
    error = None
    rows: list[Any] = []
    total = 0
    try:
        rows, total = screening_service.search(
            db, chain=chain or None, action=action or None, severity=severity or None,
            limit=50, offset=offset,
        )  # fmt: skip
    except InvalidInput as exc:
        error = exc.message
    return render(
        request,
        "risk/screenings.html",
        {
            "rows": rows,
            "total": total,
            "offset": offset,
            "action": action,
            "severity": severity,
            "chain": chain,
            "actions": [a.value for a in Action],
            "severities": [s.value for s in Severity],
            "error": error,
        },
        status_code=422 if error else 200,
    )
