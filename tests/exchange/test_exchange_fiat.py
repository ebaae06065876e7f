"""Fiat deposits in the exchange's export: generated for every buy, imported exactly."""

from __future__ import annotations

import shutil
from decimal import Decimal
from pathlib import Path

import pytest
from exchange_helpers import header_of, import_dir, read_csv, write_csv
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from chainsleuth.core.config import Settings
from chainsleuth.core.errors import InvalidInput
from chainsleuth.exchange.models import FiatDeposit
from chainsleuth.exchange.parse import CURRENCIES


def test_every_buy_is_funded_by_a_fiat_deposit_before_it(export: Path) -> None:
    buys = {r["trade_id"]: r for r in read_csv(export / "trades.csv") if r["side"] == "buy"}
    fiat = read_csv(export / "fiat_deposits.csv")
    assert buys and sorted(r["reference"] for r in fiat) == sorted(buys)
    for row in fiat:
        trade = buys[row["reference"]]
        assert row["customer_id"] == trade["customer_id"]
        assert row["received_at"] < trade["time"]
        assert row["currency"] in CURRENCIES
        if row["currency"] == "USD":  # covers the trade (a round sum, a little more)
            assert Decimal(row["amount"]) >= Decimal(trade["amount"]) * Decimal(trade["price_usd"])


def test_fiat_deposits_import_in_minor_units(
    session: Session, settings: Settings, mini: Path
) -> None:
    rows = read_csv(mini / "fiat_deposits.csv")
    result = import_dir(session, settings, mini)
    assert result.tables["fiat_deposits"].added == len(rows)
    assert session.scalar(select(func.count()).select_from(FiatDeposit)) == len(rows)
    for row in rows[:20]:
        stored = session.get(FiatDeposit, row["fiat_deposit_id"])
        assert stored is not None
        assert stored.amount == int(Decimal(row["amount"]).scaleb(CURRENCIES[row["currency"]]))
        assert stored.payer_matches_kyc == (row["payer_matches_kyc"] == "true")
    assert import_dir(session, settings, mini).changed == 0


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        ("currency", "XYZ", "currency: unknown currency 'XYZ'"),
        ("amount", "10.001", "amount: 10.001 has more decimals than"),
        ("amount", "-5.00", "amount: -5.00 is negative"),
    ],
)
def test_bad_fiat_rows_name_file_and_line(
    session: Session, settings: Settings, mini: Path, tmp_path: Path, column: str, value: str,
    message: str,
) -> None:  # fmt: skip
    broken = tmp_path / "broken"
    shutil.copytree(mini, broken)
    path = broken / "fiat_deposits.csv"
    rows = read_csv(path)
    if not rows:
        pytest.skip("no fiat deposits in the cut")
    rows[0][column] = value
    if column == "amount":
        rows[0]["currency"] = "EUR"
    write_csv(path, rows, header_of(path))
    with pytest.raises(InvalidInput) as info:
        import_dir(session, settings, broken)
    assert f"fiat_deposits.csv line 2: {message}" in info.value.message
    session.rollback()
    assert session.scalar(select(func.count()).select_from(FiatDeposit)) == 0
