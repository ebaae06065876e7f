"""The columnar path of package items: the same CSV, times, amounts and workbook cells as
the plain Python values give."""

from __future__ import annotations

import csv
import io
import random
import zipfile
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
from sqlalchemy import select
from sqlalchemy.orm import Session

from chainsleuth.chain.chains import format_amount
from chainsleuth.core.config import Settings
from chainsleuth.exchange.models import Deposit, LedgerEntry, Login, Withdrawal
from chainsleuth.exchange.parse import ASSETS
from chainsleuth.packages import gather as gather_module
from chainsleuth.packages import service as package_service
from chainsleuth.packages import tables, xlsx
from chainsleuth.packages.enums import Category
from chainsleuth.packages.tables import Scope, Table

TRICKY = ["plain", "with,comma", 'with "quotes"', "line\nbreak", "cr\rhere", "", None, "é ü ✓"]


def _reference_csv(rows: list[tuple[object, ...]]) -> bytes:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerows(rows)
    return buf.getvalue().encode("utf-8")


def _tricky_table() -> Table:
    n = len(TRICKY)
    return Table(
        ["text", "count", "flag", "amount", "nothing"],
        data=pa.table(
            {
                "text": tables.texts(TRICKY),
                "count": tables.ints([i - 3 if i != 2 else None for i in range(n)]),
                "flag": tables.bools([1, 0, None, 1, 0, 1, 0, 1]),
                "amount": tables.amounts([str(10**30 * (-1) ** i + i) for i in range(n)]),
                "nothing": pa.nulls(n),
            }
        ),
    )


def test_csv_rows_are_what_csv_writer_writes() -> None:
    table = _tricky_table()
    lead = ("C1", 'chain,"x"')
    expected = _reference_csv([lead + row for row in table.plain()])
    assert tables.csv_body(table, lead) == expected
    assert tables.csv_body(Table(table.columns, table.plain()), lead) == expected
    assert tables.csv_header(["a", "b,c"]) == b'a,"b,c"\r\n'


def test_csv_rows_span_chunks() -> None:
    n = 2 * tables.CSV_CHUNK + 7
    table = Table(["id"], data=pa.table({"id": tables.ints(list(range(n)))}))
    assert tables.csv_body(table, ("C",)) == _reference_csv([("C", i) for i in range(n)])


def test_the_digest_follows_every_value() -> None:
    table = _tricky_table()
    same = tables.digest(_tricky_table())
    assert tables.digest(table) == same
    changed = table.data
    assert changed is not None
    changed = changed.set_column(0, "text", tables.texts(["other", *TRICKY[1:]]))
    assert tables.digest(Table(table.columns, data=changed)) != same


def test_times_as_read_on_either_backend() -> None:
    values = [datetime(2025, 1, 2, 3, 4, 5), datetime(2025, 1, 2, 3, 4, 5, 120), None]
    expected = [None if v is None else v.isoformat() + "+00:00" for v in values]
    stored = [None if v is None else v.strftime("%Y-%m-%d %H:%M:%S.%f") for v in values]
    assert tables.times(values).to_pylist() == expected  # PostgreSQL: datetimes
    assert tables.times(stored).to_pylist() == expected  # SQLite: its stored text
    assert tables.times(["2025-01-02T03:04:05", None]).to_pylist() == [expected[0], None]
    assert tables.times([None, None]).to_pylist() == [None, None]


def test_amount_displays_are_format_amount() -> None:
    rng = random.Random(7)
    scales = {"BTC": 8, "ETH": 18, "USDT": 6}
    assets = [rng.choice(["BTC", "ETH", "USDT", "XYZ"]) for _ in range(3000)]
    values = [
        rng.choice([0, 1, -1, 10**8, -(10**18)]) + rng.randrange(-(10**24), 10**24)
        if i % 7
        else rng.randrange(-1000, 1000)
        for i in range(3000)
    ]
    expected = [format_amount(v, scales.get(a, 0)) for v, a in zip(values, assets, strict=True)]
    amounts = tables.amounts([str(v) for v in values])  # SQLite: text
    assert tables.displays(amounts, tables.texts(assets), scales).to_pylist() == expected
    amounts = tables.amounts([Decimal(v) for v in values])  # PostgreSQL: decimals
    assert tables.displays(amounts, tables.texts(assets), scales).to_pylist() == expected
    one = tables.amounts(["5", "-120000000", "100"])
    assert tables.displays(one, tables.texts(["BTC"] * 3), scales).to_pylist() == [
        "0.00000005",
        "-1.2",
        "0.000001",
    ]


def test_amounts_beyond_38_digits_stay_exact() -> None:
    huge = str(10**45 + 1)
    for values in ([huge, "-3"], [Decimal(huge), Decimal(-3)]):
        column = tables.amounts(values)
        assert Table(["a"], data=pa.table({"a": column})).plain() == [(10**45 + 1,), (-3,)]
        assert tables.displays(column, tables.texts(["BTC", "BTC"]), {"BTC": 8}).to_pylist() == [
            format_amount(10**45 + 1, 8),
            "-0.00000003",
        ]


def _sheet(columns: list[str], blocks: list[xlsx.Block]) -> bytes:
    out = io.BytesIO()
    book = xlsx.Workbook(out)
    if len(blocks) == 1 and not blocks[0].lead:
        book.add_sheet("s", columns, blocks[0].rows)
    else:
        book.add_blocks("s", columns, blocks)
    book.close()
    return zipfile.ZipFile(out).read("xl/worksheets/sheet1.xml")


def test_workbook_cells_from_columns_are_those_from_rows() -> None:
    big = Table(
        ["n", "amount", "small"],
        data=pa.table(
            {
                "n": tables.ints(list(range(25_000))),
                "amount": tables.amounts([str(2**53 + i) for i in range(25_000)]),
                "small": tables.amounts([str(i - 5) for i in range(25_000)]),
            }
        ),
    )
    for table in (_tricky_table(), big):
        assert table.data is not None
        data, columns = table.data, ["customer_id", *table.columns]
        rows = [("C1", *r) for r in table.plain()]
        from_columns = _sheet(columns, [xlsx.Block(("C1",), data)])
        assert from_columns == _sheet(columns, [xlsx.Block((), rows)])


def test_items_read_in_columns_match_the_orm(
    session: Session, settings: Settings, imported: Path
) -> None:
    """On either backend, the columnar read gives what the ORM's objects say."""
    src = package_service.sources(settings)
    scales = {a: d for a, (_chain, d) in ASSETS.items()}
    checked = 0
    for model, category, order in (
        (Deposit, Category.DEPOSITS, Deposit.credited_at),
        (Withdrawal, Category.WITHDRAWALS, Withdrawal.requested_at),
        (LedgerEntry, Category.LEDGER, LedgerEntry.time),
        (Login, Category.LOGINS, Login.time),
    ):
        cid = session.scalar(select(model.customer_id).order_by(model.customer_id))
        assert cid is not None
        objects = session.scalars(
            select(model).where(model.customer_id == cid).order_by(order, model.id)
        ).all()
        table = gather_module.read_item(session, Scope(cid, category), src)
        rows = [dict(zip(table.columns, r, strict=True)) for r in table.plain()]
        assert len(rows) == len(objects) > 0
        for row, obj in zip(rows, objects, strict=True):
            for name, value in row.items():
                if name.endswith("_display"):
                    amount = getattr(obj, name.removesuffix("_display"))
                    assert value == format_amount(amount, scales.get(obj.asset, 0))
                    continue
                expected = getattr(obj, name)
                if isinstance(expected, datetime):
                    expected = expected.isoformat()
                assert value == expected and type(value) is type(expected), (category, name)
                checked += 1
    assert checked
