"""Validation of API bodies and records, as pure functions: each error names where and what."""

import pytest

from user_activity.api_records import (
    InvalidCollection,
    as_record_list,
    content_version,
    parse_json_body,
    reject_repeated_ids,
    validate_records,
)

SRC = "GET http://api/users"
USER = {"id": 1, "name": "Ada", "username": "ada", "email": "ada@example.org"}


@pytest.mark.parametrize(
    ("content_type", "body", "message"),
    [
        (
            "text/html",
            b"<html>maintenance</html>",
            "GET http://api/users did not return JSON: status 200, content type text/html, "
            "body starts '<html>maintenance</html>'",
        ),
        (
            "application/json",
            b"",
            "GET http://api/users did not return JSON: status 200, "
            "content type application/json, body starts ''",
        ),
        (
            "application/json",
            b"  \n",
            "GET http://api/users did not return JSON: status 200, "
            "content type application/json, body starts '  \\n'",
        ),
        (
            None,  # a file has no content type; its name says JSON
            b"[1,",
            "GET http://api/users did not return valid JSON (Expecting value: line 1 column 4 "
            "(char 3)): status 200, content type none, body starts '[1,'",
        ),
    ],
)
def test_parse_json_body_errors(content_type, body, message):
    with pytest.raises(InvalidCollection) as error:
        parse_json_body(SRC, 200, content_type, body)
    assert str(error.value) == message


def test_parse_json_body_accepts_json_content_types():
    assert parse_json_body(SRC, 200, "application/json; charset=utf-8", b"[]") == []
    assert parse_json_body(SRC, 200, "application/vnd.api+json", b'[{"id": 1}]') == [{"id": 1}]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"users": []}, "src is not a JSON array but dict"),
        ("users", "src is not a JSON array but str"),
        ([{"id": 1}, [1, 2]], "src record 1 is not a JSON object: [1, 2]"),
        ([None], "src record 0 is not a JSON object: None"),
    ],
)
def test_as_record_list_errors(value, message):
    with pytest.raises(InvalidCollection) as error:
        as_record_list(value, "src")
    assert str(error.value) == message


def _user(**changes):
    user = {**USER, **changes}
    return {k: v for k, v in user.items() if v is not ...}  # ... removes the field


@pytest.mark.parametrize(
    ("collection", "records", "message"),
    [
        ("users", [], "src returned no users: nothing to report on"),
        ("users", [_user(id="1")], "src record 0 (id '1'): field 'id' must be an integer, got '1'"),
        ("users", [_user(id=1.0)], "src record 0 (id 1.0): field 'id' must be an integer, got 1.0"),
        # JSON true is a bool, which Python counts as an int: still no id
        (
            "users",
            [_user(id=True)],
            "src record 0 (id True): field 'id' must be an integer, got True",
        ),
        ("users", [USER, _user(id=..., name="B")], "src record 1 (id None): field 'id' is missing"),
        (
            "users",
            [_user(name=None)],
            "src record 0 (id 1): field 'name' must be a string, got None",
        ),
        ("users", [_user(username=...)], "src record 0 (id 1): field 'username' is missing"),
        ("users", [_user(email=7)], "src record 0 (id 1): field 'email' must be a string, got 7"),
        ("posts", [{"id": 1}], "src record 0 (id 1): field 'userId' is missing"),
        (
            "posts",
            [{"id": 1, "userId": 1}, {"id": 2, "userId": "1"}],
            "src record 1 (id 2): field 'userId' must be an integer, got '1'",
        ),
        ("posts", [{"userId": 1}], "src record 0 (id None): field 'id' is missing"),
    ],
)
def test_validate_records_errors(collection, records, message):
    with pytest.raises(InvalidCollection) as error:
        validate_records(collection, records, "src")
    assert str(error.value) == message


@pytest.mark.parametrize(
    ("collection", "records"),
    [
        ("posts", []),  # no posts: everyone has 0
        ("users", [USER]),  # address and company are optional
        ("users", [{**USER, "address": None, "extra": [1]}]),
        ("posts", [{"id": 1, "userId": 99, "title": None}]),  # an unknown author is not invalid
    ],
)
def test_validate_records_accepts(collection, records):
    validate_records(collection, records, "src")


def test_content_version_depends_on_content_not_key_order():
    a = [{"id": 1, "name": "Ada"}]
    assert content_version(a) == content_version([{"name": "Ada", "id": 1}])
    assert content_version(a) != content_version([{"id": 1, "name": "Ada "}])
    assert content_version(a) != content_version(a + a)
    assert len(content_version(a)) == 16


def test_repeated_ids_are_rejected_with_both_positions():
    with pytest.raises(InvalidCollection) as error:
        reject_repeated_ids([USER, _user(id=2), _user(id=1)], "src")
    assert str(error.value) == "src record 2 (id 1): duplicate id, first seen at record 0"
    reject_repeated_ids([USER, _user(id=2)], "src")  # distinct ids pass


def test_a_single_response_with_repeated_ids_is_left_to_the_blocking_check():
    validate_records("users", [USER, _user(id=2), _user(id=1)], "src")
