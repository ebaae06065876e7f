"""Parquet segments read back exactly as written, through pyarrow and through DuckDB."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from chainsleuth.chain.segments import write_parquet

I64 = (-(2**63), 2**63 - 1)


def test_extreme_and_null_values_round_trip(tmp_path: Path) -> None:
    """Delta-encoded integers wrap around at the int64 limits: nothing may be lost."""
    table = pa.table(
        {
            "tx_id": pa.array([0, 1, 2, I64[1], I64[0], None, 7, -5], pa.int64()),
            "n": pa.array([2**31 - 1, -(2**31), 0, 1, None, 3, -1, 4], pa.int32()),
            "status": pa.array([1, 0, -128, 127, None, 1, 0, 1], pa.int8()),
            "time": pa.array(
                [datetime(2024, 1, 1, tzinfo=UTC), None] + [datetime(2025, 6, 1, tzinfo=UTC)] * 6,
                pa.timestamp("s", tz="UTC"),
            ),
            "hash": pa.array(["ab" * 32] * 7 + [None], pa.string()),
            "value": pa.array([10**30, 0, None, 1, 2, 3, 4, 5], pa.decimal128(38, 0)),
            "coinbase": pa.array([True, False, None, True, False, True, False, True]),
        }
    )
    path = tmp_path / "s.parquet"
    write_parquet(table, path, durable=True)
    back = pq.read_table(path)
    assert back.column_names == table.column_names
    for name in table.column_names:
        got = back[name].cast(table.schema.field(name).type)
        assert got.to_pylist() == table[name].to_pylist(), name
    rows = duckdb.sql(f"SELECT tx_id, n, status FROM read_parquet('{path}')").fetchall()
    assert rows == list(
        zip(
            table["tx_id"].to_pylist(),
            table["n"].to_pylist(),
            table["status"].to_pylist(),
            strict=True,
        )
    )


def test_a_long_sorted_run_round_trips(tmp_path: Path) -> None:
    """Many row groups of sorted ids and repeated heights (what a batch writes)."""
    n = 100_000
    table = pa.table(
        {
            "tx_id": pa.array(range(10**9, 10**9 + n), pa.int64()),
            "height": pa.array([i // 7 for i in range(n)], pa.int64()),
            "value": pa.array([(i * 2654435761) % 10**12 for i in range(n)], pa.int64()),
        }
    )
    path = tmp_path / "run.parquet"
    write_parquet(table, path, durable=False)
    assert pq.read_table(path).equals(table)
    got = duckdb.sql(
        f"SELECT sum(tx_id), sum(height), max(value) FROM read_parquet('{path}')"
    ).fetchall()[0]
    assert got == (
        sum(table["tx_id"].to_pylist()),
        sum(table["height"].to_pylist()),
        max(table["value"].to_pylist()),
    )
