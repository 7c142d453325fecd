"""The fast JSON path (orjson) gives exactly the json module's bytes, values, errors and hashes.

Each case states which path it takes, so a test that should exercise orjson cannot pass by
silently using the standard library (and the other way round).
"""

import hashlib
import json
import math
from pathlib import Path

import pytest

from benchmarks.generate import generate
from user_activity.api_records import content_version
from user_activity.file_formats import (
    FileFormatError,
    dump_canonical_json,
    dump_json,
    load_json,
    loads,
    orjson_agrees,
)

SNAPSHOT = Path(__file__).parent.parent / "user_activity" / "snapshot"


def stdlib_file(value):
    return (json.dumps(value, ensure_ascii=False, indent=2, allow_nan=False) + "\n").encode()


def stdlib_canonical(value):
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


# values orjson encodes exactly like json
SAME = {
    "non-ascii": {"name": "Émile Zoë 中文 😀", "ключ": "значение"},
    "control characters": ["\x00\x01\x08\x0c\n\r\t\x1f\x7f", '"quoted" \\ /slash'],
    "line separators": "a\u2028b\u2029c\u0085d",
    "64-bit ints": [2**63 - 1, -(2**63), 2**64 - 1, 0, -1],
    "nested": {"a": {"b": [], "c": {}, "d": [[], {}, [[1, [2]]]]}, "z": None, "t": True},
    "empty list": [],
    "empty dict": {},
    "scalars": [True, False, None, "", 0],
    "unsorted keys": {"b": 1, "a": {"é": 2, "e": 3, "Z": 4, "": 5}},
    "records": [{"userId": 1, "id": 1, "title": "t", "body": "line\nline"}],
}
# values that must take the standard library path (orjson differs or refuses)
STDLIB = {
    "floats": [1.5, 0.1, 1e16, 1e-05, 1.5e-07, -0.0, 5e-324],
    "a float deep inside": [{"a": [{"b": {"c": 2.5}}]}],
    "int beyond 64 bits": [2**64, -(2**63) - 1],
    "non-str key": {1: "one", 2: "two"},
    "tuple": ("a", 1),
    "str subclass": [type("Name", (str,), {})("x")],
}


@pytest.mark.parametrize("value", SAME.values(), ids=SAME.keys())
def test_orjson_path_gives_the_json_module_bytes(value):
    assert orjson_agrees(value)
    assert dump_json(value) == stdlib_file(value)
    assert dump_canonical_json(value) == stdlib_canonical(value)
    assert loads(stdlib_file(value)) == json.loads(stdlib_file(value))


@pytest.mark.parametrize("value", STDLIB.values(), ids=STDLIB.keys())
def test_values_orjson_would_change_take_the_json_module(value):
    assert dump_json(value) == stdlib_file(value)
    assert dump_canonical_json(value) == stdlib_canonical(value)


def test_floats_are_not_trusted_to_orjson():
    assert not orjson_agrees([{"x": 1.5}])
    assert dump_json([1e-05, 1.5e-07]) == b"[\n  1e-05,\n  1.5e-07\n]\n"


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_nan_and_infinity_are_still_refused(value):
    with pytest.raises(ValueError, match="Out of range float values are not JSON compliant"):
        dump_json([{"a": {"b": [value]}}])


def test_lone_surrogate_fails_as_before():
    with pytest.raises(UnicodeEncodeError):
        dump_json(["\ud800"])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (b"[18446744073709551616, -9223372036854775809]", [2**64, -(2**63) - 1]),
        (b'{"a": 1.5e-07}', {"a": 1.5e-07}),
        (b'"\\ud800"', "\ud800"),
        (b'{"a": 1, "a": 2}', {"a": 2}),
        (b'["\\u2028", "\\u00e9"]', ["\u2028", "é"]),
    ],
)
def test_loads_gives_the_json_module_values(text, expected):
    value = loads(text)
    assert value == expected == json.loads(text)
    assert [type(item) for item in value] == [type(item) for item in json.loads(text)]


def test_loads_keeps_nan_like_the_json_module():
    assert math.isnan(loads(b"[NaN]")[0])


def test_load_json_errors_are_the_json_module_ones():
    with pytest.raises(FileFormatError, match=r"^x\.json is not valid JSON: Expecting value: "):
        load_json(b"[1, ]", "x.json")


@pytest.mark.parametrize("name", ["users", "posts"])
def test_real_data_files_are_byte_identical(name):
    data = (SNAPSHOT / f"{name}.json").read_bytes()
    records = load_json(data, name)
    assert records == json.loads(data)
    assert dump_json(records) == stdlib_file(records)
    assert content_version(records) == (hashlib.sha256(stdlib_canonical(records)).hexdigest()[:16])


def test_generated_data_is_byte_identical():
    data = generate(3_000, 30)  # the benchmark's records: non-ASCII names, quotes, nesting
    for records in data.values():
        assert orjson_agrees(records)
        assert dump_json(records) == stdlib_file(records)
        assert dump_canonical_json(records) == stdlib_canonical(records)
        assert loads(dump_json(records)) == records
