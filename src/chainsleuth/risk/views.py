"""JSON API of risk: model versions (the active one chosen by an administrator), an
address's illicit probability with its top feature contributions, and the typology
instances that touch an address.

Reading needs ``chain:read``; activating a version needs the admin role (403 otherwise)
and is audited. An unknown chain or malformed address is a 422; an unknown version, an
address not on the chain or no trained model a 404.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from chainsleuth.audit import service as audit_service
from chainsleuth.auth.enums import Permission, Role
from chainsleuth.chain.addresses import canonical_address
from chainsleuth.chain.chains import get_chain
from chainsleuth.chain.views import CanRead, ReaderDep
from chainsleuth.core.errors import NotFound, PermissionDenied
from chainsleuth.risk import model as risk_model
from chainsleuth.risk import registry
from chainsleuth.risk.typologies import TypologyInstance, detect, parse_typologies
from chainsleuth.web.deps import Principal, SessionDep, SettingsDep, requires

router = APIRouter(tags=["risk"])
CanAdmin = Annotated[Principal, Depends(requires(Permission.CHAIN_READ))]


def _root(request: Request) -> Path:
    return Path(request.app.state.chain_store.root)


def _address_id(reader: ReaderDep, chain: str, address: str) -> int:
    info = get_chain(chain)
    found = reader.address_id(info.id, canonical_address(info.id, address))
    if found is None:
        raise NotFound(f"address {address} is not on {info.id}")
    return found


@router.get("/risk/models")
def models(_: CanRead, settings: SettingsDep) -> dict[str, Any]:
    """The stored model versions with their test metrics, and the active one."""
    root = registry.models_dir(settings.data_dir)
    return {
        "active": registry.active(root),
        "versions": [registry.metrics(root, v) for v in registry.versions(root)],
    }


@router.get("/risk/models/{version}")
def model_version(_: CanRead, settings: SettingsDep, version: str) -> dict[str, Any]:
    return registry.metrics(registry.models_dir(settings.data_dir), version)


@router.post("/risk/models/{version}/activate")
def activate(
    principal: CanAdmin, settings: SettingsDep, db: SessionDep, version: str
) -> dict[str, Any]:
    """Make a version the active one (administrators only)."""
    if principal.user.role != Role.ADMIN:
        raise PermissionDenied("only an administrator chooses the active model")
    root = registry.models_dir(settings.data_dir)
    registry.check_version(root, version)
    audit_service.record(
        db,
        actor=principal.actor(),
        action="risk.model.activate",
        object_type="model",
        object_id=version,
        details={"previous": registry.active(root)},
    )
    registry.activate(root, version, by=principal.user.username)
    db.commit()
    return {"active": version}


@router.get("/chains/{chain}/addresses/{address}/risk/score")
def score(
    _: CanRead,
    request: Request,
    settings: SettingsDep,
    reader: ReaderDep,
    chain: str,
    address: str,
) -> dict[str, Any]:
    """The address's calibrated illicit probability and its top feature contributions."""
    aid = _address_id(reader, chain, address)
    models_root = registry.models_dir(settings.data_dir)
    version = registry.resolve(models_root, None)
    prob, contrib = risk_model.score_addresses(
        _root(request), chain, [aid], models=models_root, version=version
    )
    return {"version": version, "probability": float(prob[0]), "contributions": contrib[0]}


@router.get("/chains/{chain}/addresses/{address}/risk/typologies")
def typologies(
    _: CanRead,
    request: Request,
    reader: ReaderDep,
    chain: str,
    address: str,
    typology: Annotated[str | None, Query(max_length=400)] = None,
) -> list[TypologyInstance]:
    """The typology instances that touch the address, each with its explanation."""
    aid = _address_id(reader, chain, address)
    return detect(_root(request), chain, address_ids=[aid], typologies=parse_typologies(typology))
