"""Bytes on disk: exact JSON and CSV encodings, typed CSV round trips, clear errors."""

import math

import pytest

from user_activity.file_formats import FileFormatError, dump_csv, dump_json, load_csv, load_json
from user_activity.transform import USER_ACTIVITY_COLUMNS
from user_activity_tests.expected import SMALL_USER_ACTIVITY, SMALL_USER_ACTIVITY_CSV


def test_json_is_utf8_indented_with_trailing_newline():
    assert dump_json([{"name": "Émile", "n": 1}]) == (
        '[\n  {\n    "name": "Émile",\n    "n": 1\n  }\n]\n'.encode()
    )


def test_json_refuses_nan():
    with pytest.raises(ValueError, match="Out of range float values are not JSON compliant"):
        dump_json([{"x": math.nan}])


def test_json_error_names_the_file():
    with pytest.raises(FileFormatError, match=r"^data/x\.json is not valid JSON: Expecting value"):
        load_json(b"<html>", "data/x.json")


def test_csv_bytes_are_rfc4180():
    assert dump_csv(SMALL_USER_ACTIVITY, USER_ACTIVITY_COLUMNS) == (
        SMALL_USER_ACTIVITY_CSV.encode()
    )


def test_csv_round_trip_keeps_types_and_special_characters():
    rows = [
        {**SMALL_USER_ACTIVITY[0], "name": 'a,b "c"\nd\r\ne', "city": "  spaced  "},
        *SMALL_USER_ACTIVITY[1:],
    ]
    back = load_csv(dump_csv(rows, USER_ACTIVITY_COLUMNS), USER_ACTIVITY_COLUMNS, "f.csv")
    assert back == rows
    assert type(back[0]["user_id"]) is int and type(back[0]["posts_count"]) is int


def test_csv_header_mismatch_is_an_error():
    with pytest.raises(FileFormatError) as error:
        load_csv(b"id,name\r\n1,a\r\n", {"user_id": int, "name": str}, "data/r.csv")
    assert str(error.value) == (
        "data/r.csv has header ['id', 'name'], expected ['user_id', 'name']"
    )


def test_csv_bad_int_names_line_and_column():
    with pytest.raises(FileFormatError) as error:
        load_csv(b"user_id,name\r\n1,a\r\nx,b\r\n", {"user_id": int, "name": str}, "data/r.csv")
    assert str(error.value) == "data/r.csv line 3: user_id is not int: 'x'"


def test_csv_short_row_is_an_error():
    with pytest.raises(FileFormatError) as error:
        load_csv(b"user_id,name\r\n1\r\n", {"user_id": int, "name": str}, "data/r.csv")
    assert str(error.value) == "data/r.csv line 2 has 1 fields, expected 2"
