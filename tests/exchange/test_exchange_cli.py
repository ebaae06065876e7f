"""``chainsleuth exchange ...``: import prints its counts and is idempotent, bad input is one
line and exit code 2 with nothing written, search and links show masked customers."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from exchange_helpers import header_of, read_csv, write_csv
from sqlalchemy import func, select
from typer.testing import CliRunner, Result

from chainsleuth.cli import app
from chainsleuth.core.db import Database
from chainsleuth.exchange.models import Customer

runner = CliRunner()


def cs(*args: str) -> Result:
    return runner.invoke(app, list(args))


def customers(url: str) -> int:
    db = Database(url)
    try:
        with db.session() as s:
            return int(s.scalar(select(func.count()).select_from(Customer)) or 0)
    finally:
        db.dispose()


def test_import_search_and_links(cli_db: str, mini: Path, mules: set[str]) -> None:
    first = cs("exchange", "import", str(mini))
    assert first.exit_code == 0, (first.output, first.exception)
    assert "linked-account links" in first.output and "customers" in first.output
    again = cs("exchange", "import", str(mini), "--json")
    assert again.exit_code == 0 and json.loads(again.output)["import_id"] is None
    assert customers(cli_db) == len(read_csv(mini / "customers.csv"))

    person = read_csv(mini / "customers.csv")[0]
    found = cs("exchange", "search", person["email"], "--json")
    assert found.exit_code == 0, found.output
    assert [m["customer"]["id"] for m in json.loads(found.output)] == [person["customer_id"]]
    assert person["email"] not in found.output  # masked

    mule = sorted(mules)[0]
    links = cs("exchange", "links", mule)
    assert links.exit_code == 0 and "shared device" in links.output


def test_bad_input_is_one_line_and_exit_2(cli_db: str, mini: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(mini, broken)
    rows = read_csv(broken / "deposits.csv")
    rows[0]["amount"] = "12.5 BTC"
    write_csv(broken / "deposits.csv", rows, header_of(broken / "deposits.csv"))
    result = cs("exchange", "import", str(broken))
    assert result.exit_code == 2, (result.output, result.exception)
    lines = result.stderr.strip().splitlines()
    assert lines == ["error: deposits.csv line 2: amount: '12.5 BTC' is not a decimal amount"]
    assert customers(cli_db) == 0
    missing = cs("exchange", "import", str(tmp_path / "nowhere"))
    assert missing.exit_code == 2 and "is not a folder" in missing.stderr
    assert cs("exchange", "links", "C000000000").exit_code == 2
