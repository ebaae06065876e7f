"""CSV files of the world, their text built with Arrow compute.

``write_csv`` writes byte for byte what ``pyarrow.csv.write_csv`` writes with
``quoting_style="needed"``: a header of quoted column names; strings quoted, with inner
quotes doubled; other values as Arrow casts them to text, unquoted; nulls empty; ``\\n``
after every line. Arrow's writer formats a time-zoned timestamp through the time-zone
database, about a microsecond a value, which was most of the exchange export's CSV time;
here a ``timestamp[s, tz=UTC]`` is cast as the same instant without a zone (a plain
calendar computation, ~30x faster) and ``Z`` is appended, which is the same text. Each
line is one joined string; the joined array's data buffer is the file's body.

Columns of other types than the ones listed in ``_PLAIN`` go through Arrow's writer, the
whole table, so the output is always what Arrow would write.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

#: rows joined at a time (bounds the memory of the lines being built)
BATCH_ROWS = 1 << 17
_QUOTE = pa.scalar('"')
_EMPTY = pa.scalar("")


def _plain(t: pa.DataType) -> bool:
    """Types cast to text and written unquoted, as Arrow's writer does."""
    return bool(
        pa.types.is_integer(t)
        or pa.types.is_floating(t)
        or pa.types.is_boolean(t)
        or pa.types.is_date32(t)
        or (pa.types.is_timestamp(t) and t.unit == "s" and t.tz in (None, "UTC"))
    )


def _is_text(t: pa.DataType) -> bool:
    return bool(pa.types.is_string(t) or pa.types.is_large_string(t))


def supported(schema: pa.Schema) -> bool:
    return all(_is_text(f.type) or _plain(f.type) for f in schema)


def header_text(names: list[str]) -> bytes:
    quoted = ['"' + n.replace('"', '""') + '"' for n in names]
    return (",".join(quoted) + "\n").encode()


def _has_quote(col: pa.Array) -> bool:
    """Whether any value of ``col`` (a ``string`` array, maybe a slice) holds a quote."""
    data = col.buffers()[2]
    if data is None or len(col) == 0:
        return False
    offsets = np.frombuffer(col.buffers()[1], dtype=np.int32)
    start, end = int(offsets[col.offset]), int(offsets[col.offset + len(col)])
    return bool((np.frombuffer(data, dtype=np.uint8)[start:end] == ord('"')).any())


def _pieces(col: pa.Array) -> list[pa.Array | str]:
    """The parts one column adds to each line: arrays, and text between them."""
    t = col.type
    if _is_text(t):
        col = col.cast(pa.string())  # a batch's text fits 32-bit offsets
        if _has_quote(col):
            col = pc.replace_substring(col, '"', '""')
        if col.null_count:
            return [pc.fill_null(pc.binary_join_element_wise(_QUOTE, col, _QUOTE, ""), "")]
        return ['"', col, '"']
    if pa.types.is_timestamp(t) and t.tz == "UTC":
        text = pc.cast(col.cast(pa.timestamp(t.unit)), pa.string())
        if col.null_count:
            return [pc.fill_null(pc.binary_join_element_wise(text, "Z", ""), "")]
        return [text, "Z"]
    text = pc.cast(col, pa.string())
    return [pc.fill_null(text, "") if col.null_count else text]


def lines(batch: pa.RecordBatch) -> memoryview:
    """The CSV lines of ``batch`` (without a header), as one buffer."""
    pieces: list[pa.Array | str] = []
    for i, col in enumerate(batch.columns):
        if i:
            pieces.append(",")
        pieces += _pieces(col)
    pieces.append("\n")
    # runs of text between two arrays become one scalar: the join's cost is per part
    parts: list[pa.Array | pa.Scalar] = []
    text = ""
    for piece in pieces:
        if isinstance(piece, str):
            text += piece
            continue
        if text:
            parts.append(pa.scalar(text))
            text = ""
        parts.append(piece)
    parts.append(pa.scalar(text))
    joined = pc.binary_join_element_wise(*parts, _EMPTY)
    offsets = np.frombuffer(
        joined.buffers()[1], dtype=np.int32, count=len(joined) + 1, offset=joined.offset * 4
    )
    data = joined.buffers()[2]
    if data is None:
        return memoryview(b"")
    return memoryview(data)[int(offsets[0]) : int(offsets[-1])]


def write_csv(table: pa.Table, path: Path, *, header: bool = True) -> Path:
    """Write ``table`` to ``path`` as Arrow's CSV writer would (``quoting_style="needed"``)."""
    if not supported(table.schema) or table.num_columns == 0:
        opts = pacsv.WriteOptions(include_header=header, quoting_style="needed")
        pacsv.write_csv(table, path, opts)
        return path
    with path.open("wb") as fh:
        if header:
            fh.write(header_text(table.column_names))
        for batch in table.combine_chunks().to_batches(max_chunksize=BATCH_ROWS):
            if batch.num_rows:
                fh.write(lines(batch))
    return path
