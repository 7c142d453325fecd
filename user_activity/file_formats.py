"""How records become bytes on disk and back: JSON and CSV, free of Dagster.

JSON: UTF-8, non-ASCII kept as is, 2-space indent, a trailing newline, NaN refused.
CSV: UTF-8, a header row, RFC 4180 quoting and CRLF line ends; on reading, each column is
converted back to its declared type so ints stay ints.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence
from typing import Any


class FileFormatError(ValueError):
    """A file's content does not have the shape the pipeline expects."""


def dump_json(value: Any) -> bytes:
    return (json.dumps(value, ensure_ascii=False, indent=2, allow_nan=False) + "\n").encode()


def load_json(data: bytes, source: str) -> Any:
    try:
        return json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise FileFormatError(f"{source} is not valid JSON: {error}") from None


def dump_csv(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(columns)
    writer.writerows([row[column] for column in columns] for row in rows)
    return buffer.getvalue().encode()


def load_csv(data: bytes, column_types: Mapping[str, type], source: str) -> list[dict[str, Any]]:
    """Rows of a CSV written by `dump_csv`, with each column converted to its declared type."""
    reader = csv.reader(io.StringIO(data.decode(), newline=""))
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
            try:
                row[column] = column_types[column](value)
            except ValueError:
                raise FileFormatError(
                    f"{source} line {line_number}: {column} is not "
                    f"{column_types[column].__name__}: {value!r}"
                ) from None
        rows.append(row)
    return rows
