"""The ``chainsleuth`` command: one Typer app that mounts every domain's sub-app."""

from __future__ import annotations

from typing import Any

import typer
from rich.console import Console
from typer.core import TyperGroup

from chainsleuth.alerts.cli import app as alerts_app
from chainsleuth.alerts.cli import watch_app
from chainsleuth.audit.cli import app as audit_app
from chainsleuth.auth.cli import app as users_app
from chainsleuth.cases.cli import app as cases_app
from chainsleuth.chain.cli import app as chain_app
from chainsleuth.core.cli import app as db_app
from chainsleuth.core.cli import serve
from chainsleuth.core.errors import ChainsleuthError
from chainsleuth.demo.cli import app as demo_app
from chainsleuth.entities.cli import app as entities_app
from chainsleuth.entities.cli import eval_app
from chainsleuth.exchange.cli import app as exchange_app
from chainsleuth.freezes.cli import app as freezes_app
from chainsleuth.ingest.cli import app as ingest_app
from chainsleuth.labels.cli import app as labels_app
from chainsleuth.ledger.cli import app as ledger_app
from chainsleuth.officers.cli import app as officers_app
from chainsleuth.officers.cli import mail_app
from chainsleuth.orgs.cli import agencies_app, orgs_app
from chainsleuth.packages.cli import app as packages_app
from chainsleuth.packages.cli import request_stats
from chainsleuth.requests.cli import app as requests_app
from chainsleuth.risk.cli import app as model_app
from chainsleuth.risk.cli import eval_typologies, typologies_app
from chainsleuth.risk.screening_cli import app as risk_app
from chainsleuth.risk.screening_cli import screen as screen_cmd
from chainsleuth.tracing.cli import app as trace_app
from chainsleuth.tracing.cli import exposure as exposure_cmd
from chainsleuth.world.cli import app as world_app

err = Console(stderr=True)


class RootGroup(TyperGroup):
    """The root command: a domain error becomes one line on stderr and exit code 2.

    Done here rather than around ``app()`` so that every way of running the app (the
    installed command, ``python -m chainsleuth``, Typer's ``CliRunner``) behaves the same.
    """

    def invoke(self, ctx: Any) -> Any:  # Typer's vendored click.Context
        try:
            return super().invoke(ctx)
        except ChainsleuthError as exc:
            err.print(f"[bold red]error:[/] {exc.message}", highlight=False, soft_wrap=True)
            raise typer.Exit(2) from exc


app = typer.Typer(
    cls=RootGroup,
    name="chainsleuth",
    help="chainsleuth: investigations platform for exchange financial-crime teams.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(db_app, name="db")
app.add_typer(users_app, name="users")
app.add_typer(agencies_app, name="agencies")
app.add_typer(officers_app, name="officers")
app.add_typer(mail_app, name="mail")
app.add_typer(orgs_app, name="orgs")
app.add_typer(audit_app, name="audit")
app.add_typer(demo_app, name="demo")
app.add_typer(world_app, name="world")
app.add_typer(chain_app, name="chain")
app.add_typer(ingest_app, name="ingest")
app.add_typer(entities_app, name="entities")
app.add_typer(eval_app, name="eval")
app.add_typer(labels_app, name="labels")
app.add_typer(trace_app, name="trace")
app.add_typer(exchange_app, name="exchange")
app.add_typer(requests_app, name="requests")
app.add_typer(freezes_app, name="freezes")
app.add_typer(ledger_app, name="ledger")
app.add_typer(cases_app, name="cases")
app.command("exposure")(exposure_cmd)
app.add_typer(model_app, name="model")
app.add_typer(typologies_app, name="typologies")
app.add_typer(alerts_app, name="alerts")
app.add_typer(watch_app, name="watch")
app.add_typer(risk_app, name="risk")
app.command("screen")(screen_cmd)
eval_app.command("typologies")(eval_typologies)
app.add_typer(packages_app, name="packages")
app.command("request-stats")(request_stats)
requests_app.command("stats")(request_stats)  # also as `chainsleuth requests stats`
app.command()(serve)


def main() -> None:
    """Entry point: domain errors are one line on stderr and exit code 2 (see RootGroup)."""
    app()
