"""The asset checks run by Dagster: on the real data, and on small sets made to break each one.

The raw checks run against the real raw assets reading a folder of made-up collections where
the API client lets the data through (orphans, drift); where the client itself already refuses
the data (no users, duplicate ids) and for the derived assets, the checks run against stand-in
assets that return the broken values. Results are read back from the instance's event log.
"""

import json
from pathlib import Path

import dagster as dg
import pytest

from user_activity import assets, checks
from user_activity.definitions import build_definitions
from user_activity.settings import Settings
from user_activity_tests.expected import SMALL_POSTS, SMALL_USER_ACTIVITY, SMALL_USERS, small_top

OK, FAIL, WARN = "passed", "ERROR", "WARN"
DUPLICATES_HINT = (
    "; the API sent records that cannot be told apart, so counts would be wrong: fix the source "
    "before re-running"
)


def evaluations(instance: dg.DagsterInstance, run_id: str) -> dict[str, tuple[str, str]]:
    """check name -> (outcome, description) of one run, from the instance's event log."""
    records = instance.get_records_for_run(
        run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION
    ).records
    found = {}
    for record in records:
        evaluation = record.event_log_entry.dagster_event.event_specific_data
        outcome = OK if evaluation.passed else evaluation.severity.value
        found[evaluation.check_name] = (outcome, evaluation.description)
    return found


def check_metadata(instance: dg.DagsterInstance, run_id: str, name: str) -> dict:
    records = instance.get_records_for_run(
        run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION
    ).records
    for record in records:
        evaluation = record.event_log_entry.dagster_event.event_specific_data
        if evaluation.check_name == name:
            return {key: value.value for key, value in evaluation.metadata.items()}
    raise AssertionError(f"no evaluation of {name}")


@pytest.fixture
def source(project_env: Path, monkeypatch: pytest.MonkeyPatch):
    """Writes made-up collections to a folder and points the API setting at it."""
    folder = project_env / "source"
    folder.mkdir()
    monkeypatch.setenv("USER_ACTIVITY_API_URL", str(folder))

    def write(users: list[dict], posts: list[dict]) -> None:
        (folder / "users.json").write_text(json.dumps(users))
        (folder / "posts.json").write_text(json.dumps(posts))

    return write


def materialize(instance, definitions, only=None):
    """Materializes the assets and runs the checks among `definitions`; `only` names the checks
    to run (a subset of the checks' steps, as when one check is run from the UI)."""
    resources = build_definitions(Settings.from_env()).resources
    selection = None
    if only is not None:
        keys = [
            spec.key
            for definition in definitions
            if isinstance(definition, dg.AssetChecksDefinition)
            for spec in definition.check_specs
            if spec.name in only
        ]
        assert sorted(key.name for key in keys) == sorted(only)
        selection = dg.AssetSelection.all().without_checks() | dg.AssetSelection.checks(*keys)
    return dg.materialize(
        definitions,
        instance=instance,
        resources=resources,
        selection=selection,
        raise_on_error=False,
    )


RAW = [
    assets.raw_collections,
    checks.raw_users_checks,
    checks.raw_posts_checks,
    checks.posts_by_known_users,
]
RAW_CHECKS = ["users_not_empty", "user_ids_unique", "post_ids_unique", "posts_by_known_users"]


def test_raw_checks_pass_on_the_small_set_but_warn_about_its_orphans(source):
    source(SMALL_USERS, SMALL_POSTS)
    with dg.DagsterInstance.ephemeral() as instance:
        result = materialize(instance, RAW, only=RAW_CHECKS)
        assert result.success
        assert evaluations(instance, result.run_id) == {
            "users_not_empty": (OK, "4 users received"),
            "user_ids_unique": (OK, "all 4 user ids are unique"),
            "post_ids_unique": (OK, "all 9 post ids are unique"),
            # posts 5 and 9 name userId 99: a warning, the run goes on
            "posts_by_known_users": (
                WARN,
                "2 of 9 posts have a userId that matches no user (userIds [99], posts [5, 9]); "
                "they are left out of the reports",
            ),
        }
        assert check_metadata(instance, result.run_id, "posts_by_known_users") == {
            "orphan_posts": 2,
            "orphan_post_ids": [5, 9],
            "unknown_user_ids": [99],
        }


# The API client already refuses an empty /users and records without an id before anything is
# written; the checks stay as a second gate on whatever reaches the raw assets, so they are
# exercised here through stand-in raw assets that return the broken collections.


def test_no_users_fails_the_check():
    definitions = [
        stand_in("raw_users", []),
        checks.raw_users_checks,
    ]
    with dg.DagsterInstance.ephemeral() as instance:
        result = materialize(instance, definitions, only=["users_not_empty", "user_ids_unique"])
        assert not result.success
        found = evaluations(instance, result.run_id)
        assert found["users_not_empty"] == (
            FAIL,
            "the API returned no users: every report would be empty; check the API URL and "
            "that the service serves /users",
        )
        assert found["user_ids_unique"] == (OK, "all 0 user ids are unique")


def test_duplicate_ids_fail_the_checks():
    users = [*SMALL_USERS, {**SMALL_USERS[0], "name": "Émile again"}]  # id 3 twice
    posts = [*SMALL_POSTS, {**SMALL_POSTS[0], "id": 2}, {"userId": 1, "title": "no id"}]
    definitions = [
        stand_in("raw_users", users),
        stand_in("raw_posts", posts),
        checks.raw_users_checks,
        checks.raw_posts_checks,
    ]
    with dg.DagsterInstance.ephemeral() as instance:
        result = materialize(instance, definitions, only=["user_ids_unique", "post_ids_unique"])
        assert not result.success
        found = evaluations(instance, result.run_id)
        assert found["user_ids_unique"] == (
            FAIL,
            f"users: duplicate ids [3] (1 extra record){DUPLICATES_HINT}",
        )
        assert found["post_ids_unique"] == (
            FAIL,
            "posts: duplicate ids [2] (1 extra record); 1 record without an id (positions [11], "
            f"counting from 1){DUPLICATES_HINT}",
        )
        assert check_metadata(instance, result.run_id, "user_ids_unique") == {
            "rows": 5,
            "duplicate_ids": [3],
            "duplicate_records": 1,
            "records_without_id": 0,
        }


def test_schema_drift_warns_against_the_previous_materialization(source):
    drift = [assets.raw_collections, checks.raw_users_checks]
    only = ["users_schema_unchanged"]
    with dg.DagsterInstance.ephemeral() as instance:
        source(SMALL_USERS, SMALL_POSTS)
        first = materialize(instance, drift, only)
        assert evaluations(instance, first.run_id) == {
            "users_schema_unchanged": (
                OK,
                # id, name, username, email, address, address.city, company, company.name
                "users: 8 fields recorded; no earlier field set to compare with",
            )
        }
        second = materialize(instance, drift, only)
        assert evaluations(instance, second.run_id)["users_schema_unchanged"] == (
            OK,
            "users: same 8 fields as the previous run",
        )
        # company is optional (the API client requires id, name, username and email)
        changed = [
            {key: value for key, value in user.items() if key != "company"} | {"phone": "555"}
            for user in SMALL_USERS
        ]
        source(changed, SMALL_POSTS)
        third = materialize(instance, drift, only)
        assert third.success  # a warning does not block
        assert evaluations(instance, third.run_id)["users_schema_unchanged"] == (
            WARN,
            "users changed shape since the previous materialization: added phone; removed "
            "company, company.name. Check that the reports still read the fields they need",
        )
        assert check_metadata(instance, third.run_id, "users_schema_unchanged") == {
            "fields": 7,
            "fields_added": ["phone"],
            "fields_removed": ["company", "company.name"],
        }
        latest = instance.get_latest_materialization_event(dg.AssetKey("raw_users"))
        assert latest.asset_materialization.metadata["fields"].value == [
            "address",
            "address.city",
            "email",
            "id",
            "name",
            "phone",
            "username",
        ]


def test_schema_drift_passes_when_no_field_set_was_recorded():
    # a raw_users materialized before field sets were recorded (no "fields" metadata)
    definitions = [stand_in("raw_users", SMALL_USERS), checks.raw_users_checks]
    with dg.DagsterInstance.ephemeral() as instance:
        result = materialize(instance, definitions, only=["users_schema_unchanged"])
        assert result.success
        assert evaluations(instance, result.run_id) == {
            "users_schema_unchanged": (
                OK,
                "users: the latest materialization records no field set; the next one will",
            )
        }


def stand_in(name: str, value: list[dict], **metadata) -> dg.AssetsDefinition:
    """An asset of the given key returning a fixed (broken) value through the default IO manager."""

    @dg.asset(name=name)
    def _asset() -> dg.MaterializeResult:
        return dg.MaterializeResult(value=value, metadata=metadata)

    return _asset


def test_user_activity_checks_fail_on_a_broken_report(source):
    source(SMALL_USERS, SMALL_POSTS)
    # user 1 twice, user 2 missing: 3 + 3 + 3 + 0 = 9 counted, plus 2 orphans > 9 posts
    broken = [SMALL_USER_ACTIVITY[0], SMALL_USER_ACTIVITY[0], *SMALL_USER_ACTIVITY[2:]]
    definitions = [
        assets.raw_collections,
        stand_in("user_activity", broken),
        checks.user_activity_checks,
    ]
    with dg.DagsterInstance.ephemeral() as instance:
        result = materialize(instance, definitions)
        assert not result.success
        assert evaluations(instance, result.run_id) == {
            "one_row_per_user": (
                FAIL,
                "user_activity has 4 rows for 4 users: users [1] have more than one row; "
                "users [2] have no row",
            ),
            "every_post_counted": (
                FAIL,
                "user_activity counts 9 posts and 2 more are by unknown users, but raw_posts "
                "has 9: 2 posts counted twice between raw_posts and the report",
            ),
        }


@pytest.mark.parametrize(
    ("top", "top_n", "include_ties", "expected"),
    [
        (
            # users 1 and 3 tie for first: a top 1 without ties may show only user 1
            small_top((1, 1), (1, 3)),
            1,
            False,
            {
                "top_users_size_matches_top_n": (
                    FAIL,
                    "top_users has 2 rows, but top_n 1, include_ties off over 4 users asks for 1",
                ),
                "top_users_ordered": (OK, "ordered by posts (most first), then user_id"),
                "top_users_ranks_consistent": (OK, "all 2 ranks match the post counts"),
                "top_users_cut_keeps_ties": (
                    WARN,
                    "the cut at 1 splits a tie: 2 users have 3 posts; the top 1 lists 1 of them "
                    "and leaves out 1 (user ids [3]); set include_ties to list them all",
                ),
            },
        ),
        (
            small_top((1, 3), (1, 1), (2, 2)),
            3,
            True,
            {
                "top_users_size_matches_top_n": (
                    OK,
                    "3 rows, as top_n 3, include_ties on asks",
                ),
                "top_users_ordered": (
                    FAIL,
                    "top_users is out of order at row 2: user 1 (3 posts) comes after user 3 "
                    "(3 posts); expected most posts first, then lowest user_id, each user once",
                ),
                # two users have more posts than user 2: competition rank 3
                "top_users_ranks_consistent": (
                    FAIL,
                    "wrong ranks in top_users: 1 of 3, e.g. user 2 has rank 2 where 1 + the "
                    "number of users with more posts is 3",
                ),
                "top_users_cut_keeps_ties": (OK, "no tie is cut: include_ties is on"),
            },
        ),
    ],
)
def test_top_users_checks_read_top_n_from_the_materialization(top, top_n, include_ties, expected):
    definitions = [
        stand_in("user_activity", SMALL_USER_ACTIVITY),
        stand_in("top_users", top, top_n=top_n, include_ties=include_ties),
        checks.top_users_checks,
    ]
    with dg.DagsterInstance.ephemeral() as instance:
        result = materialize(instance, definitions)
        assert not result.success
        assert evaluations(instance, result.run_id) == expected


def test_every_check_runs_in_the_job_and_holds_on_the_real_data(api, project_env, monkeypatch):
    monkeypatch.setenv("USER_ACTIVITY_API_URL", api.url)
    job = build_definitions(Settings.from_env()).resolve_job_def("user_activity_job")
    with dg.DagsterInstance.ephemeral() as instance:
        result = job.execute_in_process(instance=instance)
        assert result.success
        assert len(result.get_asset_check_evaluations()) == 12
        assert evaluations(instance, result.run_id) == {
            "users_not_empty": (OK, "10 users received"),
            "user_ids_unique": (OK, "all 10 user ids are unique"),
            # the first materialization in this instance: nothing to compare with yet
            "users_schema_unchanged": (
                OK,
                "users: 18 fields recorded; no earlier field set to compare with",
            ),
            "post_ids_unique": (OK, "all 100 post ids are unique"),
            "posts_by_known_users": (OK, "all 100 posts belong to a known user"),
            "posts_schema_unchanged": (
                OK,
                "posts: 4 fields recorded; no earlier field set to compare with",
            ),
            "one_row_per_user": (OK, "one row for each of the 10 users"),
            "every_post_counted": (
                OK,
                "all 100 posts accounted for: 100 counted, 0 by unknown users",
            ),
            "top_users_size_matches_top_n": (OK, "5 rows, as top_n 5, include_ties off asks"),
            "top_users_ordered": (OK, "ordered by posts (most first), then user_id"),
            "top_users_ranks_consistent": (OK, "all 5 ranks match the post counts"),
            # every real user has 10 posts: the default top 5 leaves five equals out
            "top_users_cut_keeps_ties": (
                WARN,
                "the cut at 5 splits a tie: 10 users have 10 posts; the top 5 lists 5 of them "
                "and leaves out 5 (user ids [6, 7, 8, 9, 10]); set include_ties to list them all",
            ),
        }
        assert check_metadata(instance, result.run_id, "top_users_cut_keeps_ties") == {
            "posts_at_cut": 10,
            "tied_users": 10,
            "left_out": 5,
            "left_out_user_ids": [6, 7, 8, 9, 10],
        }
        # Dagster's log gets the results that did not pass (a pass is Dagster's own evaluation
        # event), and not the starts and ends of the project's steps (its STEP_START and
        # STEP_SUCCESS say that); app.log has every line (below)
        messages = [
            entry.user_message
            for entry in instance.all_logs(result.run_id)
            if entry.dagster_event is None and " check " in entry.user_message
        ]
        assert messages == [
            "top_users check top_users_cut_keeps_ties failed (WARN): the cut at 5 splits a tie: "
            "10 users have 10 posts; the top 5 lists 5 of them and leaves out 5 (user ids "
            "[6, 7, 8, 9, 10]); set include_ties to list them all"
        ]
        # nor a line per file read or written (the IO managers skip UPathIOManager's debug lines)
        redundant = [
            entry.user_message
            for entry in instance.all_logs(result.run_id)
            if entry.dagster_event is None
            and (
                entry.user_message.endswith(": started")
                or ": finished in " in entry.user_message
                or entry.user_message.startswith(("Loading file from", "Writing file at"))
            )
        ]
        assert redundant == []
    lines = [
        json.loads(line) for line in (project_env / "logs" / "app.log").read_text().splitlines()
    ]
    check_lines = [line for line in lines if "check" in line]
    by_check = {}
    for line in check_lines:
        by_check.setdefault((line["asset"], line["check"]), []).append(line["event"])
    assert len(by_check) == 12
    assert set(map(tuple, by_check.values())) == {("step_start", "check_result", "step_end")}
    tie = next(
        line
        for line in check_lines
        if line["check"] == "top_users_cut_keeps_ties" and line["event"] == "check_result"
    )
    assert (tie["level"], tie["asset"], tie["passed"], tie["severity"]) == (
        "WARNING",
        "top_users",
        False,
        "WARN",
    )
    assert tie["message"].startswith(
        "top_users check top_users_cut_keeps_ties failed (WARN): the cut at 5 splits a tie"
    )


def test_top_users_check_without_top_n_metadata_fails_clearly():
    definitions = [
        stand_in("user_activity", SMALL_USER_ACTIVITY),
        stand_in("top_users", small_top((1, 1))),  # no top_n / include_ties metadata
        checks.top_users_checks,
    ]
    with dg.DagsterInstance.ephemeral() as instance:
        result = materialize(instance, definitions)
        assert not result.success
        failure = result.failure_data_for_node("top_users_checks")
        assert failure.error.message.startswith(
            "dagster._core.definitions.events.Failure: top_users: the latest materialization "
            "records no top_n/include_ties: materialize it again"
        )
        # the two rules that need no top_n still report from the failed step, as their own
        # steps did before the checks of an asset shared one
        assert evaluations(instance, result.run_id) == {
            "top_users_ordered": (OK, "ordered by posts (most first), then user_id"),
            "top_users_ranks_consistent": (OK, "all 1 ranks match the post counts"),
        }
