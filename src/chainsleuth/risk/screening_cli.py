"""``chainsleuth risk ...`` (address, entity, tx, precompute, policy) and ``chainsleuth
screen``: risk results, the precomputed table, the policy and screenings from the command
line. The CLI acts as an operator (``cli:<user>`` in the audit log)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer
from pydantic import ValidationError
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy.orm import Session

from chainsleuth.chain import service as chain_service
from chainsleuth.chain.lookups import ChainReader
from chainsleuth.core.cli import cli_actor, cli_session, console
from chainsleuth.core.config import Settings
from chainsleuth.core.errors import InvalidInput
from chainsleuth.entities import source
from chainsleuth.risk import policy_store
from chainsleuth.risk import screening as screening_service
from chainsleuth.risk.facts import Scorer, precompute_tables
from chainsleuth.risk.result import RiskResult, evaluate
from chainsleuth.risk.riskpolicy import body_json
from chainsleuth.risk.screening_schemas import ScreeningCreate, ScreeningDirection, ScreeningRead
from chainsleuth.tracing import service as tracing_service

app = typer.Typer(
    help="Risk results, the precomputed risk table and the risk policy.", no_args_is_help=True
)
policy_app = typer.Typer(help="The risk policy: show, history, set.", no_args_is_help=True)
app.add_typer(policy_app, name="policy")

JsonOption = typer.Option(False, "--json", help="Print JSON")


@contextmanager
def _scorer(**kwargs: Any) -> Iterator[tuple[Settings, Session, Scorer]]:
    with cli_session() as (settings, session):
        root = chain_service.store_root(settings)
        with source.chain_connection(root) as con:
            reader = ChainReader(con, root)
            scorer = Scorer(
                session=session,
                reader=reader,
                settings=settings,
                tracing=tracing_service.context_for(settings, session=session),
                policy=policy_store.active(session),
                **kwargs,
            )
            yield settings, session, scorer


def _echo_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, default=str))


def print_result(result: RiskResult) -> None:
    console.print(
        f"[bold]{result.severity.value}[/] (score {result.score}) -> [bold]{result.action.value}"
        f"[/]  {result.subject_type} {result.subject} on {result.chain}, policy version "
        f"{result.policy_version}, {result.source}"
    )
    for reason in result.reasons:
        console.print(f"  - {reason}")
    if result.exposure:
        table = Table("category", "direction", "direct %", "direct USD", "indirect %",
                      "indirect USD", "hops", title="Exposure")  # fmt: skip
        for x in result.exposure:
            table.add_row(
                x.category, x.direction, f"{x.direct_share:.1%}", f"{x.direct_value_usd:,.0f}",
                f"{x.indirect_share:.1%}", f"{x.indirect_value_usd:,.0f}", str(x.hops),
            )  # fmt: skip
        console.print(table)
    if result.model is not None:
        console.print(
            f"model {result.model.version}: illicit probability {result.model.probability:.3f}"
            f" (threshold {result.model.threshold:.3f})"
        )
        for c in result.model.contributions:
            console.print(f"  {c.feature:<26} = {c.value:<12.4g} {c.contribution:+.3f}")
    for note in result.notes:
        console.print(f"[dim]note: {note}[/]")


@app.command("address")
def address_cmd(
    chain: str = typer.Argument(...),
    address: str = typer.Argument(...),
    live: bool = typer.Option(False, "--live", help="Compute on the fly, not from the table"),
    as_json: bool = JsonOption,
) -> None:
    """An address's risk under the active policy, with the reasons."""
    with _scorer(use_table=not live) as (_, _, scorer):
        result = evaluate(scorer.policy, scorer.address(chain, address))
    if as_json:
        _echo_json(result.model_dump(mode="json"))
        return
    print_result(result)


@app.command("entity")
def entity_cmd(
    chain: str = typer.Argument(...),
    entity_id: int = typer.Argument(..., min=0),
    as_json: bool = JsonOption,
) -> None:
    """An entity's risk: all its addresses together."""
    with _scorer() as (_, _, scorer):
        result = evaluate(scorer.policy, scorer.entity(chain, entity_id))
    if as_json:
        _echo_json(result.model_dump(mode="json"))
        return
    print_result(result)


@app.command("tx")
def tx_cmd(
    chain: str = typer.Argument(...),
    tx_hash: str = typer.Argument(...),
    outgoing: bool = typer.Option(
        False, "--outgoing", help="Where the funds went (default: where they came from)"
    ),
    as_json: bool = JsonOption,
) -> None:
    """A transfer's risk: the exposure of its funds."""
    with _scorer() as (_, _, scorer):
        result = evaluate(scorer.policy, scorer.transfer(chain, tx_hash, forward=outgoing))
    if as_json:
        _echo_json(result.model_dump(mode="json"))
        return
    print_result(result)


@app.command("precompute")
def precompute_cmd(
    threads: int = typer.Option(2, "--threads", min=1, max=64, help="Worker threads"),
) -> None:
    """Score every address of every chain into the risk table screenings look up."""
    with cli_session() as (settings, session):
        root = chain_service.store_root(settings)
        with (
            source.chain_connection(root) as con,
            Progress(
                TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                TimeElapsedColumn(), console=console, transient=False,
            ) as bar,
        ):  # fmt: skip
            tasks: dict[str, Any] = {}

            def progress(label: str, done: int, total: int) -> None:
                """Exposure steps report the addresses done since the last call; the
                model step 0 then 1 of 1."""
                if label not in tasks:
                    tasks[label] = bar.add_task(label, total=total)
                if total > 1:
                    bar.update(tasks[label], advance=done)
                else:
                    bar.update(tasks[label], completed=done, total=total)

            stats = precompute_tables(
                settings, session, ChainReader(con, root), threads=threads, progress=progress
            )
    for s in stats:
        rate = s.addresses / s.seconds if s.seconds else 0.0
        console.print(
            f"{s.chain}: {s.addresses} addresses in {s.seconds:.1f} s ({rate:,.0f}/s), model "
            f"{s.model_version or 'none (train one for probabilities)'}"
        )


@policy_app.command("show")
def policy_show(
    version: int | None = typer.Option(None, "--version", min=1, help="Default: the active"),
) -> None:
    """A policy version's body as JSON."""
    with cli_session() as (_, session):
        found = policy_store.get(session, version) if version else policy_store.active(session)
        _echo_json({"version": found.version, "body": body_json(found.body)})


@policy_app.command("history")
def policy_history() -> None:
    """Every version: when, by whom, why; * marks the active one."""
    with cli_session() as (_, session):
        table = Table("", "version", "written", "by", "comment")
        for row in policy_store.versions(session):
            table.add_row(
                "*" if row.is_active else "", str(row.version),
                row.created_at.strftime("%Y-%m-%d %H:%M"), row.created_by, row.comment or "",
            )  # fmt: skip
        console.print(table)


@policy_app.command("set")
def policy_set(
    path: Path = typer.Argument(..., help="A JSON file with the whole body (see `policy show`)"),
    comment: str = typer.Option("", "--comment", help="Why"),
) -> None:
    """Write a new version of the policy from a JSON file (made active; audited)."""
    try:
        data = json.loads(Path(path).read_text())
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}: {exc.strerror}") from exc
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"{path} is not JSON: {exc.msg} (line {exc.lineno})") from exc
    if isinstance(data, dict) and "body" in data and "categories" not in data:
        data = data["body"]
    with cli_session() as (_, session):
        saved = policy_store.save(session, actor=cli_actor(), body=data, comment=comment)
        session.commit()
    typer.echo(f"policy version {saved.version} is now active")


def screen(
    chain: str = typer.Option(..., "--chain", help="btc or eth"),
    address: str | None = typer.Option(None, "--address", help="Deposit: ours; withdrawal: theirs"),
    amount: str = typer.Option(..., "--amount", help="In the smallest unit (sat, wei)"),
    direction: ScreeningDirection = typer.Option(..., "--direction"),
    tx: str | None = typer.Option(None, "--tx", help="The transaction hash"),
    asset: str | None = typer.Option(None, "--asset", help="Default: the chain's native asset"),
    account: str | None = typer.Option(None, "--account", help="The customer account id"),
    key: str | None = typer.Option(None, "--key", help="Idempotency key"),
    as_json: bool = JsonOption,
) -> None:
    """Screen a deposit or withdrawal: the decision (allow, review, hold) and the reasons;
    stored, and alerted when the policy says so."""
    try:
        data = ScreeningCreate(
            chain=chain, asset=asset, direction=direction, address=address, tx_hash=tx,
            amount=amount, account_id=account, idempotency_key=key,
        )  # fmt: skip
    except ValidationError as exc:
        first = exc.errors()[0]
        raise InvalidInput(f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}") from None
    with _scorer() as (_, session, scorer):
        row, created = screening_service.screen(
            session, scorer=scorer, actor=cli_actor(), data=data
        )
        read = ScreeningRead.model_validate(row)
    if as_json:
        _echo_json(read.model_dump(mode="json"))
        return
    console.print(
        f"screening #{read.id}{'' if created else ' (stored earlier, same key)'}: "
        f"[bold]{read.action.upper()}[/] ({read.severity}, score {read.score}, policy version "
        f"{read.policy_version}){f', alert {read.alert_id}' if read.alert_id else ''}"
    )
    for reason in read.result.get("reasons", []):
        console.print(f"  - {reason}")
    for note in read.result.get("notes", []):
        console.print(f"[dim]note: {note}[/]")
