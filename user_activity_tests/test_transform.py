"""The pure data logic, on the real data and on a small set made to hit every edge."""

import pytest

from user_activity.transform import count_posts, join_activity, rank_top_users, user_profile
from user_activity_tests.expected import (
    REAL_POST_COUNTS,
    REAL_TOP_USERS,
    REAL_USER_ACTIVITY,
    SMALL_POST_COUNTS,
    SMALL_POSTS,
    SMALL_USER_ACTIVITY,
    SMALL_USERS,
    small_top,
)


def test_real_data_end_to_end(real_data):
    counts = count_posts(real_data["posts"])
    activity = join_activity(real_data["users"], counts)
    assert counts == REAL_POST_COUNTS
    assert activity.rows == REAL_USER_ACTIVITY
    assert (activity.orphan_posts, activity.orphan_user_ids) == (0, [])
    assert rank_top_users(activity.rows, 5) == REAL_TOP_USERS


def test_real_data_include_ties_takes_all_ten(real_data):
    activity = join_activity(real_data["users"], count_posts(real_data["posts"]))
    top = rank_top_users(activity.rows, 5, include_ties=True)
    assert [row["user_id"] for row in top] == list(range(1, 11))
    assert {row["rank"] for row in top} == {1}


def test_small_counts_sorted_by_user_including_unknown_authors():
    assert count_posts(SMALL_POSTS) == SMALL_POST_COUNTS


def test_small_join_left_joins_and_counts_orphans():
    activity = join_activity(SMALL_USERS, SMALL_POST_COUNTS)
    assert activity.rows == SMALL_USER_ACTIVITY
    assert activity.orphan_posts == 2  # posts 5 and 9 name userId 99
    assert activity.orphan_user_ids == [99]


def test_join_with_no_posts_gives_everyone_zero():
    activity = join_activity(SMALL_USERS, [])
    assert [row["posts_count"] for row in activity.rows] == [0, 0, 0, 0]
    assert activity.orphan_posts == 0


@pytest.mark.parametrize(
    ("top_n", "include_ties", "expected"),
    [
        # users 1 and 3 tie on 3 posts: both rank 1, lower id first
        (1, False, small_top((1, 1))),
        (1, True, small_top((1, 1), (1, 3))),
        (2, False, small_top((1, 1), (1, 3))),
        # two users have more posts than user 2, so rank 3 (competition rank, not dense)
        (3, False, small_top((1, 1), (1, 3), (3, 2))),
        (3, True, small_top((1, 1), (1, 3), (3, 2))),
        # a user with zero posts still ranks, last
        (4, False, small_top((1, 1), (1, 3), (3, 2), (4, 4))),
        # asking for more than there are gives everyone
        (10, False, small_top((1, 1), (1, 3), (3, 2), (4, 4))),
    ],
)
def test_rank_top_users(top_n, include_ties, expected):
    assert rank_top_users(SMALL_USER_ACTIVITY, top_n, include_ties) == expected


def test_rank_of_nobody_is_empty():
    assert rank_top_users([], 5, include_ties=True) == []


@pytest.mark.parametrize("top_n", [0, -1])
def test_rank_rejects_top_n_below_one(top_n):
    with pytest.raises(ValueError, match=f"^top_n must be >= 1, got {top_n}$"):
        rank_top_users(SMALL_USER_ACTIVITY, top_n)


def test_profile_of_user_with_null_address_and_company():
    user = {"id": 7, "name": "N", "username": "n", "email": "n@x", "address": None, "company": None}
    assert user_profile(user) == {
        "user_id": 7,
        "name": "N",
        "username": "n",
        "email": "n@x",
        "city": "",
        "company": "",
    }


@pytest.mark.parametrize(
    ("address", "company", "city", "company_name"),
    [
        ({}, {}, "", ""),  # present but empty
        ("12 Main St", ["ACME"], "", ""),  # not objects: blank, no crash
        ({"city": None}, {"name": None}, "", ""),
        ({"city": {"name": "X"}}, {"name": ["A"]}, "", ""),  # nested values are no text
        ({"city": 12}, {"name": True}, "12", "True"),  # scalars become their text
    ],
)
def test_profile_with_odd_optional_fields(address, company, city, company_name):
    user = {"id": 7, "name": "N", "username": "n", "email": "n@x"}
    profile = user_profile({**user, "address": address, "company": company})
    assert (profile["city"], profile["company"]) == (city, company_name)
