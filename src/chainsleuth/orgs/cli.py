"""``chainsleuth agencies ...`` and ``chainsleuth orgs ...``."""

from __future__ import annotations

import typer
from rich.table import Table

from chainsleuth.core.cli import cli_actor, cli_session, console
from chainsleuth.orgs import service as org_service
from chainsleuth.orgs.enums import OrganisationKind
from chainsleuth.orgs.schemas import AgencyCreate, OrganisationCreate
from chainsleuth.web.forms import parse

agencies_app = typer.Typer(help="Law-enforcement agencies.", no_args_is_help=True)
orgs_app = typer.Typer(help="Partner organisations.", no_args_is_help=True)


@agencies_app.command("create")
def create_agency(
    name: str,
    country: str = typer.Option(..., help="ISO 3166 two-letter country code"),
    domain: list[str] = typer.Option([], help="Official e-mail domain (repeatable)"),
) -> None:
    """Register an agency."""
    with cli_session() as (_settings, session):
        data = parse(AgencyCreate, name=name, country=country, email_domains=domain)
        agency = org_service.create_agency(session, actor=cli_actor(), data=data)
        console.print(f"agency [bold]{agency.name}[/] registered, id {agency.id}")


@agencies_app.command("list")
def list_agencies() -> None:
    """List agencies."""
    with cli_session() as (_settings, session):
        table = Table("id", "name", "country", "e-mail domains")
        for a in org_service.list_agencies(session):
            table.add_row(str(a.id), a.name, a.country, ", ".join(a.email_domains))
        console.print(table)


@orgs_app.command("create")
def create_org(
    name: str,
    kind: OrganisationKind = typer.Option(..., help="Kind of organisation"),
    country: str | None = typer.Option(None, help="ISO 3166 two-letter country code"),
) -> None:
    """Register a partner organisation."""
    with cli_session() as (_settings, session):
        data = parse(OrganisationCreate, name=name, kind=kind, country=country)
        org = org_service.create_organisation(session, actor=cli_actor(), data=data)
        console.print(f"organisation [bold]{org.name}[/] registered, id {org.id}")


@orgs_app.command("list")
def list_orgs() -> None:
    """List partner organisations."""
    with cli_session() as (_settings, session):
        table = Table("id", "name", "kind", "country")
        for o in org_service.list_organisations(session):
            table.add_row(str(o.id), o.name, o.kind, o.country or "")
        console.print(table)
