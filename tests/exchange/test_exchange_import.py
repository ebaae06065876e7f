"""Importing the exchange's export: every row, exact amounts, canonical addresses, one audit
entry; twice changes nothing; a newer export updates; bad input names its file and line and
writes nothing; Parquet files import like CSV."""

from __future__ import annotations

import json
import re
import shutil
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from exchange_helpers import header_of, import_dir, read_csv, write_csv
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from chainsleuth.audit.models import AuditEvent
from chainsleuth.core.config import Settings
from chainsleuth.core.errors import InvalidInput
from chainsleuth.exchange import service as exchange_service
from chainsleuth.exchange.models import (
    Balance,
    Customer,
    CustomerLink,
    Deposit,
    ExchangeImport,
    KycIndex,
    LedgerEntry,
    Login,
    Withdrawal,
)
from chainsleuth.exchange.parse import TABLES, units
from chainsleuth.exchange.search import SubjectQuery, find_subjects

ROW_COUNTS = {
    "customers": Customer,
    "deposits": Deposit,
    "withdrawals": Withdrawal,
    "ledger": LedgerEntry,
    "balances": Balance,
    "logins": Login,
}


def count(session: Session, model: type) -> int:
    return int(session.scalar(select(func.count()).select_from(model)) or 0)


def import_events(session: Session) -> int:
    return int(
        session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == "exchange.import")
        )
        or 0
    )


def test_imports_the_world_export(session: Session, settings: Settings, export: Path) -> None:
    result = import_dir(session, settings, export)
    for table, model in ROW_COUNTS.items():
        rows = len(read_csv(export / f"{table}.csv"))
        assert result.tables[table].added == rows
        assert count(session, model) == rows, table
    # amounts exact in the smallest unit, also past 2**63 wei
    for row in read_csv(export / "deposits.csv")[-50:]:
        stored = session.get(Deposit, row["deposit_id"])
        assert stored is not None
        decimals = {"BTC": 8, "ETH": 18, "USDT": 6}[row["asset"]]
        assert stored.amount == int(Decimal(row["amount"]).scaleb(decimals))
    # times lie within the world's span (the export once wrote milliseconds as seconds)
    manifest = json.loads((export.parent / "world.json").read_text())
    start = datetime.fromtimestamp(manifest["start"], UTC)
    end = start + timedelta(days=manifest["days"] + 1)
    for model, column in ((Deposit, Deposit.credited_at), (Withdrawal, Withdrawal.sent_at)):
        low, high = session.execute(select(func.min(column), func.max(column))).one()
        assert start <= low <= high <= end, model
    assert import_events(session) == 1
    event = session.scalars(select(AuditEvent).where(AuditEvent.action == "exchange.import")).one()
    record = session.get(ExchangeImport, int(event.object_id or 0))
    assert (
        record is not None
        and record.counts["customers"]["added"] == result.tables["customers"].added
    )
    assert result.links and count(session, CustomerLink) == result.links


def test_amount_conversion_is_exact() -> None:
    assert units("12345678901.123456789012345678", "ETH") == 12345678901123456789012345678
    assert units("0E-8", "BTC") == 0
    assert units("-0.5", "USDT", signed=True) == -500_000
    for bad, message in [
        ("0.123456789", "more decimals than BTC has (8)"),
        ("1e400x", "is not a decimal amount"),
        ("-1", "negative"),
        ("NaN", "is not an amount"),
    ]:
        with pytest.raises(ValueError, match=re.escape(message)):
            units(bad, "BTC")
    with pytest.raises(ValueError, match="floating-point"):
        units(0.1, "BTC")


def test_importing_twice_changes_nothing(session: Session, settings: Settings, mini: Path) -> None:
    first = import_dir(session, settings, mini)
    assert first.changed > 0
    snapshot = [
        sorted(tuple(r) for r in session.execute(select(model.__table__)).all())
        for model in (Customer, KycIndex, Deposit, Login, CustomerLink)
    ]
    again = import_dir(session, settings, mini)
    assert again.changed == 0 and again.import_id is None
    assert all(c.unchanged > 0 or c.added == 0 for c in again.tables.values())
    assert import_events(session) == 1
    assert snapshot == [
        sorted(tuple(r) for r in session.execute(select(model.__table__)).all())
        for model in (Customer, KycIndex, Deposit, Login, CustomerLink)
    ]


def test_a_newer_export_updates(
    session: Session, settings: Settings, mini: Path, tmp_path: Path
) -> None:
    import_dir(session, settings, mini)
    newer = tmp_path / "newer"
    shutil.copytree(mini, newer)
    customers = read_csv(newer / "customers.csv")
    target = customers[0]
    old_email = target["email"]
    target["email"] = "New.Address@Example.org"
    write_csv(newer / "customers.csv", customers, header_of(newer / "customers.csv"))
    balances = read_csv(newer / "balances.csv")
    balances[0]["balance"] = "1.5"
    write_csv(newer / "balances.csv", balances, header_of(newer / "balances.csv"))
    logins = read_csv(newer / "logins.csv")
    extra = dict(logins[0], session_id="S9999999999", ip="203.0.113.7")
    write_csv(newer / "logins.csv", [*logins, extra], header_of(newer / "logins.csv"))

    result = import_dir(session, settings, newer)
    assert result.tables["customers"].updated == 1 and result.tables["customers"].added == 0
    assert result.tables["balances"].updated == 1
    assert result.tables["logins"].added == 1
    assert import_events(session) == 2
    keys = exchange_service.keys_for(settings)
    found = find_subjects(session, keys=keys, query=SubjectQuery(email="new.address@example.org"))
    assert [m.customer.id for m in found] == [target["customer_id"]]
    assert find_subjects(session, keys=keys, query=SubjectQuery(email=old_email)) == []
    balance = session.get(Balance, balances[0]["account_id"])
    assert balance is not None
    assert balance.balance == units("1.5", balances[0]["asset"])


def _drop_column(path: Path, column: str) -> None:
    header = [c for c in header_of(path) if c != column]
    rows = [{k: v for k, v in r.items() if k != column} for r in read_csv(path)]
    write_csv(path, rows, header)


def _set(path: Path, row: int, column: str, value: str) -> None:
    rows = read_csv(path)
    rows[row][column] = value
    write_csv(path, rows, header_of(path))


BAD = {
    "missing column": (
        lambda d: _drop_column(d / "deposits.csv", "amount"),
        "deposits.csv line 1: missing column 'amount'",
    ),
    "too many decimals": (
        lambda d: _set(d / "withdrawals.csv", 1, "amount", "0.123456789123456789123"),
        "withdrawals.csv line 3: amount: 0.123456789123456789123 has more decimals than",
    ),
    "bad address": (
        lambda d: _set(d / "deposit_addresses.csv", 0, "address", "bc1qnotanaddress"),
        "deposit_addresses.csv line 2: address: 'bc1qnotanaddress' is not a valid Bech32",
    ),
    "unknown customer": (
        lambda d: _set(d / "logins.csv", 2, "customer_id", "C000000001"),
        "logins.csv line 4: customer_id: unknown customer 'C000000001'",
    ),
    "bad time": (
        lambda d: _set(d / "ledger.csv", 0, "time", "yesterday"),
        "ledger.csv line 2: time: 'yesterday' is not an ISO 8601 time",
    ),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_input_names_file_and_line_and_writes_nothing(
    session: Session, settings: Settings, mini: Path, tmp_path: Path, case: str
) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(mini, broken)
    spoil, message = BAD[case]
    spoil(broken)
    with pytest.raises(InvalidInput) as info:
        import_dir(session, settings, broken)
    assert message in info.value.message, info.value.message
    assert "\n" not in info.value.message
    session.rollback()
    assert count(session, Customer) == 0 and count(session, Login) == 0
    assert import_events(session) == 0


def test_parquet_files_import_like_csv(
    session: Session, settings: Settings, mini: Path, tmp_path: Path
) -> None:
    pq_dir = tmp_path / "parquet"
    pq_dir.mkdir()
    for table in TABLES:
        names = header_of(mini / f"{table}.csv")
        t = pacsv.read_csv(
            mini / f"{table}.csv",
            convert_options=pacsv.ConvertOptions(column_types=dict.fromkeys(names, pa.string())),
        )
        pq.write_table(t, pq_dir / f"{table}.parquet")
    result = import_dir(session, settings, pq_dir)
    assert result.tables["deposits"].added == len(read_csv(mini / "deposits.csv"))
    # the same rows as the CSV files: importing those changes nothing
    assert import_dir(session, settings, mini).changed == 0


def test_balances_at_a_date_come_from_the_ledger(
    session: Session, settings: Settings, mini: Path
) -> None:
    import_dir(session, settings, mini)
    final = {r["account_id"]: r for r in read_csv(mini / "balances.csv")}
    ledger = read_csv(mini / "ledger.csv")
    customer_id = ledger[0]["customer_id"]
    customer = exchange_service.get_customer(session, customer_id)
    later = datetime(2100, 1, 1, tzinfo=UTC)
    at_end = exchange_service.balances_at(session, customer, later)
    for account_id, balance in at_end.items():
        if account_id in final:
            assert balance == units(final[account_id]["balance"], final[account_id]["asset"])
    first = min(
        datetime.fromisoformat(r["time"]) for r in ledger if r["customer_id"] == customer_id
    )
    before = exchange_service.balances_at(session, customer, first - timedelta(seconds=1))
    assert set(before.values()) == {0}
    mine = [r for r in ledger if r["customer_id"] == customer_id]
    entry = mine[0]
    at_first = exchange_service.balances_at(
        session, customer, datetime.fromisoformat(entry["time"])
    )
    same_time = [
        r for r in mine if r["time"] == entry["time"] and r["account_id"] == entry["account_id"]
    ]
    assert at_first[entry["account_id"]] == units(same_time[-1]["balance_after"], entry["asset"])
