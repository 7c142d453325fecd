"""What a collection from the API must look like, checked before anything is written.

Free of Dagster: the HTTP client and the offline folder both hand their bytes here. Every error
says where the data came from and what was wrong with it, so a bad upstream deploy is diagnosed
from the message alone.
"""

from __future__ import annotations

import hashlib
from operator import itemgetter
from typing import Any

from user_activity.file_formats import dump_canonical_json, loads

Record = dict[str, Any]

# collection -> the fields every record needs and their type; other fields are optional
# (a missing address or company gives empty strings in the reports).
REQUIRED_FIELDS: dict[str, dict[str, type]] = {
    "users": {"id": int, "name": str, "username": str, "email": str},
    "posts": {"id": int, "userId": int},
}
# Without users there is nothing to report on; without posts everyone simply has 0.
MAY_BE_EMPTY = frozenset({"posts"})
_KIND_NAMES = {int: "an integer", str: "a string"}


class InvalidCollection(ValueError):
    """A response or file is not a valid collection of records."""


def describe_body(status: int | None, content_type: str | None, body: bytes) -> str:
    """What came back, for an error message: status, content type and the first bytes."""
    excerpt = body[:80].decode("utf-8", "replace")
    shown = "" if status is None else f"status {status}, "
    return f"{shown}content type {content_type or 'none'}, body starts {excerpt!r}"


def parse_json_body(source: str, status: int | None, content_type: str | None, body: bytes) -> Any:
    """The parsed JSON of a response body; an HTML page, an empty or a broken body is an error.

    `content_type` None means a file, whose name already says JSON.
    """
    not_json = content_type is not None and "json" not in content_type.lower()
    if not_json or not body.strip():
        raise InvalidCollection(
            f"{source} did not return JSON: {describe_body(status, content_type, body)}"
        )
    try:
        return loads(body)
    except (ValueError, UnicodeDecodeError) as error:
        raise InvalidCollection(
            f"{source} did not return valid JSON ({error}): "
            f"{describe_body(status, content_type, body)}"
        ) from None


def as_record_list(value: Any, source: str) -> list[Record]:
    """`value` if it is a JSON array of objects."""
    if not isinstance(value, list):
        raise InvalidCollection(f"{source} is not a JSON array but {type(value).__name__}")
    for index, record in enumerate(value):
        if not isinstance(record, dict):
            raise InvalidCollection(f"{source} record {index} is not a JSON object: {record!r:.60}")
    return value


def _has_kind(value: Any, kind: type) -> bool:
    # JSON true/false parse to bool, a subclass of int, and are no ids.
    return isinstance(value, kind) and not isinstance(value, bool)


def _all_of_type(records: list[Record], field: str, kind: type) -> bool:
    """Whether every record has `field` with exactly type `kind` (map/set, no Python loop)."""
    try:
        return set(map(type, map(itemgetter(field), records))) <= {kind}
    except (KeyError, TypeError):  # a missing field, a record that is no mapping
        return False


def validate_records(collection: str, records: list[Record], source: str) -> None:
    """Every record has its required fields with the right types.

    Unique ids are not required here: a single response with a repeated id is stored as received
    and stopped by the blocking `*_ids_unique` checks before any report is built. Across pages,
    see `reject_repeated_ids`.
    """
    if not records and collection not in MAY_BE_EMPTY:
        raise InvalidCollection(f"{source} returned no {collection}: nothing to report on")
    required = REQUIRED_FIELDS.get(collection, {"id": int})
    if all(_all_of_type(records, field, kind) for field, kind in required.items()):
        return  # the usual case, proven at C speed; the loop below finds and names a problem
    for index, record in enumerate(records):
        for field, kind in required.items():
            # the message is built only on failure: a million f-strings cost a second
            if field not in record:
                where = f"{source} record {index} (id {record.get('id')!r})"
                raise InvalidCollection(f"{where}: field {field!r} is missing")
            if not _has_kind(record[field], kind):
                where = f"{source} record {index} (id {record.get('id')!r})"
                raise InvalidCollection(
                    f"{where}: field {field!r} must be {_KIND_NAMES[kind]}, "
                    f"got {record[field]!r:.60}"
                )


def reject_repeated_ids(records: list[Record], source: str) -> None:
    """Paging completeness: a record on two pages means the window shifted while paging."""
    ids = list(map(itemgetter("id"), records))
    if len(set(ids)) == len(ids):
        return  # the usual case, at C speed; the loop below names the first repeat
    first_index: dict[int, int] = {}
    for index, record in enumerate(records):
        seen = first_index.setdefault(record["id"], index)
        if seen != index:
            raise InvalidCollection(
                f"{source} record {index} (id {record['id']!r}): duplicate id, "
                f"first seen at record {seen}"
            )


def content_version(records: list[Record]) -> str:
    """A hash of the records' canonical JSON: equal content gives an equal version.

    Keys are sorted, so a server that reorders fields does not make the data look new.
    """
    return hashlib.sha256(dump_canonical_json(records)).hexdigest()[:16]
