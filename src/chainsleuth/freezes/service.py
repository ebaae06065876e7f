"""Freezes and their four-eyes steps: request, approve, reject; the rules of each.

A freeze, its release, its extension and a seizure are each requested by one person
(``freezes:request``) and take effect only when a second person (``freezes:approve``)
approves; nobody approves their own request. A freeze has exactly one legal basis (a
law-enforcement request or a case decision) and a review date or an expiry. Approval moves
funds by ledger entries (``chainsleuth.ledger.service``) in the same transaction as the
freeze's new state and its audit entry.

A refused step (bad input, a conflict, approving one's own) is rolled back whole (the ledger
unchanged) and then audited in a transaction of its own, so that the refusal is on record.
Reading, the due list and the digest are in ``chainsleuth.freezes.reports``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import select
from sqlalchemy.orm import Session

from chainsleuth.audit import service as audit
from chainsleuth.audit.enums import Outcome
from chainsleuth.audit.service import Actor
from chainsleuth.cases import links as case_links
from chainsleuth.cases.enums import ItemType
from chainsleuth.chain.addresses import canonical_address
from chainsleuth.core.errors import (
    ChainsleuthError,
    Conflict,
    InvalidInput,
    NotFound,
    PermissionDenied,
)
from chainsleuth.core.models import as_utc, utcnow
from chainsleuth.exchange.models import Account, Customer
from chainsleuth.exchange.parse import ASSETS
from chainsleuth.freezes import effects
from chainsleuth.freezes.enums import ActionKind, ActionStatus, FreezeStatus, Scope
from chainsleuth.freezes.models import Freeze, FreezeAction
from chainsleuth.freezes.schemas import ExtensionCreate, FreezeCreate, SeizureCreate
from chainsleuth.orgs.models import Agency
from chainsleuth.requests.enums import RequestStatus, RequestType
from chainsleuth.requests.models import LeRequest

OBJECT = "freeze"

# a case decision is a basis as long as the case exists (cases are never deleted)
_cases = sa.table("cases", sa.column("id"))
#: the law-enforcement requests whose legal basis allows a freeze
FREEZE_BASIS_TYPES = frozenset({RequestType.FREEZE_ORDER, RequestType.SEIZURE_ORDER})
#: a request in these states is no basis any more
DEAD_REQUEST_STATES = frozenset({RequestStatus.REJECTED, RequestStatus.CLOSED})


@contextmanager
def _refusals(
    session: Session, *, actor: Actor, action: str, freeze_id: int | None
) -> Iterator[None]:
    """Run a step in a savepoint and commit it; if it is refused, roll the savepoint back (all
    it wrote, the ledger included, and the locks it took) and audit the refusal on its own.

    A savepoint rather than a rollback of the whole transaction: what the caller loaded
    before (the signed-in user) stays loaded for the error handler."""
    try:
        with session.begin_nested():
            yield
    except ChainsleuthError as exc:
        audit.record(
            session,
            actor=actor,
            action=action,
            outcome=Outcome.DENIED if isinstance(exc, PermissionDenied) else Outcome.FAILURE,
            object_type=OBJECT,
            object_id=freeze_id,
            details={"reason": exc.message, "code": exc.code},
        )
        session.commit()
        raise
    session.commit()


def _person(actor: Actor) -> int:
    if actor.user_id is None:
        raise PermissionDenied("freezes are requested and approved by named people, not the system")
    return actor.user_id


def _when(value: datetime | None, what: str, now: datetime) -> datetime | None:
    value = as_utc(value)
    if value is not None and value <= now:
        raise InvalidInput(f"the {what} must lie in the future")
    return value


def get(session: Session, freeze_id: int, *, lock: bool = False) -> Freeze:
    stmt = select(Freeze).where(Freeze.id == freeze_id)
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    freeze = session.scalar(stmt)
    if freeze is None:
        raise NotFound(f"no freeze #{freeze_id}")
    return freeze


def pending_action(session: Session, freeze_id: int, *, lock: bool = False) -> FreezeAction | None:
    stmt = select(FreezeAction).where(
        FreezeAction.freeze_id == freeze_id, FreezeAction.status == str(ActionStatus.PENDING)
    )
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    return session.scalar(stmt)


def _account_of(session: Session, customer: Customer, data: FreezeCreate) -> Account:
    if data.exchange_account_id:
        account = session.get(Account, data.exchange_account_id.strip().upper())
        if account is None or account.customer_id != customer.id:
            raise InvalidInput(
                f"customer {customer.id} has no account {data.exchange_account_id!r}"
            )
        if data.asset and data.asset.strip().upper() != account.asset:
            raise InvalidInput(f"account {account.id} holds {account.asset}, not {data.asset}")
        return account
    if not data.asset:
        raise InvalidInput(f"a freeze of scope {data.scope!r} names the account or the asset")
    asset = data.asset.strip().upper()
    account = session.scalar(
        select(Account).where(Account.customer_id == customer.id, Account.asset == asset)
    )
    if account is None:
        raise InvalidInput(f"customer {customer.id} has no {asset} account")
    return account


def _check_basis(session: Session, data: FreezeCreate) -> None:
    if (data.request_id is None) == (data.case_id is None):
        raise InvalidInput(
            "a freeze needs exactly one legal basis: a freeze or seizure order (request id) "
            "or a case decision (case id)"
        )
    if data.request_id is not None:
        order = session.get(LeRequest, data.request_id)
        if order is None:
            raise InvalidInput(f"no law-enforcement request #{data.request_id}")
        if order.type not in FREEZE_BASIS_TYPES:
            raise InvalidInput(
                f"request {order.reference} is a {order.type.replace('_', ' ')}, which is no "
                "legal basis for a freeze: only a freeze order or a seizure order is"
            )
        if order.status in DEAD_REQUEST_STATES:
            raise InvalidInput(
                f"request {order.reference} is {order.status}: it is no legal basis for a "
                "freeze any more"
            )
    elif session.scalar(select(_cases.c.id).where(_cases.c.id == data.case_id)) is None:
        raise InvalidInput(f"no case #{data.case_id}")


def request_freeze(
    session: Session, *, actor: Actor, data: FreezeCreate, now: datetime | None = None
) -> Freeze:
    """A freeze awaiting approval (nothing is held until a second person approves)."""
    with _refusals(session, actor=actor, action="freeze.request", freeze_id=None):
        now = now or utcnow()
        user_id = _person(actor)
        try:
            scope = Scope(data.scope)
        except ValueError:
            raise InvalidInput(
                f"unknown scope {data.scope!r} (use {', '.join(s.value for s in Scope)})"
            ) from None
        customer = session.get(Customer, data.customer_id.strip().upper())
        if customer is None:
            raise InvalidInput(f"no customer {data.customer_id!r}")
        _check_basis(session, data)
        if data.review_at is None and data.expires_at is None:
            raise InvalidInput("a freeze may not be open-ended: give a review date or an expiry")
        review_at = _when(data.review_at, "review date", now)
        expires_at = _when(data.expires_at, "expiry", now)
        if review_at and expires_at and review_at > expires_at:
            raise InvalidInput("the review date lies after the expiry")
        if not data.reason.strip():
            raise InvalidInput("give the reason for the freeze")
        account: Account | None = None
        if scope is Scope.ACCOUNT:
            if data.exchange_account_id or data.asset or data.amount is not None:
                raise InvalidInput(
                    "a whole-account freeze names no asset account or amount (use scope "
                    "'asset' or 'amount')"
                )
        else:
            account = _account_of(session, customer, data)
        if scope is Scope.AMOUNT and data.amount is None:
            raise InvalidInput("a freeze of an amount needs the amount")
        if scope is Scope.ASSET and data.amount is not None:
            raise InvalidInput("a freeze of one asset holds all of it: use scope 'amount'")
        freeze = Freeze(
            customer_id=customer.id,
            scope=str(scope),
            exchange_account_id=account.id if account else None,
            asset=account.asset if account else None,
            amount=data.amount if scope is Scope.AMOUNT else None,
            status=str(FreezeStatus.PENDING),
            request_id=data.request_id,
            case_id=data.case_id,
            reason=data.reason.strip(),
            review_at=review_at,
            expires_at=expires_at,
            requested_by=user_id,
        )
        session.add(freeze)
        session.flush()
        action = FreezeAction(
            freeze_id=freeze.id,
            kind=str(ActionKind.FREEZE),
            status=str(ActionStatus.PENDING),
            requested_by=user_id,
            note=freeze.reason,
        )
        session.add(action)
        session.flush()
        audit.record(
            session,
            actor=actor,
            action="freeze.request",
            object_type=OBJECT,
            object_id=freeze.id,
            details={
                "customer_id": freeze.customer_id,
                "scope": freeze.scope,
                "account": freeze.exchange_account_id,
                "amount": None if freeze.amount is None else str(freeze.amount),
                "request_id": freeze.request_id,
                "case_id": freeze.case_id,
                "action_id": action.id,
            },
        )
        _on_case(
            session,
            actor,
            freeze,
            f"freeze #{freeze.id} requested: {_what(freeze)} of customer {freeze.customer_id}",
        )
    return freeze


def _what(freeze: Freeze) -> str:
    if freeze.scope == Scope.ACCOUNT:
        return "whole account"
    if freeze.scope == Scope.ASSET:
        return f"{freeze.asset} account"
    return f"{freeze.amount} {freeze.asset} units"


def _on_case(session: Session, actor: Actor, freeze: Freeze, summary: str) -> None:
    """A step of a freeze whose legal basis is a case goes on that case's timeline (and the
    freeze among its linked items), in the step's transaction."""
    if freeze.case_id is not None:
        case_links.record_step(
            session,
            actor=actor,
            case_id=freeze.case_id,
            item_type=ItemType.FREEZE,
            item_ref=str(freeze.id),
            summary=summary,
            details={"freeze_id": freeze.id},
        )


def _require_active(freeze: Freeze) -> None:
    if freeze.status == FreezeStatus.PENDING:
        raise Conflict(f"freeze #{freeze.id} is not in force yet: approve or reject it first")
    if freeze.status != FreezeStatus.ACTIVE:
        raise Conflict(f"freeze #{freeze.id} is {freeze.status} already")


def _new_action(
    session: Session, *, freeze: Freeze, kind: ActionKind, user_id: int, note: str, **values: Any
) -> FreezeAction:
    _require_active(freeze)
    waiting = pending_action(session, freeze.id, lock=True)
    if waiting is not None:
        raise Conflict(
            f"freeze #{freeze.id} has a {waiting.kind} request (#{waiting.id}) awaiting "
            "approval already"
        )
    action = FreezeAction(
        freeze_id=freeze.id,
        kind=str(kind),
        status=str(ActionStatus.PENDING),
        requested_by=user_id,
        note=note.strip() or None,
        **values,
    )
    session.add(action)
    session.flush()
    return action


def request_release(
    session: Session, *, actor: Actor, freeze_id: int, note: str = ""
) -> FreezeAction:
    with _refusals(session, actor=actor, action="freeze.release_request", freeze_id=freeze_id):
        user_id = _person(actor)
        freeze = get(session, freeze_id, lock=True)
        action = _new_action(
            session, freeze=freeze, kind=ActionKind.RELEASE, user_id=user_id, note=note
        )
        _audit_request(session, actor, freeze, action)
    return action


def request_extension(
    session: Session,
    *,
    actor: Actor,
    freeze_id: int,
    data: ExtensionCreate,
    now: datetime | None = None,
) -> FreezeAction:
    with _refusals(session, actor=actor, action="freeze.extend_request", freeze_id=freeze_id):
        now = now or utcnow()
        user_id = _person(actor)
        freeze = get(session, freeze_id, lock=True)
        if data.review_at is None and data.expires_at is None:
            raise InvalidInput("an extension gives a new review date or a new expiry")
        review_at = _when(data.review_at, "new review date", now)
        expires_at = _when(data.expires_at, "new expiry", now)
        if expires_at and freeze.expires_at and expires_at <= freeze.expires_at:
            raise InvalidInput("the new expiry must lie after the current one")
        final_review = review_at or freeze.review_at
        final_expiry = expires_at or freeze.expires_at
        if final_review and final_expiry and final_review > final_expiry:
            raise InvalidInput("the review date would lie after the expiry")
        action = _new_action(
            session,
            freeze=freeze,
            kind=ActionKind.EXTEND,
            user_id=user_id,
            note=data.note,
            new_review_at=review_at,
            new_expires_at=expires_at,
        )
        _audit_request(session, actor, freeze, action)
    return action


def request_seizure(
    session: Session, *, actor: Actor, freeze_id: int, data: SeizureCreate
) -> FreezeAction:
    """A seizure of held funds to an agency's wallet, awaiting approval."""
    with _refusals(session, actor=actor, action="freeze.seize_request", freeze_id=freeze_id):
        user_id = _person(actor)
        freeze = get(session, freeze_id, lock=True)
        _require_active(freeze)
        hold = effects.hold_for(session, freeze, data.exchange_account_id)
        if data.amount is not None and data.amount > hold.held:
            raise InvalidInput(
                f"cannot seize {data.amount} {hold.asset} units: freeze #{freeze.id} holds "
                f"only {hold.held} in {hold.exchange_account_id}"
            )
        agency = session.get(Agency, data.agency_id)
        if agency is None:
            raise InvalidInput(f"no agency #{data.agency_id}")
        wallet = canonical_address(ASSETS[hold.asset][0], data.wallet_address.strip())
        action = _new_action(
            session,
            freeze=freeze,
            kind=ActionKind.SEIZE,
            user_id=user_id,
            note=data.note,
            exchange_account_id=hold.exchange_account_id,
            amount=data.amount,
            agency_id=agency.id,
            wallet_address=wallet,
        )
        _audit_request(session, actor, freeze, action)
    return action


def _audit_request(session: Session, actor: Actor, freeze: Freeze, action: FreezeAction) -> None:
    details: dict[str, Any] = {"action_id": action.id}
    if action.kind == ActionKind.EXTEND:
        details["review_at"] = action.new_review_at.isoformat() if action.new_review_at else None
        details["expires_at"] = action.new_expires_at.isoformat() if action.new_expires_at else None
    if action.kind == ActionKind.SEIZE:
        details.update(
            account=action.exchange_account_id,
            amount=None if action.amount is None else str(action.amount),
            agency_id=action.agency_id,
            wallet=action.wallet_address,
        )
    audit.record(
        session,
        actor=actor,
        action=f"freeze.{action.kind}_request",
        object_type=OBJECT,
        object_id=freeze.id,
        details=details,
    )
    _on_case(session, actor, freeze, f"freeze #{freeze.id}: {action.kind} requested")


def _decidable(session: Session, freeze_id: int, user_id: int) -> tuple[Freeze, FreezeAction]:
    freeze = get(session, freeze_id, lock=True)
    action = pending_action(session, freeze_id, lock=True)
    if action is None:
        raise Conflict(f"freeze #{freeze_id} has nothing awaiting approval")
    if action.requested_by == user_id:
        raise PermissionDenied(
            f"you requested this {action.kind}: a second person must approve or reject it"
        )
    return freeze, action


def approve(
    session: Session,
    *,
    actor: Actor,
    freeze_id: int,
    note: str = "",
    now: datetime | None = None,
) -> FreezeAction:
    """The second person approves the freeze's pending step, which then takes effect."""
    with _refusals(session, actor=actor, action="freeze.approve", freeze_id=freeze_id):
        now = now or utcnow()
        user_id = _person(actor)
        freeze, action = _decidable(session, freeze_id, user_id)
        kind = ActionKind(action.kind)
        details: dict[str, Any] = {"action_id": action.id, "kind": str(kind)}
        if kind is ActionKind.FREEZE:
            details["held"] = effects.place(session, actor, freeze, now)
        elif kind is ActionKind.RELEASE:
            details["released"] = effects.release(session, actor, freeze, now)
        elif kind is ActionKind.EXTEND:
            if action.new_review_at:
                freeze.review_at = action.new_review_at
            if action.new_expires_at:
                freeze.expires_at = action.new_expires_at
            details["review_at"] = freeze.review_at.isoformat() if freeze.review_at else None
            details["expires_at"] = freeze.expires_at.isoformat() if freeze.expires_at else None
        else:
            details.update(effects.seize(session, actor, freeze, action, now))
        action.status = str(ActionStatus.APPROVED)
        action.decided_by = user_id
        action.decided_at = now
        action.decision_note = note.strip() or None
        session.flush()
        audit.record(
            session,
            actor=actor,
            action=f"freeze.{kind}_approved",
            object_type=OBJECT,
            object_id=freeze.id,
            details=details,
        )
        _on_case(session, actor, freeze, f"freeze #{freeze.id}: {kind} approved")
    return action


def reject(session: Session, *, actor: Actor, freeze_id: int, note: str = "") -> FreezeAction:
    """The second person turns the pending step down (a rejected freeze never held anything)."""
    with _refusals(session, actor=actor, action="freeze.reject", freeze_id=freeze_id):
        user_id = _person(actor)
        if not note.strip():
            raise InvalidInput("give the reason for the rejection")
        freeze, action = _decidable(session, freeze_id, user_id)
        action.status = str(ActionStatus.REJECTED)
        action.decided_by = user_id
        action.decided_at = utcnow()
        action.decision_note = note.strip()
        if action.kind == ActionKind.FREEZE:
            freeze.status = str(FreezeStatus.REJECTED)
            freeze.closed_at = action.decided_at
        session.flush()
        audit.record(
            session,
            actor=actor,
            action=f"freeze.{action.kind}_rejected",
            object_type=OBJECT,
            object_id=freeze.id,
            details={"action_id": action.id, "note": action.decision_note},
        )
        _on_case(session, actor, freeze, f"freeze #{freeze.id}: {action.kind} rejected")
    return action


def check(session: Session) -> list[str]:
    """Every broken invariant of the ledger and of the freezes' holds (empty: all sound)."""
    return effects.check(session)
