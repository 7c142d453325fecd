"""A refresh that finds nothing new upstream skips the rest of the run, unless something the
reports depend on changed: then it says what, and rebuilds."""

import os
import shutil

import dagster as dg
import pytest

from user_activity_tests.fake_api import Scripted
from user_activity_tests.test_assets import read_log
from user_activity_tests.test_ingestion import JSON, data_version, error_message, run, snapshot

ASSETS = ["raw_users", "raw_posts", "post_counts", "user_activity", "top_users"]
# every step after the fetch: the three downstream assets and the five check steps
SKIPPED = [
    "post_counts",
    "posts_by_known_users",
    "raw_posts_checks",
    "raw_users_checks",
    "top_users",
    "top_users_checks",
    "user_activity",
    "user_activity_checks",
]
UNCHANGED = (
    "users and posts not modified and every report was built from them: nothing to rebuild, "
    "the steps after this one are skipped (cache policy force rebuilds)"
)


def steps(result, kind: dg.DagsterEventType) -> list[str]:
    return sorted(event.step_key for event in result.all_events if event.event_type == kind)


def materialized(result) -> list[str]:
    return sorted(
        event.asset_key.to_user_string() for event in result.get_asset_materialization_events()
    )


def stats(folder) -> dict[str, tuple[int, int]]:
    return {
        name: (os.stat(folder / name).st_ino, os.stat(folder / name).st_mtime_ns)
        for name in snapshot(folder)
    }


def conditional_requests(api) -> list[tuple[str, bool]]:
    """(path, whether it asked "changed since?") of each request the API received."""
    return [(r.path, "if-none-match" in r.headers) for r in api.requests]


def log_lines(project_env, event: str) -> list[str]:
    return [line["message"] for line in read_log(project_env) if line["event"] == event]


def test_an_unchanged_refresh_skips_every_step_after_the_fetch(api, project_env, monkeypatch):
    instance = dg.DagsterInstance.ephemeral()
    assert run(api, monkeypatch, instance).success
    versions = {asset: data_version(instance, asset) for asset in ASSETS}
    data = project_env / "data"
    files, before = snapshot(data), stats(data)
    api.reset()
    result = run(api, monkeypatch, instance)
    assert result.success
    # one conditional request per collection, both answered 304
    assert conditional_requests(api) == [
        ("/users", True),
        ("/posts", True),
    ]
    assert steps(result, dg.DagsterEventType.STEP_SUCCESS) == ["raw_collections"]
    assert steps(result, dg.DagsterEventType.STEP_SKIPPED) == SKIPPED
    assert materialized(result) == []
    # not a byte nor an mtime changed, the cache included; every version is as it was
    assert (snapshot(data), stats(data)) == (files, before)
    assert {asset: data_version(instance, asset) for asset in ASSETS} == versions
    assert log_lines(project_env, "unchanged") == [UNCHANGED]
    fetches = log_lines(project_env, "fetch")[-2:]
    assert [line.split(" in ")[0] for line in fetches] == [
        f"GET {api.url}/users: status 304 (not modified), 10 records from the cache",
        f"GET {api.url}/posts: status 304 (not modified), 100 records from the cache",
    ]


def _top_3(project_env, monkeypatch):
    return {"ops": {"top_users": {"config": {"top_n": 3}}}}


def _delete_report(project_env, monkeypatch):
    (project_env / "data" / "report_user_activity.csv").unlink()


def _edit_posts(project_env, monkeypatch):
    path = project_env / "data" / "posts.json"
    path.write_bytes(path.read_bytes().replace(b'"id": 1,', b'"id": 1000,', 1))


def _edit_report_keeping_its_mtime(project_env, monkeypatch):
    path = project_env / "data" / "user_activity.json"
    before = path.stat()
    path.write_bytes(path.read_bytes().replace(b"Leanne", b"Leanny"))  # same size
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))


def _move_data(project_env, monkeypatch):
    # a new data folder that has the cache (so every page is a 304) but no reports
    shutil.copytree(project_env / "data" / ".cache", project_env / "data2" / ".cache")
    monkeypatch.setenv("USER_ACTIVITY_DATA_DIR", str(project_env / "data2"))


def _csv_bom(project_env, monkeypatch):
    monkeypatch.setenv("USER_ACTIVITY_CSV_BOM", "true")


# what changed since the last run -> why the refresh rebuilds (in app.log)
REBUILDS = {
    "another top_n": (
        _top_3,
        "top_users was built with top_n 5, include_ties False, this run asks for top_n 3, "
        "include_ties False",
    ),
    "a deleted report": (
        _delete_report,
        "{data}/report_user_activity.csv is not the file top_users's latest materialization wrote",
    ),
    "an edited raw file": (
        _edit_posts,
        "{data}/posts.json is not the file raw_posts's latest materialization wrote",
    ),
    "an edit with its mtime put back": (
        _edit_report_keeping_its_mtime,
        "{data}/user_activity.json is not the file top_users's latest materialization wrote",
    ),
    "another data folder": (
        _move_data,
        "raw_users was written with base_dir {data}, this run writes it with base_dir {data}2",
    ),
    "a byte-order mark": (
        _csv_bom,
        "user_activity was written with base_dir {data}, bom False, this run writes it with "
        "base_dir {data}, bom True",
    ),
}
# the cases whose files end as the first run wrote them
SAME_FILES = {"a deleted report", "an edited raw file", "an edit with its mtime put back"}


@pytest.mark.parametrize("case", list(REBUILDS))
def test_an_unchanged_refresh_rebuilds_when_the_reports_are_not_from_this_data(
    api, project_env, monkeypatch, case
):
    instance = dg.DagsterInstance.ephemeral()
    assert run(api, monkeypatch, instance).success
    files = snapshot(project_env / "data")
    change, reason = REBUILDS[case]
    run_config = change(project_env, monkeypatch)
    result = run(api, monkeypatch, instance, run_config)
    assert result.success
    assert materialized(result) == sorted(ASSETS)
    assert steps(result, dg.DagsterEventType.STEP_SKIPPED) == []
    reason = reason.format(data=project_env / "data")
    assert log_lines(project_env, "rebuild") == [f"not modified upstream, but {reason}: rebuilding"]
    raw = instance.get_latest_materialization_event(dg.AssetKey("raw_posts"))
    metadata = raw.asset_materialization.metadata
    assert (metadata["status"].value, metadata["source"].value, metadata["bytes"].value) == (
        304,
        "not modified",
        0,
    )
    if case in SAME_FILES:
        # the same data and settings: every file is back to what the first run wrote
        assert snapshot(project_env / "data") == files
    # and the next refresh of this state has nothing to do
    again = run(api, monkeypatch, instance, run_config)
    assert (again.success, materialized(again)) == (True, [])


def test_force_rebuilds_everything_without_validators(api, project_env, monkeypatch):
    instance = dg.DagsterInstance.ephemeral()
    assert run(api, monkeypatch, instance).success
    api.reset()
    monkeypatch.setenv("USER_ACTIVITY_CACHE_POLICY", "force")
    result = run(api, monkeypatch, instance)
    assert (result.success, materialized(result)) == (True, sorted(ASSETS))
    assert not any("if-none-match" in r.headers for r in api.requests)
    assert log_lines(project_env, "unchanged") == log_lines(project_env, "rebuild") == []


def _break_posts_cache(project_env, how: str) -> None:
    path = project_env / "data" / ".cache" / "posts.jsonl"
    header, records = path.read_bytes().split(b"\n", 1)
    if how == "truncated":
        path.write_bytes(header + b"\n" + records[:5000])
    else:  # userId 1 -> 2 in the first post: valid JSON, other data
        path.write_bytes(header + b"\n" + records.replace(b'"userId":1,', b'"userId":2,', 1))


@pytest.mark.parametrize("how", ["truncated", "edited"])
def test_a_rebuild_downloads_again_when_the_cached_records_are_damaged(
    api, project_env, monkeypatch, how
):
    instance = dg.DagsterInstance.ephemeral()
    assert run(api, monkeypatch, instance).success
    data = project_env / "data"
    files, first_version = snapshot(data), data_version(instance, "raw_posts")
    _break_posts_cache(project_env, how)
    # the skip needs only the cache's first line: the reports on disk are right, nothing to do
    assert materialized(run(api, monkeypatch, instance)) == []
    (data / "post_counts.json").unlink()
    api.reset()
    result = run(api, monkeypatch, instance)
    assert result.success
    # users from the cache; posts' records did not match their checksum: downloaded again
    assert conditional_requests(api) == [
        ("/users", True),
        ("/posts", True),
        ("/posts", False),
    ]
    assert snapshot(data) == files  # every file as the first run wrote it, the cache included
    assert data_version(instance, "raw_posts") == first_version
    cache = data / ".cache" / "posts.jsonl"
    assert log_lines(project_env, "cache_unusable") == [
        f"the cached posts cannot be used ({cache}: the records line does not match its "
        "checksum): downloaded every page again"
    ]


def test_a_failed_download_of_damaged_cached_records_writes_no_file(api, project_env, monkeypatch):
    instance = dg.DagsterInstance.ephemeral()
    assert run(api, monkeypatch, instance).success
    data = project_env / "data"
    users = data / "users.json"
    users.write_bytes(users.read_bytes().replace(b"Leanne", b"Leanny"))  # must be rebuilt
    _break_posts_cache(project_env, "truncated")
    before = snapshot(data)
    api.script("/posts", Scripted(304, b"", {}), Scripted(404, b"{}", JSON))
    result = run(api, monkeypatch, instance)
    assert not result.success
    assert error_message(result, "raw_collections").startswith(
        "dagster._core.definitions.events.Failure: "
        f"GET {api.url}/posts failed: status 404, content type application/json"
    )
    # users.json is not rewritten before posts are in hand: both stay as they were
    assert snapshot(data) == before
    assert log_lines(project_env, "error")[-1].startswith(f"raw_posts: GET {api.url}/posts failed")
