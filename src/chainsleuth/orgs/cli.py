"""``chainsleuth agencies ...`` and ``chainsleuth orgs ...``."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from chainsleuth.core.cli import cli_actor, cli_session, console
from chainsleuth.orgs import service as org_service
from chainsleuth.orgs.enums import AgencyStatus, JurisdictionLevel, OrganisationKind
from chainsleuth.orgs.importer import agencies_csv, read_agencies
from chainsleuth.orgs.schemas import AgencyCreate, AgencyUpdate, OrganisationCreate
from chainsleuth.web.forms import parse

agencies_app = typer.Typer(help="Law-enforcement agencies.", no_args_is_help=True)
orgs_app = typer.Typer(help="Partner organisations.", no_args_is_help=True)


@agencies_app.command("create")
def create_agency(
    name: str,
    country: str = typer.Option(..., help="ISO 3166 two-letter country code"),
    domain: list[str] = typer.Option([], help="Official e-mail domain (repeatable)"),
    level: JurisdictionLevel = typer.Option(JurisdictionLevel.NATIONAL, help="Jurisdiction level"),
    callback_phone: str | None = typer.Option(
        None, help="Registered call-back number, international form (+44...)"
    ),
) -> None:
    """Register an agency."""
    with cli_session() as (_settings, session):
        data = parse(
            AgencyCreate,
            name=name,
            country=country,
            email_domains=domain,
            jurisdiction_level=level,
            callback_phone=callback_phone,
        )
        agency = org_service.create_agency(session, actor=cli_actor(), data=data)
        console.print(f"agency [bold]{agency.name}[/] registered, id {agency.id}")


@agencies_app.command("list")
def list_agencies() -> None:
    """List agencies."""
    with cli_session() as (_settings, session):
        table = Table("id", "name", "country", "e-mail domains", "level", "call-back", "status")
        for a in org_service.list_agencies(session):
            table.add_row(
                str(a.id),
                a.name,
                a.country,
                ", ".join(a.email_domains),
                a.jurisdiction_level,
                a.callback_phone or "",
                a.status,
            )
        console.print(table)


@agencies_app.command("import")
def import_agencies(
    path: Path = typer.Argument(
        ..., help="agencies.csv, or a folder holding it (a world folder: agencies/agencies.csv)"
    ),
) -> None:
    """Import an agency registry from CSV (idempotent; one audited transaction)."""
    rows = read_agencies(path)
    with cli_session() as (_settings, session):
        with Progress(
            TextColumn("agencies"), BarColumn(), MofNCompleteColumn(), console=console
        ) as bar:
            task = bar.add_task("import", total=len(rows))
            counts = org_service.import_agencies(
                session,
                actor=cli_actor(),
                rows=rows,
                source=str(agencies_csv(path)),
                progress=lambda n: bar.advance(task, n),
            )
    console.print(
        f"agencies: {counts['created']} created, {counts['updated']} updated, "
        f"{counts['unchanged']} unchanged"
    )


@agencies_app.command("set-status")
def set_status(
    agency: str = typer.Argument(..., help="Agency name, id or source id"),
    status: AgencyStatus = typer.Argument(..., help="active or suspended"),
) -> None:
    """Suspend an agency (its officers can no longer sign in or send requests) or reinstate it."""
    with cli_session() as (_settings, session):
        found = org_service.find_agency(session, agency)
        org_service.update_agency(
            session,
            actor=cli_actor(),
            agency_id=found.id,
            data=AgencyUpdate(status=status),
        )
        console.print(f"agency [bold]{found.name}[/] is {found.status}")


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
