"""Customer notification: the notices that tell customers their records were disclosed.

The state machine (``NotificationState``) lives on the request and moves with the workflow
(``flows``): a request starts *queued* (notify by default once delivered), *held* while a
non-disclosure order runs (due when it ends) or *deferred* in an emergency (re-queued when
the request is closed); a request that disclosed nothing is *cancelled*.

:func:`process_notifications` (``chainsleuth requests notify-due``) takes the due ones:

* held, order ended -> queued (due now if the request was delivered, else at delivery;
  cancelled when it was closed without disclosure);
* queued and delivered -> one notice per customer whose records the delivered packages
  produced (``packages.service.disclosed_customers``): a mail to the e-mail address of the
  customer's KYC record, written to the outbox officers' mail uses, and a
  ``le_request_notices`` row -> *sent*; when no customer's records were produced ->
  *cancelled*.

Every step is audited (the KYC e-mail read for a notice is named in the audit entry), and
one run is one transaction: a notice is in the outbox exactly when its request says *sent*.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from chainsleuth.audit import service as audit
from chainsleuth.audit.service import Actor
from chainsleuth.core.config import Settings
from chainsleuth.core.models import utcnow
from chainsleuth.exchange import service as exchange_service
from chainsleuth.exchange.kyc import KycKeys
from chainsleuth.officers import mail
from chainsleuth.orgs.models import Agency
from chainsleuth.packages import service as package_service
from chainsleuth.packages.enums import Category
from chainsleuth.requests.enums import NoticeOutcome, NotificationState
from chainsleuth.requests.models import LeRequest, LeRequestNotice, LeRequestNotification
from chainsleuth.requests.service import add_notification_step

TEMPLATE = "request.customer_notice"
SUBJECT = "Notice: your records were disclosed in answer to a legal request"


@dataclass
class NotificationRun:
    requeued: int = 0
    sent: int = 0
    cancelled: int = 0
    mails: int = 0

    @property
    def total(self) -> int:
        return self.requeued + self.sent + self.cancelled


def due_notifications(session: Session, *, now: datetime, limit: int = 1000) -> list[LeRequest]:
    """Held requests whose order ended and queued ones that are due, the oldest first."""
    return list(
        session.scalars(
            select(LeRequest)
            .where(
                LeRequest.notification_due_at <= now,
                or_(
                    LeRequest.notification_state == NotificationState.HELD.value,
                    LeRequest.notification_state == NotificationState.QUEUED.value,
                ),
            )
            .order_by(LeRequest.notification_due_at, LeRequest.id)
            .limit(limit)
        )
    )


def notice_body(
    *, reference: str, agency: str, delivered: datetime, categories: list[Category]
) -> str:
    listed = "\n".join(f"  - {c.label}" for c in categories)
    return (
        "Dear customer,\n\n"
        f"On {delivered:%Y-%m-%d}, in answer to a legal request from {agency}, we disclosed "
        "the following records of your accounts with us:\n\n"
        f"{listed}\n\n"
        f"Our reference for the request is {reference}. We tell you because no order "
        "forbids it. We disclosed only what the request's legal basis allows. If you have "
        "questions, reply to this message quoting the reference; for questions about the "
        "investigation itself, please contact the agency.\n\n"
        "The investigations team\n"
    )


def _requeue(
    session: Session, req: LeRequest, actor: Actor, now: datetime, run: NotificationRun
) -> None:
    add_notification_step(session, req, NotificationState.QUEUED, "the non-disclosure order ended")
    req.notification_due_at = now if req.responded_at is not None else None
    run.requeued += 1
    audit.record(
        session, actor=actor, action="request.notification_requeued", object_type="le_request",
        object_id=req.id, details={"reference": req.reference},
    )  # fmt: skip
    if req.responded_at is None and not req.is_open:
        _cancel(session, req, actor, "closed without disclosure: no notice", run)


def _cancel(
    session: Session, req: LeRequest, actor: Actor, reason: str, run: NotificationRun
) -> None:
    add_notification_step(session, req, NotificationState.CANCELLED, reason)
    req.notification_due_at = None
    run.cancelled += 1
    audit.record(
        session, actor=actor, action="request.notification_cancelled", object_type="le_request",
        object_id=req.id, details={"reference": req.reference, "reason": reason},
    )  # fmt: skip


def _send(
    session: Session,
    req: LeRequest,
    *,
    actor: Actor,
    settings: Settings,
    keys: KycKeys,
    now: datetime,
    run: NotificationRun,
) -> None:
    disclosed = package_service.disclosed_customers(session, request_id=req.id)
    if not disclosed:
        _cancel(session, req, actor, "no customer's records were disclosed: no notice", run)
        return
    agency = session.get(Agency, req.agency_id)
    agency_name = f"{agency.name} ({agency.country})" if agency else "a law-enforcement agency"
    delivered = req.responded_at or now
    mailed: dict[str, int] = {}
    no_address: list[str] = []
    for customer_id, categories in disclosed.items():
        customer = exchange_service.get_customer(session, customer_id)
        email = keys.decrypt(customer.kyc, customer.kyc_key_version).get("email")
        names = ", ".join(str(c) for c in categories)
        if email:
            message = mail.queue(
                session, settings=settings, to=str(email).strip().lower(), subject=SUBJECT,
                body=notice_body(reference=req.reference, agency=agency_name,
                                 delivered=delivered, categories=categories),
                template=TEMPLATE,
            )  # fmt: skip
            mailed[customer_id] = message.id
            notice = LeRequestNotice(
                request_id=req.id, customer_id=customer_id, outcome=NoticeOutcome.MAILED.value,
                mail_id=message.id, to_masked=customer.masked.get("email"), categories=names,
                created_at=now,
            )  # fmt: skip
        else:
            no_address.append(customer_id)
            notice = LeRequestNotice(
                request_id=req.id, customer_id=customer_id,
                outcome=NoticeOutcome.NO_ADDRESS.value, categories=names, created_at=now,
            )  # fmt: skip
        session.add(notice)
    reason = f"{len(mailed)} customer(s) notified by e-mail"
    if no_address:
        reason += f", {len(no_address)} without an e-mail address on file"
    add_notification_step(session, req, NotificationState.SENT, reason)
    req.notified_at = now
    req.notification_due_at = None
    run.sent += 1
    run.mails += len(mailed)
    audit.record(
        session,
        actor=actor,
        action="request.customer_notified",
        object_type="le_request",
        object_id=req.id,
        details={
            "reference": req.reference,
            "mailed": mailed,
            "no_address": no_address,
            "kyc_fields_read": ["email"],
        },
    )


def process_notifications(
    session: Session,
    *,
    actor: Actor,
    settings: Settings,
    now: datetime | None = None,
    limit: int = 1000,
) -> NotificationRun:
    """Re-queue the notices whose non-disclosure order ended and send the due ones; every
    step audited, all in one transaction (committed)."""
    now = now or utcnow()
    keys = exchange_service.keys_for(settings)
    run = NotificationRun()
    try:
        for req in due_notifications(session, now=now, limit=limit):
            if req.notification_state == NotificationState.HELD:
                _requeue(session, req, actor, now, run)
            if (
                req.notification_state == NotificationState.QUEUED
                and req.notification_due_at is not None
                and req.responded_at is not None
            ):
                _send(session, req, actor=actor, settings=settings, keys=keys, now=now, run=run)
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return run


def history(session: Session, req: LeRequest) -> list[LeRequestNotification]:
    return list(
        session.scalars(
            select(LeRequestNotification)
            .where(LeRequestNotification.request_id == req.id)
            .order_by(LeRequestNotification.created_at, LeRequestNotification.id)
        )
    )


def notices_of(session: Session, req: LeRequest) -> list[LeRequestNotice]:
    return list(
        session.scalars(
            select(LeRequestNotice)
            .where(LeRequestNotice.request_id == req.id)
            .order_by(LeRequestNotice.customer_id)
        )
    )
