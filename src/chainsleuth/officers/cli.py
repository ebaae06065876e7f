"""``chainsleuth officers ...`` (approval, re-verification) and ``chainsleuth mail outbox``."""

from __future__ import annotations

import typer
from rich.table import Table

from chainsleuth.core.cli import cli_actor, cli_session, console
from chainsleuth.officers import mail
from chainsleuth.officers import service as officer_service
from chainsleuth.officers.enums import OfficerStatus

app = typer.Typer(
    help="Law-enforcement officers: sign-ups, approval, re-verification.", no_args_is_help=True
)
mail_app = typer.Typer(help="Outgoing mail (the outbox).", no_args_is_help=True)

BASE_URL = typer.Option(
    "http://127.0.0.1:8000", help="The portal's public address, for the links in the mails"
)


@app.command("list")
def list_officers(
    status: OfficerStatus | None = typer.Option(None, help="Only sign-ups with this status"),
) -> None:
    """List officer sign-ups, newest first."""
    with cli_session() as (_settings, session):
        table = Table("id", "username", "name", "agency", "e-mail", "status", "verified until")
        for o in officer_service.list_officers(session, status=str(status) if status else None):
            until = o.verified_until.strftime("%Y-%m-%d") if o.verified_until else ""
            table.add_row(
                str(o.id), o.username, o.full_name, o.agency.name, o.email, o.status, until
            )
        console.print(table)


@app.command("approve")
def approve(
    officer_id: int = typer.Argument(..., min=1),
    note: str = typer.Option("", help="Why (how the agency vouched for the officer)"),
    base_url: str = BASE_URL,
) -> None:
    """Approve a verified sign-up: creates the account and mails the activation link."""
    with cli_session() as (settings, session):
        officer = officer_service.approve(
            session,
            settings=settings,
            actor=cli_actor(),
            officer_id=officer_id,
            base_url=base_url,
            note=note,
        )
        console.print(f"officer [bold]{officer.username}[/] approved; activation link mailed")


@app.command("reject")
def reject(
    officer_id: int = typer.Argument(..., min=1),
    note: str = typer.Option(..., help="The reason, mailed to the applicant"),
) -> None:
    """Reject a sign-up."""
    with cli_session() as (settings, session):
        officer = officer_service.reject(
            session, settings=settings, actor=cli_actor(), officer_id=officer_id, note=note
        )
        console.print(f"sign-up of [bold]{officer.username}[/] rejected")


@app.command("due")
def due(
    within: int = typer.Option(14, min=0, max=3650, help="Days ahead"),
    send: bool = typer.Option(False, help="Mail a new verification link to each one due"),
    base_url: str = BASE_URL,
) -> None:
    """Officers whose e-mail verification has lapsed or lapses within --within days."""
    with cli_session() as (settings, session):
        rows = officer_service.due(session, within_days=within)
        table = Table("id", "username", "agency", "e-mail", "verified until", "lapsed")
        for o in rows:
            until = o.verified_until.strftime("%Y-%m-%d %H:%M") if o.verified_until else ""
            lapsed = "yes" if officer_service.is_lapsed(o) else ""
            table.add_row(str(o.id), o.username, o.agency.name, o.email, until, lapsed)
        console.print(table)
        if send:
            sent = officer_service.send_due_reverifications(
                session,
                settings=settings,
                actor=cli_actor(),
                base_url=base_url,
                within_days=within,
            )
            console.print(f"{len(sent)} re-verification link(s) mailed")


@mail_app.command("outbox")
def outbox(
    to: str | None = typer.Option(None, help="Only mail to this address"),
    limit: int = typer.Option(20, min=1, max=1000),
    body: bool = typer.Option(False, "--body", help="Print each mail's text"),
) -> None:
    """The outbox, newest first."""
    with cli_session() as (settings, session):
        mails = mail.outbox(session, settings=settings, to=to, limit=limit)
        if body:
            for m in mails:
                console.print(
                    f"[bold]#{m.id}[/] {m.created_at:%Y-%m-%d %H:%M} to {m.to}: {m.subject}"
                )
                console.print(m.body, markup=False, soft_wrap=True)
            return
        table = Table("id", "created (UTC)", "to", "subject", "status")
        for m in mails:
            table.add_row(str(m.id), f"{m.created_at:%Y-%m-%d %H:%M}", m.to, m.subject, m.status)
        console.print(table)
