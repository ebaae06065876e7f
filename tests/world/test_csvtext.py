"""``csvtext.write_csv`` writes the bytes Arrow's CSV writer writes (``quoting_style="needed"``)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest

from chainsleuth.world import csvtext

UTC = pa.timestamp("s", tz="UTC")


def _arrow(table: pa.Table, header: bool = True) -> bytes:
    buf = io.BytesIO()
    pacsv.write_csv(table, buf, pacsv.WriteOptions(include_header=header, quoting_style="needed"))
    return buf.getvalue()


def _mine(tmp_path: Path, table: pa.Table, header: bool = True) -> bytes:
    return csvtext.write_csv(table, tmp_path / "t.csv", header=header).read_bytes()


def _mixed(n: int, seed: int) -> pa.Table:
    rng = np.random.default_rng(seed)
    nulls = rng.random(n) < 0.1
    words = ["plain", 'with "quotes"', "a,comma", "new\nline", "", "ünïcödé", '"', "x" * 40]
    text = [words[i] for i in rng.integers(0, len(words), n)]
    # from year 1 to 9999, and around the epoch
    seconds = np.concatenate(
        [
            rng.integers(-62_135_596_800, 253_402_300_799, n - n // 2),
            rng.integers(-(10**6), 10**6, n // 2),
        ]
    )
    return pa.table(
        {
            'na"me': pa.array(text, pa.string()),
            "text_nulls": pa.array(text, pa.string(), mask=nulls),
            "large": pa.array(text, pa.large_string()),
            "i64": pa.array(rng.integers(-(2**62), 2**62, n), mask=nulls),
            "i8": pa.array(rng.integers(-128, 128, n).astype(np.int8)),
            "f64": pa.array(rng.normal(0, 1e6, n), mask=nulls),
            "flag": pa.array(rng.random(n) < 0.5, mask=nulls),
            "day": pa.array(rng.integers(-1000, 30_000, n).astype(np.int32), pa.date32()),
            "utc": pa.array(seconds, UTC),
            "utc_nulls": pa.array(seconds, UTC, mask=nulls),
            "naive": pa.array(seconds, pa.timestamp("s")),
        }
    )


@pytest.mark.parametrize("header", [True, False])
def test_same_bytes_as_arrow(tmp_path: Path, header: bool) -> None:
    table = _mixed(5_000, 1)
    assert _mine(tmp_path, table, header) == _arrow(table, header)


def test_batches_chunks_and_slices(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(csvtext, "BATCH_ROWS", 777)
    table = _mixed(4_000, 2)
    chunked = pa.concat_tables([table.slice(0, 1_234), table.slice(1_234, 5), table.slice(1_239)])
    assert _mine(tmp_path, chunked) == _arrow(table)
    part = table.slice(101, 2_000)
    assert _mine(tmp_path, part) == _arrow(part)


def test_empty_and_unsupported(tmp_path: Path) -> None:
    empty = _mixed(10, 3).slice(0, 0)
    assert _mine(tmp_path, empty) == _arrow(empty)
    # types it does not build itself go through Arrow's writer
    odd = pa.table({"ms": pa.array([1, None], pa.timestamp("ms", tz="UTC")), "s": ["a", "b"]})
    assert not csvtext.supported(odd.schema)
    assert _mine(tmp_path, odd) == _arrow(odd)
