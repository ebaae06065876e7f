"""Object-level access: which rows a user may see.

Exchange staff (internal roles) see across tenants; a law-enforcement officer sees only the
objects of the officer's agency, a partner only those of the organisation, and a user with
neither sees none. Every tenant-owned model carries ``agency_id`` and/or
``organisation_id``; a row the user may not see is reported as not found (404), never as
forbidden, so that its existence does not leak.
"""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, false, or_

from chainsleuth.auth.models import User
from chainsleuth.core.errors import NotFound, NotVisible

T = TypeVar("T")


def visibility(user: User, model: Any) -> ColumnElement[bool] | None:
    """The condition on ``model`` rows that ``user`` may see; None when unrestricted."""
    if user.role.is_internal:
        return None
    clauses: list[ColumnElement[bool]] = []
    if user.agency_id is not None and hasattr(model, "agency_id"):
        clauses.append(model.agency_id == user.agency_id)
    if user.organisation_id is not None and hasattr(model, "organisation_id"):
        clauses.append(model.organisation_id == user.organisation_id)
    if model is User:
        clauses.append(User.id == user.id)  # everyone may see themselves
    if not clauses:
        return false()
    return or_(*clauses)


def scoped(user: User, stmt: Select[Any], model: Any) -> Select[Any]:
    condition = visibility(user, model)
    return stmt if condition is None else stmt.where(condition)


def can_see(user: User, obj: Any) -> bool:
    if user.role.is_internal:
        return True
    if obj is user:
        return True
    agency_id = getattr(obj, "agency_id", None)
    if user.agency_id is not None and agency_id == user.agency_id:
        return True
    organisation_id = getattr(obj, "organisation_id", None)
    return user.organisation_id is not None and organisation_id == user.organisation_id


def ensure_visible(user: User, obj: T | None, *, what: str) -> T:
    if obj is None:
        raise NotFound(f"no such {what}")
    if not can_see(user, obj):
        raise NotVisible(f"no such {what}")
    return obj
