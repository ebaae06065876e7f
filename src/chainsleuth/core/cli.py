"""``chainsleuth db ...`` and ``chainsleuth serve``; helpers every CLI module shares."""

from __future__ import annotations

import getpass
from collections.abc import Iterator
from contextlib import contextmanager

import typer
from rich.console import Console
from sqlalchemy.orm import Session

from chainsleuth.audit.enums import Channel
from chainsleuth.audit.service import Actor
from chainsleuth.core.config import Settings, load_settings
from chainsleuth.core.db import Database

app = typer.Typer(help="The operational database: migrations.", no_args_is_help=True)
console = Console(highlight=False)


def cli_actor() -> Actor:
    try:
        who = getpass.getuser()
    except (KeyError, OSError):  # pragma: no cover - no passwd entry
        who = "unknown"
    return Actor(user_id=None, name=f"cli:{who}", channel=Channel.CLI)


@contextmanager
def cli_session(*, migrated: bool = True) -> Iterator[tuple[Settings, Session]]:
    """Settings and a database session for a command; refuses an unmigrated database."""
    settings = load_settings()
    db = Database.from_settings(settings)
    try:
        if migrated:
            db.check_migrated()
        with db.session() as session:
            yield settings, session
    finally:
        db.dispose()


@app.command()
def upgrade(revision: str = typer.Argument("head", help="Target revision")) -> None:
    """Apply the database migrations (creates the embedded SQLite database if need be)."""
    settings = load_settings()
    db = Database.from_settings(settings)
    try:
        before = db.current_revision()
        db.upgrade(revision)
        after = db.current_revision()
    finally:
        db.dispose()
    if before == after:
        console.print(f"database already at revision [bold]{after}[/]")
    else:
        console.print(f"database upgraded from {before or 'empty'} to [bold]{after}[/]")


@app.command()
def current() -> None:
    """Show the database's revision and the one this version needs."""
    settings = load_settings()
    db = Database.from_settings(settings)
    try:
        current_rev, head = db.current_revision(), db.head_revision()
    finally:
        db.dispose()
    state = "up to date" if current_rev == head else "needs `chainsleuth db upgrade`"
    console.print(f"database: {current_rev or 'empty'}; this version: {head} ({state})")


def serve(
    host: str = typer.Option("127.0.0.1", help="Address to listen on"),
    port: int = typer.Option(8000, min=1, max=65535, help="Port to listen on"),
    proxy_headers: bool = typer.Option(
        False, help="Trust X-Forwarded-For from a reverse proxy on this host"
    ),
) -> None:
    """Serve the web application and the REST API."""
    import uvicorn

    from chainsleuth.app import create_app

    settings = load_settings()
    db = Database.from_settings(settings)
    try:
        db.check_migrated()  # a clear message here rather than a failed start-up
        app_ = create_app(settings, db)
        console.print(f"chainsleuth serving on [bold]http://{host}:{port}[/] ({settings.env})")
        uvicorn.run(
            app_,
            host=host,
            port=port,
            proxy_headers=proxy_headers,
            forwarded_allow_ips="127.0.0.1" if proxy_headers else None,
            log_level="info",
        )
    finally:
        db.dispose()
