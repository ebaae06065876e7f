"""The test harness itself works: a private PostgreSQL server, and Chromium on a live app."""

from __future__ import annotations

import uuid
from pathlib import Path

import psycopg
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from harness import LiveServer, PostgresServer, launch_chromium
from harness.clones import TemplateClones
from harness.shared import DONE, build_once

PAGE = """<!doctype html>
<html>
  <head><meta charset="utf-8"><title>harness check</title></head>
  <body>
    <h1 id="greeting">Hello from chainsleuth</h1>
    <button id="btn" onclick="document.getElementById('out').textContent = 'clicked'">Go</button>
    <p id="out"></p>
  </body>
</html>
"""


def test_postgres_server_create_connect_drop() -> None:
    with PostgresServer() as pg:
        assert pg.url("harness_check") == (
            f"postgresql+psycopg://postgres@127.0.0.1:{pg.port}/harness_check"
        )
        pg.create_database("harness_check")
        with psycopg.connect(pg.dsn("harness_check")) as conn:
            assert conn.execute("select 1").fetchone() == (1,)
            conn.execute("create table t (v text)")
            conn.execute("insert into t values ('from template')")
            conn.commit()

        # Cloning from a template terminates the template's open sessions first.
        held = pg.connect("harness_check")
        pg.create_database("harness_clone", template="harness_check")
        held.close()
        with pg.connect("harness_clone") as conn:
            assert conn.execute("select v from t").fetchall() == [("from template",)]
            assert conn.execute("show fsync").fetchone() == ("off",)
            assert conn.execute("show server_encoding").fetchone() == ("UTF8",)

        # Dropping terminates open sessions too.
        held = pg.connect("harness_clone")
        pg.drop_database("harness_clone")
        held.close()
        pg.drop_database("harness_check")
        with pg.connect() as conn:
            names = {row[0] for row in conn.execute("select datname from pg_database")}
        assert not names & {"harness_check", "harness_clone"}

        datadir = pg.tmpdir
    assert not datadir.exists()


async def homepage(request: Request) -> HTMLResponse:
    return HTMLResponse(PAGE)


@pytest.mark.browser
def test_chromium_loads_live_server_page() -> None:
    from playwright.sync_api import sync_playwright

    app = Starlette(routes=[Route("/", homepage)])
    with LiveServer(app) as server, sync_playwright() as playwright:
        assert server.url == f"http://127.0.0.1:{server.port}"
        browser = launch_chromium(playwright)
        try:
            page = browser.new_page()
            page.goto(server.url + "/")
            assert page.title() == "harness check"
            assert page.text_content("#greeting") == "Hello from chainsleuth"
            page.click("#btn")
            page.wait_for_selector("#out:has-text('clicked')")
        finally:
            browser.close()


def test_template_clones_are_fresh_and_dropped(pg_server: PostgresServer) -> None:
    pg_server.create_database("clones_template")
    with pg_server.connect("clones_template") as conn:
        conn.execute("create table t (v text)")
        conn.execute("insert into t values ('from template')")
        conn.commit()
    clones = TemplateClones(pg_server, "clones_template", ahead=2).start()
    try:
        first, second = clones.take(), clones.take()
        assert first != second
        with pg_server.connect(first) as conn:
            conn.execute("insert into t values ('only in the first')")
            conn.commit()
        with pg_server.connect(second) as conn:
            assert conn.execute("select v from t").fetchall() == [("from template",)]
        held = pg_server.connect(first)  # dropping ends the sessions left open
        clones.give_back(first)
        third = clones.take()
        assert third not in {first, second}
        clones.give_back(second)
        clones.give_back(third)
    finally:
        clones.stop()
    held.close()
    with pg_server.connect() as conn:
        names = {row[0] for row in conn.execute("select datname from pg_database")}
    assert not names & {first, second, third}
    pg_server.drop_database("clones_template")


def test_build_once_builds_once(tmp_path_factory: pytest.TempPathFactory) -> None:
    calls: list[Path] = []

    def build(directory: Path) -> None:
        calls.append(directory)
        (directory / "made").write_text("once")

    name = "harness-check-" + uuid.uuid4().hex[:8]
    first = build_once(tmp_path_factory, name, build)
    again = build_once(tmp_path_factory, name, build)
    assert first == again and calls == [first]
    assert (first / "made").read_text() == "once"
    (first / DONE).unlink()  # an interrupted build is done again
    assert build_once(tmp_path_factory, name, build) == first and len(calls) == 2
