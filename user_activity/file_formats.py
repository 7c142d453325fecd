"""How records become bytes on disk and back: JSON and CSV, free of Dagster.

JSON: UTF-8, non-ASCII kept as is, 2-space indent, a trailing newline, NaN refused.
CSV: UTF-8 (optionally with a byte-order mark for Excel), a header row, RFC 4180 quoting and CRLF
line ends; text cells that a spreadsheet would run as a formula are guarded (see
`guard_formula`); on reading, the guard is removed and each column is converted back to its
declared type, so what was written is exactly what is read. The encoding is always given
explicitly, never the platform default.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence
from typing import Any

ENCODING = "utf-8"
BOM = "\ufeff"

# A spreadsheet treats a cell starting with one of these as a formula (OWASP "CSV injection").
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
# Excel's own "this is text" marker; it is also escaped, so that the guard can be undone exactly.
GUARD = "'"


class FileFormatError(ValueError):
    """A file's content does not have the shape the pipeline expects."""


def guard_formula(value: str) -> str:
    """A text cell that no spreadsheet runs: a leading apostrophe before a formula trigger.

    A value that already starts with an apostrophe gets one more, so `unguard_formula` can always
    remove exactly one and give back the original.
    """
    return GUARD + value if value.startswith((*FORMULA_TRIGGERS, GUARD)) else value


def unguard_formula(value: str) -> str:
    """The original of a cell written by `guard_formula`."""
    return value[1:] if value.startswith(GUARD) else value


def dump_json(value: Any) -> bytes:
    text = json.dumps(value, ensure_ascii=False, indent=2, allow_nan=False) + "\n"
    return text.encode(ENCODING)


def load_json(data: bytes, source: str) -> Any:
    try:
        return json.loads(data.decode(ENCODING))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise FileFormatError(f"{source} is not valid JSON: {error}") from None


def _guarded_cell(value: Any, kind: type) -> Any:
    # Only text columns: a negative number in an int column is data, not a formula.
    return guard_formula(value) if kind is str and isinstance(value, str) else value


def dump_csv(
    rows: Sequence[Mapping[str, Any]], column_types: Mapping[str, type], *, bom: bool = False
) -> bytes:
    """A header row, then one line per row in the given column order; text cells guarded."""
    buffer = io.StringIO()
    if bom:
        buffer.write(BOM)
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(column_types)
    writer.writerows(
        [_guarded_cell(row[column], kind) for column, kind in column_types.items()] for row in rows
    )
    return buffer.getvalue().encode(ENCODING)


def load_csv(data: bytes, column_types: Mapping[str, type], source: str) -> list[dict[str, Any]]:
    """Rows of a CSV written by `dump_csv`, unguarded and converted to their declared types.

    A byte-order mark, if any, is skipped, so files written with or without one read the same.
    """
    try:
        text = data.decode(ENCODING).removeprefix(BOM)
    except UnicodeDecodeError as error:
        raise FileFormatError(f"{source} is not UTF-8: {error}") from None
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, None)
    if header != list(column_types):
        raise FileFormatError(f"{source} has header {header}, expected {list(column_types)}")
    rows = []
    for values in reader:
        line_number = reader.line_num
        if len(values) != len(header):
            raise FileFormatError(
                f"{source} line {line_number} has {len(values)} fields, expected {len(header)}"
            )
        row = {}
        for column, value in zip(header, values, strict=True):
            kind = column_types[column]
            try:
                row[column] = unguard_formula(value) if kind is str else kind(value)
            except ValueError:
                raise FileFormatError(
                    f"{source} line {line_number}: {column} is not {kind.__name__}: {value!r}"
                ) from None
        rows.append(row)
    return rows
