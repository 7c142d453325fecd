"""Bytes on disk: exact JSON and CSV encodings, typed CSV round trips, clear errors."""

import math

import pytest

from user_activity.file_formats import (
    FileFormatError,
    dump_csv,
    dump_json,
    guard_formula,
    load_csv,
    load_json,
    unguard_formula,
)
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


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ("=1+1", "'=1+1"),
        ("+SUM(A1)", "'+SUM(A1)"),
        ("-2+3", "'-2+3"),
        ("@cmd", "'@cmd"),
        ("\tAda", "'\tAda"),
        ("\rAda", "'\rAda"),
        # an apostrophe is escaped too, so reading can always strip exactly one
        ("'quoted", "''quoted"),
        ("'=1", "''=1"),
        # only the first character counts
        ("Ada=1", "Ada=1"),
        ("a-b", "a-b"),
        ("O'Brien", "O'Brien"),
        ("", ""),
        (" =1", " =1"),
    ],
)
def test_formula_guard_and_its_inverse(value, cell):
    assert guard_formula(value) == cell
    assert unguard_formula(cell) == value


INJECTION_ROWS = [
    {"user_id": 1, "name": "=1+1", "posts_count": -2},
    {"user_id": -3, "name": "+SUM(A1)", "posts_count": 0},
    {"user_id": 4, "name": "-2+3", "posts_count": 1},
    {"user_id": 5, "name": "@cmd", "posts_count": 2},
    {"user_id": 6, "name": "\tTabbed", "posts_count": 3},
]
INJECTION_COLUMNS = {"user_id": int, "name": str, "posts_count": int}


def test_csv_guards_text_cells_and_leaves_negative_numbers():
    assert dump_csv(INJECTION_ROWS, INJECTION_COLUMNS) == (
        b"user_id,name,posts_count\r\n"
        b"1,'=1+1,-2\r\n"
        b"-3,'+SUM(A1),0\r\n"
        b"4,'-2+3,1\r\n"
        b"5,'@cmd,2\r\n"
        b"6,'\tTabbed,3\r\n"
    )


def test_guarded_csv_reads_back_the_original_values():
    assert load_csv(dump_csv(INJECTION_ROWS, INJECTION_COLUMNS), INJECTION_COLUMNS, "f.csv") == (
        INJECTION_ROWS
    )


def test_json_keeps_formula_values_as_they_are():
    assert load_json(dump_json(INJECTION_ROWS), "f.json") == INJECTION_ROWS
    assert b'"name": "=1+1"' in dump_json(INJECTION_ROWS)


def test_csv_is_utf8_with_a_bom_only_when_asked():
    rows = [{"user_id": 1, "name": "Zoë 東京", "posts_count": 2}]
    plain = dump_csv(rows, INJECTION_COLUMNS)
    assert plain == "user_id,name,posts_count\r\n1,Zoë 東京,2\r\n".encode()
    with_bom = dump_csv(rows, INJECTION_COLUMNS, bom=True)
    assert with_bom == b"\xef\xbb\xbf" + plain
    assert (
        load_csv(with_bom, INJECTION_COLUMNS, "f.csv")
        == load_csv(plain, INJECTION_COLUMNS, "f.csv")
        == rows
    )


def test_csv_that_is_not_utf8_is_an_error_naming_the_file():
    with pytest.raises(FileFormatError) as error:
        load_csv(
            "user_id,name\r\n1,Zoë\r\n".encode("latin-1"), {"user_id": int, "name": str}, "r.csv"
        )
    assert str(error.value) == (
        "r.csv is not UTF-8: 'utf-8' codec can't decode byte 0xeb in position 18: "
        "invalid continuation byte"
    )
