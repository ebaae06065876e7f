"""The workflow of a request and the rules that guard disclosure.

    received -> triage -> assigned -> gathering -> legal_review -> approved | rejected
    | more_info_needed;  approved -> delivered -> closed;  rejected -> closed;
    more_info_needed -> triage | assigned | gathering | legal_review | closed

Every step is written with its audit entry in the same transaction; a step the graph does
not allow, or one whose rule is not met, is a ``Conflict`` (HTTP 409) naming the reason.

Emergency, freeze and seizure requests need a confirmed second-channel call-back and two
distinct approvers before they are approved or delivered; a failed call-back is recorded
against the sender (``officers.service.record_verification_failure``) and blocks the
request. No request reaches "delivered" unless its sender is a verified officer now.
The customer-notification state machine (``NotificationState``) moves with the workflow here
and with ``requests.notify.process_notifications``, which sends the notices.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from chainsleuth.audit import service as audit
from chainsleuth.audit.enums import Outcome
from chainsleuth.audit.service import Actor
from chainsleuth.auth.enums import Permission
from chainsleuth.auth.models import User
from chainsleuth.core.errors import Conflict, InvalidInput, PermissionDenied
from chainsleuth.core.models import utcnow
from chainsleuth.officers import service as officer_service
from chainsleuth.officers.enums import FailureKind
from chainsleuth.requests.enums import (
    ApprovalDecision,
    CallbackOutcome,
    NotificationState,
    RequestStatus,
    RequestType,
    VerificationState,
)
from chainsleuth.requests.models import (
    LeRequest,
    LeRequestApproval,
    LeRequestVerification,
)
from chainsleuth.requests.service import add_notification_step

S = RequestStatus
TRANSITIONS: dict[RequestStatus, frozenset[RequestStatus]] = {
    S.RECEIVED: frozenset({S.TRIAGE, S.REJECTED, S.MORE_INFO_NEEDED}),
    S.TRIAGE: frozenset({S.ASSIGNED, S.REJECTED, S.MORE_INFO_NEEDED}),
    S.ASSIGNED: frozenset({S.GATHERING, S.REJECTED, S.MORE_INFO_NEEDED}),
    S.GATHERING: frozenset({S.LEGAL_REVIEW, S.MORE_INFO_NEEDED}),
    S.LEGAL_REVIEW: frozenset({S.APPROVED, S.REJECTED, S.MORE_INFO_NEEDED, S.GATHERING}),
    S.MORE_INFO_NEEDED: frozenset({S.TRIAGE, S.ASSIGNED, S.GATHERING, S.LEGAL_REVIEW, S.CLOSED}),
    S.APPROVED: frozenset({S.DELIVERED, S.LEGAL_REVIEW}),
    S.REJECTED: frozenset({S.CLOSED}),
    S.DELIVERED: frozenset({S.CLOSED}),
    S.CLOSED: frozenset(),
}
#: steps that are a legal decision: only a legal reviewer (requests:approve) takes them
DECISIONS = frozenset({S.APPROVED, S.REJECTED})
CLOSED_STATES = frozenset({S.DELIVERED, S.REJECTED, S.CLOSED})


def allowed(req: LeRequest) -> list[RequestStatus]:
    return sorted(TRANSITIONS[RequestStatus(req.status)], key=list(RequestStatus).index)


def approvals_of(session: Session, req: LeRequest) -> list[LeRequestApproval]:
    return list(
        session.scalars(
            select(LeRequestApproval)
            .where(LeRequestApproval.request_id == req.id)
            .order_by(LeRequestApproval.id)
        )
    )


def verifications_of(session: Session, req: LeRequest) -> list[LeRequestVerification]:
    return list(
        session.scalars(
            select(LeRequestVerification)
            .where(LeRequestVerification.request_id == req.id)
            .order_by(LeRequestVerification.id)
        )
    )


def required_approvals(req: LeRequest) -> int:
    return 2 if RequestType(req.type).needs_second_channel else 1


def approvers(session: Session, req: LeRequest) -> set[int]:
    return {
        a.approver_id for a in approvals_of(session, req) if a.decision == ApprovalDecision.APPROVE
    }


@dataclass(frozen=True)
class Gate:
    ok: bool
    reason: str = ""


def approval_gate(session: Session, req: LeRequest) -> Gate:
    """Whether the request may be approved now."""
    if RequestType(req.type).needs_second_channel:
        if req.verification_state == VerificationState.FAILED:
            return Gate(
                False, "the second-channel call-back failed: the request cannot be approved"
            )
        if req.verification_state != VerificationState.CONFIRMED:
            return Gate(
                False,
                "a second-channel call-back to the agency's registered number must confirm"
                " this request first",
            )
    have, need = len(approvers(session, req)), required_approvals(req)
    if have < need:
        return Gate(False, f"needs {need} distinct approvers ({have} so far)")
    return Gate(True)


def delivery_gate(session: Session, req: LeRequest) -> Gate:
    """Whether anything may be disclosed (or frozen) on this request now."""
    if req.status != S.APPROVED:
        return Gate(False, f"the request is {S(req.status).label.lower()}, not approved")
    if req.officer_id is None or not officer_service.is_verified_sender(
        session, user_id=req.officer_id
    ):
        return Gate(False, "the sender is not a verified officer: nothing may be disclosed")
    gate = approval_gate(session, req)
    if not gate.ok:
        return gate
    return Gate(True)


def _check_permission(permissions: frozenset[Permission], to: RequestStatus) -> None:
    if Permission.REQUESTS_WORK not in permissions:
        raise PermissionDenied("you do not have permission to do this (needs requests:work)")
    if to in DECISIONS and Permission.REQUESTS_APPROVE not in permissions:
        raise PermissionDenied(
            f"only a legal reviewer may move a request to {to.label.lower()}"
            " (needs requests:approve)"
        )


def transition(
    session: Session,
    *,
    req: LeRequest,
    to: RequestStatus,
    actor: Actor,
    permissions: frozenset[Permission],
    note: str = "",
    assignee: User | None = None,
    commit: bool = True,
) -> LeRequest:
    """Move the request one step; the rules first, then the change with its audit entry."""
    _check_permission(permissions, to)
    current = RequestStatus(req.status)
    if to not in TRANSITIONS[current]:
        nexts = ", ".join(s.value for s in allowed(req)) or "none (it is closed)"
        raise Conflict(
            f"a request that is {current.value} cannot move to {to.value} (allowed: {nexts})"
        )
    if to is S.APPROVED:
        gate = approval_gate(session, req)
        if not gate.ok:
            raise Conflict(gate.reason)
    if to is S.DELIVERED:
        gate = delivery_gate(session, req)
        if not gate.ok:
            raise Conflict(gate.reason)
    if to is S.ASSIGNED:
        if assignee is None:
            raise InvalidInput("assignee: name who works on the request")
        if not assignee.role.is_internal or not assignee.is_active:
            raise InvalidInput("assignee: only an active member of staff can be assigned")
        req.assignee_id = assignee.id
    now = utcnow()
    req.status = to.value
    req.is_open = to not in CLOSED_STATES
    if to is S.DELIVERED:
        req.responded_at = now
        if req.notification_state == NotificationState.QUEUED:
            req.notification_due_at = now
    if to is S.REJECTED:
        req.responded_at = req.responded_at or now
    if to is S.CLOSED:
        req.closed_at = now
    _notification_on(session, req, to, now)
    audit.record(
        session,
        actor=actor,
        action="request.transition",
        object_type="le_request",
        object_id=req.id,
        details={
            "reference": req.reference,
            "from": current.value,
            "to": to.value,
            "note": note[:500],
            "assignee_id": req.assignee_id if to is S.ASSIGNED else None,
        },
    )
    if commit:
        session.commit()
    return req


def _notification_on(session: Session, req: LeRequest, to: RequestStatus, now: datetime) -> None:
    state = NotificationState(req.notification_state)
    if state in (NotificationState.SENT, NotificationState.CANCELLED):
        return
    if to is S.REJECTED or (to is S.CLOSED and req.responded_at is None):
        add_notification_step(
            session, req, NotificationState.CANCELLED, "nothing was disclosed: no notice"
        )
        req.notification_due_at = None
    elif to is S.CLOSED and state is NotificationState.DEFERRED:
        add_notification_step(
            session, req, NotificationState.QUEUED, "emergency closed: notice re-queued"
        )
        req.notification_due_at = now


def record_verification(
    session: Session,
    *,
    req: LeRequest,
    reviewer: User,
    actor: Actor,
    phone_number: str,
    contact_name: str,
    outcome: CallbackOutcome,
    note: str = "",
) -> LeRequestVerification:
    """A reviewer's call-back to the agency's registered number, and what it gave."""
    if not RequestType(req.type).needs_second_channel:
        raise Conflict("this type of request needs no second-channel verification")
    if not req.is_open:
        raise Conflict("the request is no longer open")
    if req.verification_state == VerificationState.FAILED:
        raise Conflict("a call-back failed already: the request stays blocked")
    check = LeRequestVerification(
        request_id=req.id,
        reviewer_id=reviewer.id,
        reviewer_name=reviewer.full_name,
        phone_number=phone_number.strip(),
        contact_name=contact_name.strip(),
        outcome=outcome.value,
        note=note.strip(),
    )
    session.add(check)
    req.verification_state = (
        VerificationState.CONFIRMED
        if outcome is CallbackOutcome.CONFIRMED
        else VerificationState.FAILED
    ).value
    session.flush()
    if outcome is CallbackOutcome.FAILED and req.officer_id is not None:
        officer_service.record_verification_failure(
            session,
            user_id=req.officer_id,
            kind=FailureKind.CALLBACK,
            actor=actor,
            note=f"{req.reference}: call-back to {check.phone_number} not confirmed. {note}"[:1000],
        )
    audit.record(
        session,
        actor=actor,
        action="request.verification",
        outcome=Outcome.SUCCESS if outcome is CallbackOutcome.CONFIRMED else Outcome.FAILURE,
        object_type="le_request",
        object_id=req.id,
        details={
            "reference": req.reference,
            "outcome": outcome.value,
            "phone_number": check.phone_number,
            "contact_name": check.contact_name,
        },
    )
    session.commit()
    return check


def record_approval(
    session: Session,
    *,
    req: LeRequest,
    approver: User,
    actor: Actor,
    permissions: frozenset[Permission],
    decision: ApprovalDecision,
    note: str = "",
) -> LeRequest:
    """A legal reviewer's decision. Rejection rejects; the last approval needed approves."""
    if Permission.REQUESTS_APPROVE not in permissions:
        raise PermissionDenied("only a legal reviewer may approve (needs requests:approve)")
    if req.status != S.LEGAL_REVIEW:
        raise Conflict(f"a request is approved in legal review, not when {req.status}")
    if approver.id in {a.approver_id for a in approvals_of(session, req)}:
        raise Conflict("you have decided on this request already: a second person must approve")
    session.add(
        LeRequestApproval(
            request_id=req.id,
            approver_id=approver.id,
            approver_name=approver.full_name,
            decision=decision.value,
            note=note.strip(),
        )
    )
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="request.approval",
        object_type="le_request",
        object_id=req.id,
        details={"reference": req.reference, "decision": decision.value, "note": note[:500]},
    )
    if decision is ApprovalDecision.REJECT:
        transition(
            session,
            req=req,
            to=S.REJECTED,
            actor=actor,
            permissions=permissions,
            note=note,
            commit=False,
        )
    elif approval_gate(session, req).ok:
        transition(
            session,
            req=req,
            to=S.APPROVED,
            actor=actor,
            permissions=permissions,
            note="approvals complete",
            commit=False,
        )
    session.commit()
    return req


def mark_delivered(
    session: Session, *, req: LeRequest, actor: Actor, note: str = "", commit: bool = True
) -> LeRequest:
    """For the response package: the delivery of an approved request (the same rules)."""
    return transition(
        session,
        req=req,
        to=S.DELIVERED,
        actor=actor,
        permissions=frozenset({Permission.REQUESTS_WORK}),
        note=note or "response package delivered",
        commit=commit,
    )
