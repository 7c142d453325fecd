"""The quality rules on the real data (they hold) and on small sets made to break each one."""

import pytest

from user_activity import quality
from user_activity.quality import Verdict
from user_activity.transform import count_posts, join_activity, rank_top_users
from user_activity_tests.expected import SMALL_POSTS, SMALL_USER_ACTIVITY, SMALL_USERS, small_top

# The real users' fields: 8 top-level, address (with geo) and company nested.
REAL_USER_FIELDS = [
    "address",
    "address.city",
    "address.geo",
    "address.geo.lat",
    "address.geo.lng",
    "address.street",
    "address.suite",
    "address.zipcode",
    "company",
    "company.bs",
    "company.catchPhrase",
    "company.name",
    "email",
    "id",
    "name",
    "phone",
    "username",
    "website",
]


@pytest.fixture(scope="module")
def real(real_data):
    users, posts = real_data["users"], real_data["posts"]
    activity = join_activity(users, count_posts(posts)).rows
    return users, posts, activity, rank_top_users(activity, 5)


def test_real_data_passes_every_rule(real):
    users, posts, activity, top = real
    verdicts = {
        "not_empty": quality.not_empty(users, "users"),
        "user_ids": quality.ids_unique(users, "users"),
        "post_ids": quality.ids_unique(posts, "posts"),
        "known_users": quality.posts_by_known_users(users, posts),
        "one_row": quality.one_row_per_user(activity, users),
        "counted": quality.every_post_counted(activity, users, posts),
        "size": quality.top_size(top, activity, 5, False),
        "ordered": quality.top_ordered(top),
        "ranks": quality.top_ranks_consistent(top, activity),
        "ties_included": quality.cut_keeps_ties(activity, 5, True),
        "all_ten": quality.cut_keeps_ties(activity, 10, False),
    }
    assert {name: v.message for name, v in verdicts.items() if not v.passed} == {}
    assert verdicts["user_ids"].message == "all 10 user ids are unique"
    assert verdicts["post_ids"].message == "all 100 post ids are unique"
    assert verdicts["known_users"].message == "all 100 posts belong to a known user"
    assert verdicts["counted"].message == (
        "all 100 posts accounted for: 100 counted, 0 by unknown users"
    )
    assert verdicts["ties_included"].message == "no tie is cut: include_ties is on"


def test_real_default_top_five_splits_the_ten_way_tie(real):
    # every real user has 10 posts, so a top 5 without ties leaves five equals out: a true warning
    _, _, activity, _ = real
    assert quality.cut_keeps_ties(activity, 5, False) == Verdict(
        False,
        "the cut at 5 splits a tie: 10 users have 10 posts; the top 5 lists 5 of them and "
        "leaves out 5 (user ids [6, 7, 8, 9, 10]); set include_ties to list them all",
        {
            "posts_at_cut": 10,
            "tied_users": 10,
            "left_out": 5,
            "left_out_user_ids": [6, 7, 8, 9, 10],
        },
    )


def test_real_field_paths(real):
    users, posts, _, _ = real
    assert quality.field_paths(users) == REAL_USER_FIELDS
    assert quality.field_paths(posts) == ["body", "id", "title", "userId"]


def test_empty_users_fail():
    assert quality.not_empty([], "users") == Verdict(
        False,
        "the API returned no users: every report would be empty; check the API URL and that "
        "the service serves /users",
        {"rows": 0},
    )


@pytest.mark.parametrize(
    ("records", "message", "metadata"),
    [
        (
            [{"id": 1}, {"id": 2}, {"id": 1}, {"id": 1}, {"id": 2}],
            "users: duplicate ids [1, 2] (3 extra records)",
            {"duplicate_ids": [1, 2], "duplicate_records": 3, "records_without_id": 0},
        ),
        (
            [{"id": 1}, {"name": "no id"}, {"id": None}],
            "users: 2 records without an id (positions [2, 3], counting from 1)",
            {"duplicate_ids": [], "duplicate_records": 0, "records_without_id": 2},
        ),
        (
            # ids whose type changed half-way (text and numbers) are compared as they are
            [{"id": 10}, {"id": "10"}, {"id": 10}, {"id": 9}],
            "users: duplicate ids [10] (1 extra record)",
            {"duplicate_ids": [10], "duplicate_records": 1, "records_without_id": 0},
        ),
    ],
)
def test_ids_unique_fails_on_duplicates_and_missing_ids(records, message, metadata):
    verdict = quality.ids_unique(records, "users")
    assert not verdict.passed
    assert verdict.message == (
        f"{message}; the API sent records that cannot be told apart, so counts would be "
        "wrong: fix the source before re-running"
    )
    assert verdict.metadata == {"rows": len(records), **metadata}


def test_orphan_posts_warn_with_examples():
    verdict = quality.posts_by_known_users(SMALL_USERS, SMALL_POSTS)
    assert verdict == Verdict(
        False,
        # posts 5 and 9 name userId 99, who is not among the users
        "2 of 9 posts have a userId that matches no user (userIds [99], posts [5, 9]); they "
        "are left out of the reports",
        {"orphan_posts": 2, "orphan_post_ids": [5, 9], "unknown_user_ids": [99]},
    )


def test_orphan_examples_stop_at_ten():
    posts = [{"id": pid, "userId": 1000 + pid} for pid in range(1, 13)]
    verdict = quality.posts_by_known_users(SMALL_USERS, posts)
    assert verdict.metadata["orphan_posts"] == 12
    assert verdict.metadata["orphan_post_ids"] == list(range(1, 11))
    assert verdict.metadata["unknown_user_ids"] == list(range(1001, 1011))


def test_field_paths_are_the_union_with_nested_objects_and_no_list_items():
    records = [{"a": 1, "b": {"c": {"d": 2}}}, {"e": [{"f": 3}], "b": {"g": None}}]
    assert quality.field_paths(records) == ["a", "b", "b.c", "b.c.d", "b.g", "e"]


@pytest.mark.parametrize(
    ("previous", "current", "passed", "message", "added", "removed"),
    [
        (
            None,
            ["a", "b"],
            True,
            "users: 2 fields recorded; no earlier field set to compare with",
            [],
            [],
        ),
        (["a", "b"], ["b", "a"], True, "users: same 2 fields as the previous run", [], []),
        (
            ["a", "b", "c.d"],
            ["a", "c.d", "c.e", "f"],
            False,
            "users changed shape since the previous materialization: added c.e, f; removed b. "
            "Check that the reports still read the fields they need",
            ["c.e", "f"],
            ["b"],
        ),
        (
            ["a", "b"],
            ["a"],
            False,
            "users changed shape since the previous materialization: removed b. "
            "Check that the reports still read the fields they need",
            [],
            ["b"],
        ),
    ],
)
def test_schema_drift(previous, current, passed, message, added, removed):
    verdict = quality.schema_drift("users", previous, current)
    assert (verdict.passed, verdict.message) == (passed, message)
    assert verdict.metadata == {
        "fields": len(current),
        "fields_added": added,
        "fields_removed": removed,
    }


def _activity(*pairs: tuple[int, int]) -> list[dict]:
    return [{"user_id": uid, "posts_count": count} for uid, count in pairs]


def test_one_row_per_user_names_repeated_missing_and_unknown_users():
    users = [{"id": 1}, {"id": 2}, {"id": 3}]
    verdict = quality.one_row_per_user(_activity((1, 1), (1, 1), (3, 0), (7, 2)), users)
    assert verdict == Verdict(
        False,
        "user_activity has 4 rows for 3 users: users [1] have more than one row; users [2] "
        "have no row; rows for user ids [7] that are not in raw_users",
        {
            "rows": 4,
            "users": 3,
            "repeated_user_ids": [1],
            "missing_user_ids": [2],
            "unknown_user_ids": [7],
        },
    )


def test_one_row_per_user_passes_on_the_small_set():
    verdict = quality.one_row_per_user(SMALL_USER_ACTIVITY, SMALL_USERS)
    assert (verdict.passed, verdict.message) == (True, "one row for each of the 4 users")


@pytest.mark.parametrize(
    ("counts", "passed", "message"),
    [
        # the small set: 7 posts counted for known users, 2 by userId 99
        ((3, 1, 3, 0), True, "all 9 posts accounted for: 7 counted, 2 by unknown users"),
        (
            (3, 1, 2, 0),
            False,
            "user_activity counts 6 posts and 2 more are by unknown users, but raw_posts has 9: "
            "1 post lost between raw_posts and the report",
        ),
        (
            (3, 3, 3, 0),
            False,
            "user_activity counts 9 posts and 2 more are by unknown users, but raw_posts has 9: "
            "2 posts counted twice between raw_posts and the report",
        ),
    ],
)
def test_every_post_counted(counts, passed, message):
    activity = _activity(*zip((1, 2, 3, 4), counts, strict=True))
    verdict = quality.every_post_counted(activity, SMALL_USERS, SMALL_POSTS)
    assert (verdict.passed, verdict.message) == (passed, message)
    assert verdict.metadata["orphan_posts"] == 2


@pytest.mark.parametrize(
    ("top", "top_n", "include_ties", "passed", "message"),
    [
        (small_top((1, 1), (1, 3)), 2, False, True, "2 rows, as top_n 2, include_ties off asks"),
        # users 1 and 3 tie for first: a top 1 with ties has both
        (small_top((1, 1), (1, 3)), 1, True, True, "2 rows, as top_n 1, include_ties on asks"),
        # four users: a top 10 has all four
        (
            small_top((1, 1), (1, 3), (3, 2), (4, 4)),
            10,
            False,
            True,
            "4 rows, as top_n 10, include_ties off asks",
        ),
        (
            small_top((1, 1), (1, 3)),
            1,
            False,
            False,
            "top_users has 2 rows, but top_n 1, include_ties off over 4 users asks for 1",
        ),
        (
            small_top((1, 1)),
            1,
            True,
            False,
            "top_users has 1 row, but top_n 1, include_ties on over 4 users asks for 2",
        ),
    ],
)
def test_top_size(top, top_n, include_ties, passed, message):
    verdict = quality.top_size(top, SMALL_USER_ACTIVITY, top_n, include_ties)
    assert (verdict.passed, verdict.message) == (passed, message)


@pytest.mark.parametrize(
    ("top", "message"),
    [
        (
            small_top((1, 3), (1, 1)),
            "top_users is out of order at row 2: user 1 (3 posts) comes after user 3 (3 posts)",
        ),
        (
            small_top((1, 1), (3, 2), (1, 3)),
            "top_users is out of order at row 3: user 3 (3 posts) comes after user 2 (1 post)",
        ),
        (
            small_top((1, 1), (1, 1)),
            "top_users is out of order at row 2: user 1 (3 posts) comes after user 1 (3 posts)",
        ),
    ],
)
def test_top_ordered_fails_at_the_first_bad_row(top, message):
    verdict = quality.top_ordered(top)
    assert not verdict.passed
    assert verdict.message == (
        f"{message}; expected most posts first, then lowest user_id, each user once"
    )


def test_top_ordered_passes_on_a_ranked_list():
    verdict = quality.top_ordered(rank_top_users(SMALL_USER_ACTIVITY, 4))
    assert (verdict.passed, verdict.metadata) == (True, {"first_bad_row": 0})


def test_top_ranks_consistent():
    # user 2 ranks 3rd in competition ranking (two users have more posts), not 2nd
    top = small_top((1, 1), (1, 3), (2, 2))
    verdict = quality.top_ranks_consistent(top, SMALL_USER_ACTIVITY)
    assert verdict == Verdict(
        False,
        "wrong ranks in top_users: 1 of 3, e.g. user 2 has rank 2 where 1 + the number of "
        "users with more posts is 3",
        {"wrong_ranks": 1, "examples": [{"user_id": 2, "rank": 2, "expected": 3}]},
    )
    assert quality.top_ranks_consistent(
        small_top((1, 1), (1, 3), (3, 2)), SMALL_USER_ACTIVITY
    ).passed


@pytest.mark.parametrize(
    ("top_n", "include_ties", "passed", "message"),
    [
        # users 1 and 3 tie on 3 posts: a top 1 leaves user 3 out
        (
            1,
            False,
            False,
            "the cut at 1 splits a tie: 2 users have 3 posts; the top 1 lists 1 of them and "
            "leaves out 1 (user ids [3]); set include_ties to list them all",
        ),
        (1, True, True, "no tie is cut: include_ties is on"),
        # the 2nd (3 posts) is followed by user 2 with 1 post
        (2, False, True, "no tie at the cut: the first user left out has fewer than 3 posts"),
        (4, False, True, "no tie is cut: 4 users fit in 4"),
    ],
)
def test_cut_keeps_ties(top_n, include_ties, passed, message):
    verdict = quality.cut_keeps_ties(SMALL_USER_ACTIVITY, top_n, include_ties)
    assert (verdict.passed, verdict.message) == (passed, message)
