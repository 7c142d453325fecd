"""The data logic of the pipeline, free of Dagster: count, join, rank, shape records.

Inputs are the API's records as parsed JSON (lists of dicts); outputs are lists of flat dicts whose
key order is the column order of the reports.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

Record = dict[str, Any]

# Column name -> Python type, in report order. The CSV reader uses the types to restore ints.
POST_COUNT_COLUMNS: dict[str, type] = {"user_id": int, "posts_count": int}
USER_ACTIVITY_COLUMNS: dict[str, type] = {
    "user_id": int,
    "name": str,
    "username": str,
    "email": str,
    "city": str,
    "company": str,
    "posts_count": int,
}
TOP_USERS_COLUMNS: dict[str, type] = {"rank": int, **USER_ACTIVITY_COLUMNS}


def count_posts(posts: Iterable[Mapping[str, Any]]) -> list[Record]:
    """Posts per author, one record per distinct userId, sorted by user_id."""
    counts = Counter(map(itemgetter("userId"), posts))  # C speed: no Python loop per post
    return [{"user_id": uid, "posts_count": counts[uid]} for uid in sorted(counts)]


def user_profile(user: Mapping[str, Any]) -> Record:
    """The report fields of one API user; a missing address or company gives empty strings."""
    return {
        "user_id": user["id"],
        "name": user.get("name") or "",
        "username": user.get("username") or "",
        "email": user.get("email") or "",
        "city": _nested_text(user, "address", "city"),
        "company": _nested_text(user, "company", "name"),
    }


def _nested_text(record: Mapping[str, Any], outer: str, inner: str) -> str:
    """`record[outer][inner]` as text; "" when either is missing, null or not the expected shape.

    These fields are optional in the API, so an odd value must blank a cell, not fail the run.
    """
    container = record.get(outer)
    value = container.get(inner) if isinstance(container, Mapping) else None
    return "" if value is None or isinstance(value, (dict, list)) else str(value)


@dataclass(frozen=True)
class Activity:
    """Every user with their post count, and the posts whose author is not among the users."""

    rows: list[Record]
    orphan_posts: int
    orphan_user_ids: list[int]


def join_activity(
    users: Iterable[Mapping[str, Any]], post_counts: Iterable[Mapping[str, Any]]
) -> Activity:
    """Left-join users with their post counts (0 when absent), sorted by user_id."""
    counts = {row["user_id"]: row["posts_count"] for row in post_counts}
    rows = [
        {**user_profile(user), "posts_count": counts.get(user["id"], 0)}
        for user in sorted(users, key=lambda u: u["id"])
    ]
    known = {row["user_id"] for row in rows}
    orphan_ids = sorted(uid for uid in counts if uid not in known)
    return Activity(
        rows=rows,
        orphan_posts=sum(counts[uid] for uid in orphan_ids),
        orphan_user_ids=orphan_ids,
    )


def rank_top_users(
    activity: Sequence[Mapping[str, Any]], top_n: int, include_ties: bool = False
) -> list[Record]:
    """The `top_n` most active users, most posts first, then lowest user_id.

    `rank` is competition rank: 1 + the number of users with strictly more posts, so ties share
    a rank. With `include_ties`, the list grows to every user tied with the N-th.
    """
    if top_n < 1:
        raise ValueError(f"top_n must be >= 1, got {top_n}")
    ordered = sorted(activity, key=lambda row: (-row["posts_count"], row["user_id"]))
    cut = ordered[:top_n]
    if include_ties and cut:
        last = cut[-1]["posts_count"]
        cut = [row for row in ordered if row["posts_count"] >= last]
    ranked = []
    for position, row in enumerate(cut):
        if position and row["posts_count"] == cut[position - 1]["posts_count"]:
            rank = ranked[-1]["rank"]
        else:
            rank = position + 1
        ranked.append({"rank": rank, **{key: row[key] for key in USER_ACTIVITY_COLUMNS}})
    return ranked


def activity_stats(activity: Sequence[Mapping[str, Any]]) -> dict[str, int | float]:
    """Summary numbers of the report, for metadata that the UI plots across runs.

    The mean of no users is 0.0 rather than undefined so the plot has no gap.
    """
    counts = [row["posts_count"] for row in activity]
    return {
        "users": len(counts),
        "users_with_zero_posts": sum(1 for count in counts if count == 0),
        "mean_posts_per_user": round(sum(counts) / len(counts), 3) if counts else 0.0,
        "max_posts_per_user": max(counts, default=0),
    }
