"""Outgoing mail through an outbox (table ``mail_outbox``).

There is no SMTP server here: a mail is a row written in the same transaction as the change
that sends it (a sign-up and its verification link commit together, or neither does).
Bodies are encrypted at rest (they carry one-time links) with a key derived from the secret
key. ``chainsleuth mail outbox`` lists the outbox; outside production an administrator sees
it at ``/admin/outbox``.

A real sender is a later addition: settings ``CHAINSLEUTH_SMTP_URL`` (and credentials) and a
``chainsleuth mail send`` worker that takes queued rows in ``created_at`` order, sends them
with ``smtplib`` and marks them ``sent`` (``mark_sent`` below). Until then every mail stays
``queued``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from chainsleuth.core.config import Settings
from chainsleuth.core.crypto import FieldCipher
from chainsleuth.core.models import utcnow
from chainsleuth.officers.enums import MailStatus
from chainsleuth.officers.models import MailMessage

PURPOSE = "mail-outbox"
SENDER = "chainsleuth <no-reply@chainsleuth.invalid>"


def _cipher(settings: Settings) -> FieldCipher:
    return FieldCipher(settings.secret, PURPOSE)


def queue(
    session: Session, *, settings: Settings, to: str, subject: str, body: str, template: str
) -> MailMessage:
    """Add a mail to the outbox in the caller's transaction (the caller commits)."""
    message = MailMessage(
        to_addr=to,
        subject=subject,
        body=_cipher(settings).encrypt(body),
        template=template,
        status=str(MailStatus.QUEUED),
        created_at=utcnow(),
    )
    session.add(message)
    session.flush()
    return message


@dataclass(frozen=True)
class Mail:
    id: int
    to: str
    subject: str
    body: str
    template: str
    status: str
    created_at: datetime
    sent_at: datetime | None


def outbox(
    session: Session, *, settings: Settings, to: str | None = None, limit: int = 100
) -> list[Mail]:
    """The newest mails first, bodies decrypted."""
    stmt = select(MailMessage).order_by(MailMessage.id.desc()).limit(limit)
    if to:
        stmt = stmt.where(MailMessage.to_addr == to.strip().lower())
    cipher = _cipher(settings)
    rows: Sequence[MailMessage] = session.scalars(stmt).all()
    return [
        Mail(
            id=m.id,
            to=m.to_addr,
            subject=m.subject,
            body=cipher.decrypt(m.body),
            template=m.template,
            status=m.status,
            created_at=m.created_at,
            sent_at=m.sent_at,
        )
        for m in rows
    ]


def mark_sent(session: Session, *, message_id: int) -> None:
    message = session.get(MailMessage, message_id)
    if message is not None and message.sent_at is None:
        message.status = str(MailStatus.SENT)
        message.sent_at = utcnow()
