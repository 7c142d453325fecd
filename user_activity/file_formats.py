"""How records become bytes on disk and back: JSON and CSV, free of Dagster.

JSON: UTF-8, non-ASCII kept as is, 2-space indent, a trailing newline, NaN refused.
CSV: UTF-8 (optionally with a byte-order mark for Excel), a header row, RFC 4180 quoting and CRLF
line ends; text cells that a spreadsheet would run as a formula are guarded (see
`guard_formula`); on reading, the guard is removed and each column is converted back to its
declared type, so what was written is exactly what is read. The encoding is always given
explicitly, never the platform default.

Speed: orjson (when installed; it is a dependency) writes and reads JSON 10-20x faster than the
standard library, whose indenting encoder is pure Python. The bytes must stay exactly the
standard library's, so orjson is used only where the two provably agree: values made of str,
int, bool, None, dict and list (exact types, see `_leaf_types`). Floats (orjson formats 1e-05 as
0.00001, and writes NaN as null where json refuses it), subclasses and any value orjson refuses
(ints beyond 64 bits, non-str keys) take the standard library path, errors included.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator, Mapping, Sequence
from itertools import chain
from typing import Any

try:
    import orjson
except ImportError:  # pragma: no cover - the standard library gives the same bytes, slower
    orjson = None  # type: ignore[assignment]

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


# The leaf types whose JSON orjson writes and reads exactly as the json module does.
_SAME_IN_ORJSON = frozenset({str, int, bool, type(None)})


_CONTAINERS = frozenset({dict, list})


def _children(dicts: list[dict], lists: list[list]) -> Iterator[Any]:
    return chain(chain.from_iterable(map(dict.values, dicts)), chain.from_iterable(lists))


def _leaf_types(value: Any) -> set[type]:
    """The exact types of every non-container value in `value`, level by level.

    Each level is scanned with C-level map/chain, not a Python loop per value: a million records
    take a fraction of a second, and a level is copied only when it holds containers. A dict or
    list subclass counts as a leaf (so it is not trusted).
    """
    found: set[type] = set()
    level: list[Any] = [value]
    while True:
        kinds = set(map(type, level))
        found |= kinds - _CONTAINERS
        dicts = level if kinds == {dict} else [item for item in level if type(item) is dict]
        lists = level if kinds == {list} else [item for item in level if type(item) is list]
        child_kinds = set(map(type, _children(dicts, lists)))
        if not child_kinds & _CONTAINERS:
            return found | child_kinds
        if child_kinds <= _CONTAINERS:
            level = list(_children(dicts, lists))
        else:
            level = [item for item in _children(dicts, lists) if type(item) in _CONTAINERS]
            found |= child_kinds - _CONTAINERS


def orjson_agrees(value: Any) -> bool:
    """Whether orjson encodes `value` byte for byte like the json module (and is installed)."""
    return orjson is not None and _leaf_types(value) <= _SAME_IN_ORJSON


def fast_dumps(value: Any, option: int) -> bytes | None:
    """orjson's encoding of `value` when it agrees with the json module, else None."""
    if not orjson_agrees(value):
        return None
    try:
        return orjson.dumps(value, option=option)
    except orjson.JSONEncodeError:  # e.g. an int beyond 64 bits, a non-str key
        return None


def dump_json(value: Any) -> bytes:
    # orjson appends the newline itself: `+ b"\n"` would copy a 300 MB file once more
    fast = fast_dumps(value, orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE if orjson else 0)
    if fast is not None:
        return fast
    text = json.dumps(value, ensure_ascii=False, indent=2, allow_nan=False) + "\n"
    return text.encode(ENCODING)


def dump_compact_json(value: Any) -> bytes:
    """No whitespace, non-ASCII kept, NaN refused, on one line (JSON escapes line breaks)."""
    fast = fast_dumps(value, 0)
    if fast is not None:
        return fast
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return text.encode(ENCODING)


def dump_canonical_json(value: Any) -> bytes:
    """Sorted keys, no whitespace, non-ASCII kept: the form a content hash is taken of."""
    fast = fast_dumps(value, orjson.OPT_SORT_KEYS if orjson else 0)
    if fast is not None:
        return fast
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def loads(data: bytes | str) -> Any:
    """`json.loads(data)`, through orjson when its result is provably the same.

    orjson refuses NaN, lone surrogates and a byte-order mark that json accepts (then json
    parses, or raises its own error), and reads an int beyond 64 bits as a float: a result with
    any float is parsed again by json.
    """
    if orjson is not None:
        try:
            value = orjson.loads(data)
        except orjson.JSONDecodeError:
            pass
        else:
            if orjson_agrees(value):
                return value
    return json.loads(data)


def load_json(data: bytes, source: str) -> Any:
    try:
        return loads(data.decode(ENCODING))
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
