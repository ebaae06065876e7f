"""JSON API: the signed-in user, users (scoped per tenant) and personal API tokens."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, status
from pydantic import BaseModel

from chainsleuth.auth import service as user_service
from chainsleuth.auth import tokens as token_service
from chainsleuth.auth.enums import Permission, Role
from chainsleuth.auth.models import User
from chainsleuth.auth.schemas import TokenCreate, TokenCreated, TokenRead, UserCreate, UserRead
from chainsleuth.core.errors import PermissionDenied
from chainsleuth.core.models import RowId
from chainsleuth.web.deps import CurrentPrincipal, Principal, SessionDep, requires

router = APIRouter(tags=["users"])

CanReadUsers = Annotated[Principal, Depends(requires(Permission.USERS_READ))]
CanManageUsers = Annotated[Principal, Depends(requires(Permission.USERS_MANAGE))]
CanUseProfile = Annotated[Principal, Depends(requires(Permission.PROFILE_READ))]


class Me(UserRead):
    permissions: list[str]
    via: str


def visible_user(user_id: RowId, principal: CanReadUsers, db: SessionDep) -> User:
    """The user in the path, or 404 when it does not exist or is another tenant's."""
    return user_service.get_visible(db, viewer=principal.user, user_id=user_id)


VisibleUser = Annotated[User, Depends(visible_user)]


@router.get("/me")
def me(principal: CanUseProfile) -> Me:
    base = UserRead.model_validate(principal.user).model_dump()
    return Me(**base, permissions=sorted(principal.permissions), via=str(principal.channel))


@router.get("/users")
def list_users(
    principal: CanReadUsers,
    db: SessionDep,
    role: Role | None = None,
    active: bool | None = None,
    q: Annotated[str | None, Query(max_length=100)] = None,
) -> list[UserRead]:
    users = user_service.list_visible(db, viewer=principal.user, role=role, active=active, q=q)
    return [UserRead.model_validate(u) for u in users]


@router.post("/users", status_code=status.HTTP_201_CREATED)
def create_user(data: UserCreate, principal: CanManageUsers, db: SessionDep) -> UserRead:
    user = user_service.create_user(db, actor=principal.actor(), data=data)
    return UserRead.model_validate(user)


@router.get("/users/{user_id}")
def get_user(user: VisibleUser) -> UserRead:
    return UserRead.model_validate(user)


class UserAction(BaseModel):
    ok: bool = True
    user: UserRead


@router.post("/users/{user_id}/disable")
def disable_user(user: VisibleUser, principal: CanManageUsers, db: SessionDep) -> UserRead:
    return UserRead.model_validate(
        user_service.set_active(db, actor=principal.actor(), user=user, active=False)
    )


@router.post("/users/{user_id}/enable")
def enable_user(user: VisibleUser, principal: CanManageUsers, db: SessionDep) -> UserRead:
    return UserRead.model_validate(
        user_service.set_active(db, actor=principal.actor(), user=user, active=True)
    )


@router.post("/users/{user_id}/unlock")
def unlock_user(user: VisibleUser, principal: CanManageUsers, db: SessionDep) -> UserRead:
    return UserRead.model_validate(user_service.unlock(db, actor=principal.actor(), user=user))


@router.post("/users/{user_id}/reset-mfa")
def reset_mfa(user: VisibleUser, principal: CanManageUsers, db: SessionDep) -> UserRead:
    return UserRead.model_validate(user_service.reset_mfa(db, actor=principal.actor(), user=user))


@router.get("/tokens", tags=["tokens"])
def list_tokens(principal: CanUseProfile, db: SessionDep) -> list[TokenRead]:
    return [TokenRead.model_validate(t) for t in token_service.list_for(db, user=principal.user)]


@router.post("/tokens", status_code=status.HTTP_201_CREATED, tags=["tokens"])
def create_token(data: TokenCreate, principal: CurrentPrincipal, db: SessionDep) -> TokenCreated:
    if principal.token is not None:
        raise PermissionDenied("API tokens can only be created from a signed-in browser session")
    issued = token_service.create(
        db,
        actor=principal.actor(),
        user=principal.user,
        name=data.name,
        scopes=data.scopes,
        days=data.days,
    )
    return TokenCreated(**TokenRead.model_validate(issued.record).model_dump(), token=issued.token)


@router.delete("/tokens/{token_id}", tags=["tokens"])
def revoke_token(token_id: RowId, principal: CanUseProfile, db: SessionDep) -> TokenRead:
    record = token_service.revoke(
        db, actor=principal.actor(), user=principal.user, token_id=token_id
    )
    return TokenRead.model_validate(record)
