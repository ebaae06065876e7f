"""``chainsleuth labels ...``: import attribution files, show an address's labels, sources.

Commands act as the operator (``cli:<user>``, like every CLI command) and each import is
one transaction with its audit entry: bad input is one line and exit code 2, and nothing of
that file is imported.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from chainsleuth.core.cli import cli_actor, cli_session, console
from chainsleuth.core.errors import InvalidInput
from chainsleuth.labels import service as label_service
from chainsleuth.labels.enums import ImportFormat, Tlp
from chainsleuth.labels.importers import parse
from chainsleuth.labels.imports import Progress as ProgressFn
from chainsleuth.labels.imports import file_sha256
from chainsleuth.labels.schemas import ImportResult, LabelRead

app = typer.Typer(help="Attribution: labels on addresses and entities.", no_args_is_help=True)
err = Console(stderr=True, highlight=False)
#: imports with more labels than this show a progress bar (on a terminal)
PROGRESS_FROM = 2000

#: the files a world folder's labels/ holds, in import order, and their source names
WORLD_FILES = [
    (ImportFormat.ACTORPACK, "labels/world.actorpack.yaml", "world-actorpack"),
    (ImportFormat.TAGPACK, "labels/world.tagpack.yaml", "world-tagpack"),
    (ImportFormat.OFAC_XML, "labels/sdn_advanced.xml", "world-sdn"),
]


#: (format, files, source name) of one import
Job = tuple[ImportFormat, list[tuple[str, bytes]], str | None]


class Kind(StrEnum):
    TAGPACK = "tagpack"
    ACTORPACK = "actorpack"
    OFAC_XML = "ofac-xml"
    OFAC_CSV = "ofac-csv"
    OFAC_LISTS = "ofac-lists"
    CSV = "csv"
    WORLD = "world"


def _read(path: Path) -> bytes:
    if not path.exists():
        raise InvalidInput(f"{path}: no such file")
    if not path.is_file():
        raise InvalidInput(f"{path} is not a file")
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InvalidInput(f"{path} cannot be read: {exc.strerror}") from exc


def _jobs(kind: Kind, path: Path, source_name: str | None) -> list[Job]:
    """What to import: (format, files, source name) per import."""
    if kind is Kind.WORLD:
        if not (path / "world.json").is_file():
            raise InvalidInput(f"{path} is not a world folder (world.json is missing)")
        jobs: list[Job] = []
        for fmt, rel, name in WORLD_FILES:
            if (path / rel).is_file():
                jobs.append((fmt, [(Path(rel).name, _read(path / rel))], name))
        if not jobs:
            err.print(f"{path} has no labels/ (made before worlds had them): nothing to import")
        return jobs
    fmt = ImportFormat(kind.value)
    if path.is_dir():
        if fmt is ImportFormat.OFAC_LISTS:
            files = sorted(path.glob("sanctioned_addresses_*.json"))
            if not files:
                raise InvalidInput(f"{path} holds no sanctioned_addresses_<CUR>.json files")
            return [(fmt, [(f.name, _read(f)) for f in files], source_name)]
        if fmt is ImportFormat.TAGPACK:
            if source_name:
                raise InvalidInput("--source-name names one TagPack, not a folder of them")
            packs = [
                f for f in sorted(path.glob("*.yaml")) if not f.name.endswith("actorpack.yaml")
            ]
            if not packs:
                raise InvalidInput(f"{path} holds no TagPacks (*.yaml)")
            return [(fmt, [(f.name, _read(f))], None) for f in packs]
        raise InvalidInput(f"{path} is a folder: give the file")
    return [(fmt, [(path.name, _read(path))], source_name)]


@contextmanager
def _progress(label: str) -> Iterator[ProgressFn | None]:
    if not err.is_terminal:
        yield None
        return
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    ) as bar:
        task = bar.add_task(label, total=None)

        def update(done: int, total: int) -> None:
            if total >= PROGRESS_FROM:
                bar.update(task, completed=done, total=total)

        yield update


def _summary(r: ImportResult) -> str:
    line = (
        f"[bold]{r.source}[/] ({r.format}, {r.file_name}): added {r.added}, updated {r.updated}, "
        f"retired {r.retired}, unchanged {r.unchanged}, skipped {r.skipped}"
    )
    if r.actors_added or r.actors_updated or r.actors_retired:
        line += (
            f"; actors added {r.actors_added}, updated {r.actors_updated}, "
            f"retired {r.actors_retired}"
        )
    if not r.changed:
        line += " (nothing changed)"
    return line


@app.command("import")
def import_(
    kind: Kind = typer.Argument(..., help="What PATH is"),
    path: Path = typer.Argument(..., help="The file (a folder for ofac-lists, tagpack, world)"),
    source_name: str | None = typer.Option(
        None, "--source-name", help="Name of the source (default: from the file)"
    ),
    tlp: str | None = typer.Option(
        None, help="TLP of labels that name none: CLEAR, GREEN, AMBER, AMBER+STRICT, RED"
    ),
    skip_invalid: bool = typer.Option(
        False, "--skip-invalid", help="Count and skip malformed addresses and unknown categories"
    ),
    allow_older: bool = typer.Option(
        False, "--allow-older", help="Import a file older than the source's imported version"
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the results as JSON"),
) -> None:
    """Import a TagPack, ActorPack, OFAC list or CSV file (each file in one transaction)."""
    marking = None
    if tlp is not None:
        marking = Tlp.parse(tlp)
        if marking is None:
            raise InvalidInput(f"unknown TLP {tlp!r}: use CLEAR, GREEN, AMBER, AMBER+STRICT, RED")
    jobs = _jobs(kind, path, source_name)
    results: list[ImportResult] = []
    with cli_session() as (_settings, session):
        for fmt, parts, name in jobs:
            parsed = parse(fmt, parts, skip_invalid=skip_invalid)
            file_name = parts[0][0] if len(parts) == 1 else str(path)
            with _progress(f"importing {file_name}") as progress:
                result = label_service.import_parsed(
                    session,
                    parsed=parsed,
                    sha256=file_sha256(parts),
                    file_name=file_name,
                    actor=cli_actor(),
                    source_name=name,
                    tlp=marking,
                    allow_older=allow_older,
                    on_progress=progress,
                )
            results.append(result)
            if not as_json:
                console.print(_summary(result))
                if result.skipped_by_reason:
                    reasons = ", ".join(f"{k} {v}" for k, v in result.skipped_by_reason.items())
                    console.print(f"  skipped: {reasons}")
    if as_json:
        typer.echo(json.dumps([r.model_dump(mode="json") for r in results], indent=2))


def _label_table(labels: list[LabelRead]) -> Table:
    table = Table(
        "id", "source", "category", "label", "actor", "confidence", "TLP", "scope", "last seen"
    )
    for x in labels:
        table.add_row(
            str(x.id),
            x.source.name,
            str(x.category),
            x.label,
            x.actor.name if x.actor else "",
            f"{x.confidence} {x.confidence_name or ''}".strip(),
            str(x.tlp),
            str(x.scope),
            x.last_seen.date().isoformat() if x.last_seen else "",
        )
    return table


@app.command("show")
def show(
    chain: str = typer.Argument(..., help="btc or eth"),
    address: str = typer.Argument(...),
    member: list[str] = typer.Option(
        [], "--member", help="Another address of the same entity (repeatable)"
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON"),
) -> None:
    """What is known about an address: its labels, the winner and any conflicts."""
    with cli_session() as (_settings, session):
        resolved = label_service.attribution(
            session, chain=chain, address=address, members=member or None
        )
    canonical = label_service.canonical(chain, address)
    if as_json:
        typer.echo(
            json.dumps(
                {"chain": chain.lower(), "address": canonical, **resolved.model_dump(mode="json")},
                indent=2,
                ensure_ascii=False,
            )
        )
        return
    if resolved.winner is None:
        console.print(f"no labels for {canonical} on {chain.lower()}")
        return
    w = resolved.winner
    console.print(
        f"[bold]{canonical}[/]: {w.category} ({w.label}, {w.source.name}, confidence "
        f"{w.confidence}, from its {resolved.winner_from})"
    )
    if resolved.own:
        console.print(_label_table(resolved.own))
    if resolved.entity:
        console.print("labels of its entity:")
        console.print(_label_table(resolved.entity))
    for c in resolved.conflicts:
        console.print(f"[yellow]conflict:[/] {c.category} according to {', '.join(c.sources)}")


@app.command("sources")
def sources(as_json: bool = typer.Option(False, "--json", help="Print JSON")) -> None:
    """The sources of labels: what was imported, when, and how many labels each holds."""
    with cli_session() as (_settings, session):
        rows = label_service.sources(session)
    if as_json:
        typer.echo(json.dumps([r.model_dump(mode="json") for r in rows], indent=2))
        return
    table = Table("name", "kind", "version", "active", "retired", "imported", "by", "sha256")
    for s in rows:
        table.add_row(
            s.name,
            f"{s.kind} ({s.format})",
            s.version or "",
            str(s.active_labels),
            str(s.retired_labels),
            s.imported_at.strftime("%Y-%m-%d %H:%M") if s.imported_at else "",
            s.imported_by or "",
            (s.sha256 or "")[:12],
        )
    console.print(table)


@app.command("history")
def history(label_id: int = typer.Argument(..., min=1)) -> None:
    """Every change of one label (added, updated, retired), with the import behind it."""
    with cli_session() as (_settings, session):
        rows = label_service.history(session, label_id=label_id, viewer=None)
    table = Table("when", "action", "by", "import", "changes")
    for h in rows:
        table.add_row(
            h.at.strftime("%Y-%m-%d %H:%M:%S"),
            h.action,
            h.by,
            str(h.import_id or ""),
            json.dumps(h.changes, ensure_ascii=False)[:200],
        )
    console.print(table)
