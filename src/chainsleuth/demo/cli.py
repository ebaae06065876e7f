"""``chainsleuth demo seed``: the demo world's accounts, and the logins to print."""

from __future__ import annotations

import typer
from rich.table import Table

from chainsleuth.core.cli import cli_session, console
from chainsleuth.demo import service as demo_service

app = typer.Typer(help="The demo world (CHAINSLEUTH_DEMO=1 only).", no_args_is_help=True)


@app.command()
def seed() -> None:
    """Create the demo agencies, organisation and a user of every role; print the logins."""
    with cli_session() as (settings, session):
        users = demo_service.seed(session, settings=settings)
    table = Table("username", "password", "role", "belongs to", title="Demo logins")
    for u in users:
        table.add_row(
            u.username, demo_service.DEMO_PASSWORD, u.role.label, u.agency or u.organisation or ""
        )
    console.print(table)
    console.print("MFA is optional in the demo; enrol from 'My account' to try it.")
