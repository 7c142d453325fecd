"""Data quality rules, free of Dagster: each takes records and returns a `Verdict`.

A verdict says whether the data holds, a message a person can act on, and the numbers behind it
(counts, offending ids) for the check's metadata. `checks.py` turns verdicts into Dagster asset
check results and decides which ones block.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import chain
from operator import methodcaller
from typing import Any

Records = Sequence[Mapping[str, Any]]

# Offending ids listed in a message or in metadata: enough to find the problem, not a dump.
EXAMPLES = 10


@dataclass(frozen=True)
class Verdict:
    passed: bool
    message: str
    metadata: dict[str, Any] = field(default_factory=dict)


def _examples(values: Iterable[Any]) -> list[Any]:
    return list(values)[:EXAMPLES]


# record.get(field) for many records at C speed (map over a million posts, no Python loop)
_GET_ID = methodcaller("get", "id")
_GET_USER_ID = methodcaller("get", "userId")


def _all_known(posts: Records, known: set[Any]) -> bool:
    """Whether every post's userId is in `known` (the usual case, checked at C speed)."""
    try:
        return known.issuperset(map(_GET_USER_ID, posts))
    except TypeError:  # an unhashable userId: the slow path reports it
        return False


def _sorted(values: Iterable[Any]) -> list[Any]:
    """Ids in their natural order; mixed types (an API that changed id type) as text."""
    values = list(values)
    try:
        return sorted(values)
    except TypeError:
        return sorted(values, key=repr)


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def not_empty(records: Records, collection: str) -> Verdict:
    if records:
        return Verdict(
            True, f"{_plural(len(records), collection[:-1])} received", {"rows": len(records)}
        )
    return Verdict(
        False,
        f"the API returned no {collection}: every report would be empty; "
        f"check the API URL and that the service serves /{collection}",
        {"rows": 0},
    )


def ids_unique(records: Records, collection: str) -> Verdict:
    """Every record has an `id` and no two records share one."""
    ids = list(map(_GET_ID, records))
    missing = [index for index, value in enumerate(ids, 1) if value is None] if None in ids else []
    counts = Counter(value for value in ids if value is not None) if missing else Counter(ids)
    all_distinct = len(counts) == len(ids) - len(missing)
    duplicates = [] if all_distinct else _sorted(v for v, count in counts.items() if count > 1)
    extra = sum(counts[value] - 1 for value in duplicates)
    metadata = {
        "rows": len(records),
        "duplicate_ids": _examples(duplicates),
        "duplicate_records": extra,
        "records_without_id": len(missing),
    }
    problems = []
    if duplicates:
        problems.append(f"duplicate ids {_examples(duplicates)} ({_plural(extra, 'extra record')})")
    if missing:
        problems.append(
            f"{_plural(len(missing), 'record')} without an id (positions {_examples(missing)}, "
            "counting from 1)"
        )
    if problems:
        return Verdict(
            False,
            f"{collection}: " + "; ".join(problems) + "; the API sent records that cannot be "
            "told apart, so counts would be wrong: fix the source before re-running",
            metadata,
        )
    return Verdict(True, f"all {len(records)} {collection[:-1]} ids are unique", metadata)


def posts_by_known_users(users: Records, posts: Records) -> Verdict:
    """Posts whose userId matches no user; they are left out of the reports."""
    known = {user.get("id") for user in users}
    all_known = _all_known(posts, known)
    orphans = [] if all_known else [post for post in posts if post.get("userId") not in known]
    unknown_users = _sorted({post.get("userId") for post in orphans})
    metadata = {
        "orphan_posts": len(orphans),
        "orphan_post_ids": _examples(post.get("id") for post in orphans),
        "unknown_user_ids": _examples(unknown_users),
    }
    if not orphans:
        return Verdict(True, f"all {len(posts)} posts belong to a known user", metadata)
    return Verdict(
        False,
        f"{len(orphans)} of {len(posts)} posts have a userId that matches no user "
        f"(userIds {_examples(unknown_users)}, posts {metadata['orphan_post_ids']}); "
        "they are left out of the reports",
        metadata,
    )


def field_paths(records: Iterable[Mapping[str, Any]]) -> list[str]:
    """Every field that occurs in any record, nested objects as dotted paths, sorted.

    `address.city` is a path of its own because the reports read nested fields; a list is one
    field, its items are not looked into.
    """
    records = records if isinstance(records, list) else list(records)
    if set(map(type, records)) <= {dict}:
        value_types = set(map(type, chain.from_iterable(map(dict.values, records))))
        if not any(issubclass(kind, Mapping) for kind in value_types):
            # flat records (posts): the keys, gathered at C speed instead of a walk per record
            return sorted({f"{key}" for key in set(chain.from_iterable(records))})
    paths: set[str] = set()

    def walk(value: Mapping[str, Any], prefix: str) -> None:
        for key, item in value.items():
            path = f"{prefix}{key}"
            paths.add(path)
            if isinstance(item, Mapping):
                walk(item, f"{path}.")

    for record in records:
        walk(record, "")
    return sorted(paths)


def schema_drift(
    collection: str, previous: Sequence[str] | None, current: Sequence[str]
) -> Verdict:
    """Fields added or removed since the previous materialization's field set."""
    if previous is None:
        return Verdict(
            True,
            f"{collection}: {_plural(len(current), 'field')} recorded; no earlier field set to "
            "compare with",
            {"fields": len(current), "fields_added": [], "fields_removed": []},
        )
    added = sorted(set(current) - set(previous))
    removed = sorted(set(previous) - set(current))
    metadata = {"fields": len(current), "fields_added": added, "fields_removed": removed}
    if not added and not removed:
        return Verdict(
            True, f"{collection}: same {len(current)} fields as the previous run", metadata
        )
    changes = []
    if added:
        changes.append(f"added {', '.join(added)}")
    if removed:
        changes.append(f"removed {', '.join(removed)}")
    return Verdict(
        False,
        f"{collection} changed shape since the previous materialization: {'; '.join(changes)}. "
        "Check that the reports still read the fields they need",
        metadata,
    )


def one_row_per_user(activity: Records, users: Records) -> Verdict:
    """The report has exactly one row for each user id in the users collection."""
    counts = Counter(row["user_id"] for row in activity)
    user_ids = {user["id"] for user in users}
    repeated = _sorted(uid for uid, count in counts.items() if count > 1)
    missing = _sorted(user_ids - counts.keys())
    unknown = _sorted(counts.keys() - user_ids)
    metadata = {
        "rows": len(activity),
        "users": len(user_ids),
        "repeated_user_ids": _examples(repeated),
        "missing_user_ids": _examples(missing),
        "unknown_user_ids": _examples(unknown),
    }
    problems = []
    if repeated:
        problems.append(f"users {_examples(repeated)} have more than one row")
    if missing:
        problems.append(f"users {_examples(missing)} have no row")
    if unknown:
        problems.append(f"rows for user ids {_examples(unknown)} that are not in raw_users")
    if problems:
        return Verdict(
            False,
            f"user_activity has {len(activity)} rows for {len(user_ids)} users: "
            + "; ".join(problems),
            metadata,
        )
    return Verdict(True, f"one row for each of the {len(user_ids)} users", metadata)


def every_post_counted(activity: Records, users: Records, posts: Records) -> Verdict:
    """sum(posts_count) + posts by unknown users == number of posts."""
    known = {user["id"] for user in users}
    counted = sum(row["posts_count"] for row in activity)
    if _all_known(posts, known):
        orphans = 0
    else:
        orphans = sum(1 for post in posts if post.get("userId") not in known)
    metadata = {"posts": len(posts), "counted_posts": counted, "orphan_posts": orphans}
    if counted + orphans == len(posts):
        return Verdict(
            True,
            f"all {len(posts)} posts accounted for: {counted} counted, {orphans} by unknown users",
            metadata,
        )
    difference = counted + orphans - len(posts)
    return Verdict(
        False,
        f"user_activity counts {counted} posts and {orphans} more are by unknown users, but "
        f"raw_posts has {len(posts)}: {_plural(abs(difference), 'post')} "
        f"{'counted twice' if difference > 0 else 'lost'} between raw_posts and the report",
        metadata,
    )


def _ranking_order(activity: Records) -> list[Mapping[str, Any]]:
    return sorted(activity, key=lambda row: (-row["posts_count"], row["user_id"]))


def top_rows_allowed(activity: Records, top_n: int, include_ties: bool) -> int:
    """How many rows the top list must have: N (fewer if there are fewer users), or N plus
    everyone tied with the N-th when ties are included."""
    ordered = _ranking_order(activity)
    if not include_ties or len(ordered) <= top_n:
        return min(top_n, len(ordered))
    cut = ordered[top_n - 1]["posts_count"]
    return sum(1 for row in ordered if row["posts_count"] >= cut)


def top_size(top: Records, activity: Records, top_n: int, include_ties: bool) -> Verdict:
    expected = top_rows_allowed(activity, top_n, include_ties)
    setting = f"top_n {top_n}, include_ties {'on' if include_ties else 'off'}"
    metadata = {"rows": len(top), "expected_rows": expected, "users": len(activity)}
    if len(top) == expected:
        return Verdict(True, f"{_plural(len(top), 'row')}, as {setting} asks", metadata)
    return Verdict(
        False,
        f"top_users has {_plural(len(top), 'row')}, but {setting} over {len(activity)} "
        f"users asks for {expected}",
        metadata,
    )


def top_ordered(top: Records) -> Verdict:
    """Most posts first, then lowest user_id, each user once."""
    for position in range(1, len(top)):
        before, after = top[position - 1], top[position]
        if (-before["posts_count"], before["user_id"]) >= (-after["posts_count"], after["user_id"]):
            return Verdict(
                False,
                f"top_users is out of order at row {position + 1}: user {after['user_id']} "
                f"({_plural(after['posts_count'], 'post')}) comes after user "
                f"{before['user_id']} ({_plural(before['posts_count'], 'post')}); expected most "
                "posts first, then lowest "
                "user_id, each user once",
                {"first_bad_row": position + 1},
            )
    return Verdict(True, "ordered by posts (most first), then user_id", {"first_bad_row": 0})


def top_ranks_consistent(top: Records, activity: Records) -> Verdict:
    """Each rank is 1 + the number of users (in the whole report) with strictly more posts."""
    counts = sorted((row["posts_count"] for row in activity), reverse=True)
    wrong = []
    for row in top:
        expected = 1 + sum(1 for count in counts if count > row["posts_count"])
        if row["rank"] != expected:
            wrong.append({"user_id": row["user_id"], "rank": row["rank"], "expected": expected})
    metadata = {"wrong_ranks": len(wrong), "examples": _examples(wrong)}
    if not wrong:
        return Verdict(True, f"all {len(top)} ranks match the post counts", metadata)
    first = wrong[0]
    return Verdict(
        False,
        f"wrong ranks in top_users: {len(wrong)} of {len(top)}, e.g. user "
        f"{first['user_id']} has rank {first['rank']} where 1 + the number of users with more "
        f"posts is {first['expected']}",
        metadata,
    )


def cut_keeps_ties(activity: Records, top_n: int, include_ties: bool) -> Verdict:
    """Whether the cut at N leaves out users with as many posts as the N-th."""
    ordered = _ranking_order(activity)
    if include_ties or len(ordered) <= top_n:
        reason = "include_ties is on" if include_ties else f"{len(ordered)} users fit in {top_n}"
        return Verdict(True, f"no tie is cut: {reason}", {"tied_users": 0, "left_out": 0})
    cut = ordered[top_n - 1]["posts_count"]
    tied = [row["user_id"] for row in ordered if row["posts_count"] == cut]
    left_out = [row["user_id"] for row in ordered[top_n:] if row["posts_count"] == cut]
    metadata = {
        "posts_at_cut": cut,
        "tied_users": len(tied),
        "left_out": len(left_out),
        "left_out_user_ids": _examples(left_out),
    }
    if not left_out:
        return Verdict(
            True,
            f"no tie at the cut: the first user left out has fewer than {cut} posts",
            metadata,
        )
    return Verdict(
        False,
        f"the cut at {top_n} splits a tie: {len(tied)} users have {_plural(cut, 'post')}; the "
        f"top {top_n} lists {len(tied) - len(left_out)} of them and leaves out {len(left_out)} "
        f"(user ids {_examples(left_out)}); set include_ties to list them all",
        metadata,
    )
