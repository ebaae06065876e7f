"""``chainsleuth users ...``: accounts from the command line (every change is audited)."""

from __future__ import annotations

import json
import secrets
import sys

import typer
from rich.table import Table

from chainsleuth.auth import service as user_service
from chainsleuth.auth.enums import Role
from chainsleuth.auth.models import User
from chainsleuth.auth.schemas import UserCreate, UserRead
from chainsleuth.core.cli import cli_actor, cli_session, console
from chainsleuth.core.errors import InvalidInput
from chainsleuth.orgs import service as org_service
from chainsleuth.web.forms import parse

app = typer.Typer(help="User accounts: create, list, disable, reset MFA.", no_args_is_help=True)


@app.command()
def create(
    username: str = typer.Argument(..., help="Login name (lowercase letters, digits, . _ -)"),
    email: str = typer.Option(..., "--email", help="E-mail address"),
    role: Role = typer.Option(..., "--role", help="Role"),
    name: str = typer.Option(..., "--name", help="Full name"),
    agency: str | None = typer.Option(None, help="Agency name or id (officers, trainees)"),
    org: str | None = typer.Option(None, help="Organisation name or id (partners)"),
    password_stdin: bool = typer.Option(
        False, "--password-stdin", help="Read the password from standard input"
    ),
) -> None:
    """Create a user. Without --password-stdin a strong password is generated and shown once."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
        if not password:
            raise InvalidInput("no password on standard input")
        generated = False
    else:
        password, generated = secrets.token_urlsafe(15), True
    with cli_session() as (_settings, session):
        agency_id = org_service.find_agency(session, agency).id if agency else None
        org_id = org_service.find_organisation(session, org).id if org else None
        data = parse(
            UserCreate,
            username=username,
            email=email,
            full_name=name,
            role=role,
            password=password,
            agency_id=agency_id,
            organisation_id=org_id,
        )
        user = user_service.create_user(session, actor=cli_actor(), data=data)
        console.print(f"created user [bold]{user.username}[/] ({user.role.label}), id {user.id}")
    if generated:
        console.print(f"initial password (shown once): [bold]{password}[/]")


@app.command("list")
def list_(
    role: Role | None = typer.Option(None, help="Only this role"),
    as_json: bool = typer.Option(False, "--json", help="JSON output"),
) -> None:
    """List users."""
    with cli_session() as (_settings, session):
        viewer = User(role=Role.ADMIN)  # the CLI runs with the operator's full rights
        users = user_service.list_visible(session, viewer=viewer, role=role)
        if as_json:
            rows = [UserRead.model_validate(u).model_dump(mode="json") for u in users]
            typer.echo(json.dumps(rows, indent=2))
            return
        table = Table("id", "username", "name", "role", "belongs to", "MFA", "status")
        for u in users:
            status = (
                "disabled"
                if not u.is_active
                else "locked"
                if user_service.is_locked(u)
                else "active"
            )
            table.add_row(
                str(u.id),
                u.username,
                u.full_name,
                u.role.label,
                u.tenant_label,
                "on" if u.mfa_enabled else "off",
                status,
            )
        console.print(table)


@app.command()
def disable(username: str) -> None:
    """Disable an account and end its sessions."""
    with cli_session() as (_settings, session):
        user = user_service.require_by_username(session, username)
        user_service.set_active(session, actor=cli_actor(), user=user, active=False)
        console.print(f"user {user.username} disabled")


@app.command()
def enable(username: str) -> None:
    """Enable a disabled account."""
    with cli_session() as (_settings, session):
        user = user_service.require_by_username(session, username)
        user_service.set_active(session, actor=cli_actor(), user=user, active=True)
        console.print(f"user {user.username} enabled")


@app.command()
def unlock(username: str) -> None:
    """Lift a lockout after failed sign-ins."""
    with cli_session() as (_settings, session):
        user = user_service.require_by_username(session, username)
        user_service.unlock(session, actor=cli_actor(), user=user)
        console.print(f"user {user.username} unlocked")


@app.command("reset-mfa")
def reset_mfa(username: str) -> None:
    """Remove a user's second factor: they enrol again at their next sign-in."""
    with cli_session() as (_settings, session):
        user = user_service.require_by_username(session, username)
        user_service.reset_mfa(session, actor=cli_actor(), user=user)
        console.print(f"second factor of {user.username} removed; sessions ended")
