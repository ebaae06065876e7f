"""A streaming XLSX (Office Open XML) writer for large plain tables.

openpyxl builds a cell object per value: about 16 s for the million cells of a subject with
100,000 transactions on the build machines, well past the package's time budget. A
package's workbook only needs sheets of plain values with a bold header row, so this writes
the SpreadsheetML parts directly (inline strings, no shared-string table), one sheet at a
time, each column's cells built by Arrow's string kernels rather than value by value;
openpyxl reads the result back in the tests. Integers beyond 2**53 (wei amounts) are
written as text so that spreadsheet programs do not round them; booleans as booleans.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from typing import IO, Any
from xml.sax.saxutils import escape

import pyarrow as pa
import pyarrow.compute as pc

from chainsleuth.packages.tables import string_bytes

MAX_ROWS = 1_048_576  # a sheet's limit in every spreadsheet program
_SAFE_INT = 2**53
_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_SPECIAL = re.compile("[&<>\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_BAD_SHEET = re.compile(r"[\[\]:*?/\\]")

_OOXML = "application/vnd.openxmlformats-"
_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    f'<Default Extension="rels" ContentType="{_OOXML}package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" '
    f'ContentType="{_OOXML}officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/styles.xml" '
    f'ContentType="{_OOXML}officedocument.spreadsheetml.styles+xml"/>'
    "{sheets}</Types>"
)
_SHEET_TYPE = (
    '<Override PartName="/xl/worksheets/sheet{n}.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
)
_ROOT_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>'
)
_STYLES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    '<fonts count="2"><font><sz val="11"/><name val="Calibri"/></font>'
    '<font><b/><sz val="11"/><name val="Calibri"/></font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill>'
    '<fill><patternFill patternType="gray125"/></fill></fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="2"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/></cellXfs>'
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
    "</styleSheet>"
)
_SHEET_HEAD = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    '<sheetViews><sheetView workbookViewId="0"><pane ySplit="1" topLeftCell="A2" '
    'activePane="bottomLeft" state="frozen"/></sheetView></sheetViews><sheetData>'
)
_SHEET_TAIL = "</sheetData></worksheet>"


def _text(value: str) -> str:
    if _SPECIAL.search(value) is None:  # the common case: nothing to escape
        return value
    return escape(_ILLEGAL.sub("\ufffd", value))


def _cell(value: Any, style: str = "") -> str:
    if type(value) is str:
        return f'<c t="inlineStr"{style}><is><t xml:space="preserve">{_text(value)}</t></is></c>'
    if value is None:
        return "<c/>"
    if isinstance(value, bool):
        return f'<c t="b"{style}><v>{int(value)}</v></c>'
    if isinstance(value, int) and -_SAFE_INT < value < _SAFE_INT:
        return f"<c{style}><v>{value}</v></c>"
    if isinstance(value, float):
        return f"<c{style}><v>{value!r}</v></c>"
    return f'<c t="inlineStr"{style}><is><t xml:space="preserve">{_text(str(value))}</t></is></c>'


_STR_OPEN = '<c t="inlineStr"><is><t xml:space="preserve">'
_STR_CLOSE = "</t></is></c>"
_ILLEGAL_RE2 = "[\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x{fffe}\\x{ffff}]"
#: rows turned into XML per Arrow batch (string offsets stay far below 2 GiB)
CHUNK = 20_000


def _text_column(values: pa.Array) -> pa.Array:
    """Text cells of a string column, escaped (only when some value needs it)."""
    if pc.any(pc.match_substring_regex(values, "[&<>]|" + _ILLEGAL_RE2)).as_py():
        values = pc.replace_substring_regex(values, _ILLEGAL_RE2, "\ufffd")
        for char, entity in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;")):
            values = pc.replace_substring(values, char, entity)
    return pc.binary_join_element_wise(_STR_OPEN, values, _STR_CLOSE, "")


def _column_cells(column: Sequence[Any]) -> pa.Array:
    """The cells of one column of Python values (mixed types are written as text)."""
    try:
        values = pa.array(column)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
        values = pa.array([None if v is None else str(v) for v in column], pa.string())
    return _array_cells(values)


def _array_cells(values: pa.Array) -> pa.Array:
    """The cells of one column, as an Arrow string array: numbers as numbers, booleans as
    booleans, text (and integers beyond 2**53) as inline text, None as an empty cell."""
    kind = values.type
    if pa.types.is_null(kind):
        return pa.array(["<c/>"] * len(values), pa.string())
    if pa.types.is_boolean(kind):
        digits = pc.cast(pc.cast(values, pa.int8()), pa.string())
        cells = pc.binary_join_element_wise('<c t="b"><v>', digits, "</v></c>", "")
    elif pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind):
        bounds = pc.min_max(values).as_py()
        low, high = bounds["min"], bounds["max"]
        big = not pa.types.is_floating(kind) and (
            (low is not None and low <= -_SAFE_INT) or (high is not None and high >= _SAFE_INT)
        )
        text = pc.cast(values, pa.string())
        if big:
            cells = _text_column(text)
        else:
            cells = pc.binary_join_element_wise("<c><v>", text, "</v></c>", "")
    else:  # text; dates and the like as their text
        cells = _text_column(pc.cast(values, pa.string()))
    return pc.fill_null(cells, "<c/>")


def _rows_xml(first: int, count: int, cells: Sequence[pa.Array | str]) -> bytes:
    """The XML of ``count`` consecutive rows (numbered from ``first``) from their cells,
    column by column (a ``str`` is the same cell on every row)."""
    if not count:
        return b""
    numbers = pc.cast(pa.array(range(first, first + count), pa.int64()), pa.string())
    joined = pc.binary_join_element_wise('<row r="', numbers, '">', *cells, "</row>", "")
    return string_bytes(joined)


def _python_cells(rows: Sequence[Sequence[Any]]) -> list[pa.Array]:
    widths = set(map(len, rows))
    width = max(widths, default=0)
    padded = (
        rows
        if len(widths) <= 1
        else [tuple(r) + (None,) * (width - len(r)) if len(r) < width else r for r in rows]
    )
    return [_column_cells(c) for c in zip(*padded, strict=True)] if width else []


@dataclass(frozen=True)
class Block:
    """Consecutive rows of a sheet: each led by the same ``lead`` values, then ``rows``
    (Python rows of plain values, or an Arrow table)."""

    lead: tuple[Any, ...]
    rows: Sequence[Sequence[Any]] | pa.Table


def sheet_name(name: str, taken: set[str]) -> str:
    base = _BAD_SHEET.sub("_", name)[:31] or "Sheet"
    candidate, n = base, 1
    while candidate.lower() in taken:
        n += 1
        suffix = f" ({n})"
        candidate = base[: 31 - len(suffix)] + suffix
    taken.add(candidate.lower())
    return candidate


class Workbook:
    """Sheets written one after another into ``fh`` (a binary file object)."""

    def __init__(self, fh: IO[bytes]) -> None:
        self._zip = zipfile.ZipFile(fh, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1)
        self._sheets: list[str] = []
        self._taken: set[str] = set()

    def add_sheet(self, name: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
        return self.add_blocks(name, columns, [Block((), rows)])

    def add_blocks(self, name: str, columns: Sequence[str], blocks: Sequence[Block]) -> str:
        """A sheet of the blocks' rows, one after another (up to :data:`MAX_ROWS`)."""
        title = sheet_name(name, self._taken)
        self._sheets.append(title)
        n = len(self._sheets)
        with self._zip.open(f"xl/worksheets/sheet{n}.xml", "w") as out:
            out.write(_SHEET_HEAD.encode())
            header = "".join(_cell(c, ' s="1"') for c in columns)
            out.write(f'<row r="1">{header}</row>'.encode())
            room, at = MAX_ROWS - 1, 2
            for block in blocks:
                lead = [_cell(v) for v in block.lead]
                kept = block.rows
                kept = kept.slice(0, room) if isinstance(kept, pa.Table) else kept[:room]
                count = kept.num_rows if isinstance(kept, pa.Table) else len(kept)
                for k in range(0, count, CHUNK):
                    if isinstance(kept, pa.Table):
                        part = kept.slice(k, CHUNK)
                        size = part.num_rows
                        cells = [_array_cells(c.combine_chunks()) for c in part.columns]
                    else:
                        rows = kept[k : k + CHUNK]
                        size = len(rows)
                        cells = _python_cells(rows)
                    out.write(_rows_xml(at, size, [*lead, *cells]))
                    at += size
                room -= count
            out.write(_SHEET_TAIL.encode())
        return title

    def close(self) -> None:
        if not self._sheets:
            self.add_sheet("Empty", ["nothing produced"], [])
        z = self._zip
        z.writestr(
            "[Content_Types].xml",
            _CONTENT_TYPES.format(
                sheets="".join(_SHEET_TYPE.format(n=i + 1) for i in range(len(self._sheets)))
            ),
        )
        z.writestr("_rels/.rels", _ROOT_RELS)
        sheets = "".join(
            f'<sheet name="{escape(t, {chr(34): "&quot;"})}" sheetId="{i + 1}" r:id="rId{i + 1}"/>'
            for i, t in enumerate(self._sheets)
        )
        z.writestr(
            "xl/workbook.xml",
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
            'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
            f"<sheets>{sheets}</sheets></workbook>",
        )
        rels = "".join(
            f'<Relationship Id="rId{i + 1}" Type="http://schemas.openxmlformats.org/'
            f'officeDocument/2006/relationships/worksheet" Target="worksheets/sheet{i + 1}.xml"/>'
            for i in range(len(self._sheets))
        )
        n = len(self._sheets) + 1
        rels += (
            f'<Relationship Id="rId{n}" Type="http://schemas.openxmlformats.org/'
            'officeDocument/2006/relationships/styles" Target="styles.xml"/>'
        )
        z.writestr(
            "xl/_rels/workbook.xml.rels",
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            f"{rels}</Relationships>",
        )
        z.writestr("xl/styles.xml", _STYLES)
        z.close()
