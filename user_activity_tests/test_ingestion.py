"""The raw assets in the whole job: failures leave every file as it was, secrets stay out of
the logs, and conditional refresh gives stable data versions."""

import json
from pathlib import Path

import dagster as dg
import pytest
from dagster._serdes import serialize_value

from user_activity.definitions import build_definitions
from user_activity.settings import Settings
from user_activity_tests.fake_api import Scripted
from user_activity_tests.test_assets import read_log
from user_activity_tests.test_cli import OUTPUT_FILES

JSON = {"Content-Type": "application/json; charset=utf-8"}
TOKEN = "tok-0a1b2c3d4e5f"


@pytest.fixture(autouse=True)
def fast_fetches(monkeypatch):
    """Short timeouts and backoff so that failing fetches fail in well under a second."""
    for name, value in {
        "USER_ACTIVITY_READ_TIMEOUT": "0.5",
        "USER_ACTIVITY_DEADLINE": "3",
        "USER_ACTIVITY_RETRIES": "1",
        "USER_ACTIVITY_BACKOFF": "0.01",
        "USER_ACTIVITY_RETRY_AFTER_CAP": "0.1",
    }.items():
        monkeypatch.setenv(name, value)


def run(api, monkeypatch, instance, run_config=None):
    monkeypatch.setenv("USER_ACTIVITY_API_URL", api.url)
    job = build_definitions(Settings.from_env()).resolve_job_def("user_activity_job")
    return job.execute_in_process(instance=instance, run_config=run_config, raise_on_error=False)


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under `folder` (the cache included) and its bytes."""
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def data_version(instance, asset: str) -> str:
    event = instance.get_latest_materialization_event(dg.AssetKey(asset))
    return event.asset_materialization.tags["dagster/data_version"]


def error_message(result, node: str) -> str:
    return result.failure_data_for_node(node).error.message


BROKEN_USERS = [{"id": 1, "name": "A", "username": "a"}]
FAILURES = {
    "endless 503": ("/users", [Scripted(503, b"down", {"Content-Type": "text/plain"})] * 2, {}),
    "html page": ("/users", [Scripted(200, b"<html>maintenance</html>", {})], {}),
    "invalid record": ("/users", [Scripted(200, json.dumps(BROKEN_USERS).encode(), JSON)], {}),
    "no users": ("/users", [Scripted(200, b"[]", JSON)], {}),
    "timeout": ("/posts", [Scripted(200, b"[]", JSON, delay=1.0)] * 2, {}),
    "paging ignored": (
        "/posts",
        [
            Scripted(
                200,
                (Path(__file__).parent.parent / "user_activity/snapshot/posts.json").read_bytes(),
                JSON,
            )
        ],
        {"USER_ACTIVITY_PAGE_SIZE": "30"},
    ),
}
MESSAGES = {
    "endless 503": "GET {url}/users failed after 2 attempts: status 503, content type text/plain, "
    "body starts 'down'",
    "html page": "GET {url}/users did not return JSON: status 200, content type none, "
    "body starts '<html>maintenance</html>'",
    "invalid record": "{url}/users record 0 (id 1): field 'email' is missing",
    "no users": "{url}/users returned no users: nothing to report on",
    "timeout": "GET {url}/posts failed after 2 attempts: timeout",
    "paging ignored": "{url}/posts page 1 has 100 records for a page size of 30: "
    "the server ignores the paging parameters",
}


@pytest.mark.parametrize("case", list(FAILURES))
def test_a_failed_fetch_leaves_every_file_as_it_was(api, project_env, monkeypatch, case):
    instance = dg.DagsterInstance.ephemeral()
    assert run(api, monkeypatch, instance).success
    data = project_env / "data"
    before = snapshot(data)
    assert sorted(before) == [".cache/posts.jsonl", ".cache/users.jsonl", *OUTPUT_FILES]
    path, responses, env = FAILURES[case]
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    api.script(path, *responses)
    result = run(api, monkeypatch, instance)
    assert not result.success
    expected = MESSAGES[case].format(url=api.url)
    # both collections are fetched in one step, raw_collections
    assert error_message(result, "raw_collections").startswith(
        f"dagster._core.definitions.events.Failure: {expected}\n"
    )
    after = snapshot(data)
    # Every data file and report as it was, and the failed collection's cache; the other
    # collection's cache may change when its own fetch succeeded (here: new page URLs).
    other_cache = ".cache/posts.jsonl" if path == "/users" else ".cache/users.jsonl"
    assert {k: v for k, v in after.items() if k != other_cache} == {
        k: v for k, v in before.items() if k != other_cache
    }
    error = next(line for line in read_log(project_env) if line["event"] == "error")
    assert error["run_id"] == result.run_id
    assert error["message"].endswith(f"s: Failure: {expected}")


@pytest.mark.parametrize("failing", ["/users", "/posts"])
def test_a_failed_fetch_keeps_the_other_collection_even_when_it_changed(
    api, project_env, monkeypatch, real_data, failing
):
    instance = dg.DagsterInstance.ephemeral()
    assert run(api, monkeypatch, instance).success
    data = project_env / "data"
    before = snapshot(data)
    # upstream changes both collections, and one of the two fetches fails
    api.reset(
        {
            "users": [{**user, "name": user["name"] + " Jr."} for user in real_data["users"]],
            "posts": [{**post, "title": "edited"} for post in real_data["posts"]],
        }
    )
    api.script(failing, Scripted(404, b"{}", JSON))
    assert not run(api, monkeypatch, instance).success

    # both are fetched and validated in one step before either file is written; only the
    # fetch cache may hold a collection that arrived whole (it is the last good response)
    def published(files: dict[str, bytes]) -> dict[str, bytes]:
        return {name: data for name, data in files.items() if not name.startswith(".cache/")}

    assert sorted(published(before)) == OUTPUT_FILES
    assert published(snapshot(data)) == published(before)


def test_retries_are_logged_as_warnings(api, project_env, monkeypatch):
    api.script("/users", Scripted(429, b"", {"Retry-After": "0"}))
    result = run(api, monkeypatch, dg.DagsterInstance.ephemeral())
    assert result.success
    [retry] = [line for line in read_log(project_env) if line["event"] == "retry"]
    assert (retry["level"], retry["asset"], retry["attempt"], retry["delay"]) == (
        "WARNING",
        "raw_users",
        1,
        0.0,
    )
    assert retry["message"] == (
        f"GET {api.url}/users: status 429, content type none, body starts ''; retry 1 in 0.0s"
    )


def test_the_token_never_shows_in_app_log_event_log_or_run_config(api, project_env, monkeypatch):
    monkeypatch.setenv("USER_ACTIVITY_API_TOKEN", TOKEN)
    instance = dg.DagsterInstance.ephemeral()
    good = run(api, monkeypatch, instance)
    assert good.success
    assert {r.headers["authorization"] for r in api.requests} == {f"Bearer {TOKEN}"}
    # a server that echoes the token back in an error page, then in a retried 503
    api.script(
        "/users",
        Scripted(503, f"token {TOKEN} is rate limited".encode(), {"Retry-After": "0"}),
        Scripted(401, f"invalid token {TOKEN}".encode(), {"Content-Type": "text/plain"}),
    )
    bad = run(api, monkeypatch, instance)
    assert not bad.success
    assert "invalid token ***" in error_message(bad, "raw_collections")
    log_text = (project_env / "logs" / "app.log").read_text()
    assert "token *** is rate limited" in log_text  # the retry warning, scrubbed
    assert TOKEN not in log_text
    for result in (good, bad):
        records = instance.all_logs(result.run_id)
        assert len(records) > 20
        assert all(TOKEN not in serialize_value(record) for record in records)
        assert TOKEN not in json.dumps(instance.get_run_by_id(result.run_id).run_config)


def test_changed_users_change_only_their_lineage(api, project_env, monkeypatch, real_data):
    instance = dg.DagsterInstance.ephemeral()
    assert run(api, monkeypatch, instance).success
    before = {a: data_version(instance, a) for a in ("raw_users", "raw_posts", "post_counts")}
    users = [{**real_data["users"][0], "name": "Leanne G."}, *real_data["users"][1:]]
    api.reset({"users": users, "posts": real_data["posts"]})
    assert run(api, monkeypatch, instance).success
    assert data_version(instance, "raw_users") != before["raw_users"]
    assert data_version(instance, "raw_posts") == before["raw_posts"]
    assert data_version(instance, "post_counts") == before["post_counts"]


def test_cache_policy_from_run_config_and_env(api, project_env, monkeypatch):
    instance = dg.DagsterInstance.ephemeral()
    assert run(api, monkeypatch, instance).success
    api.reset()
    cache_only = {"ops": {"raw_collections": {"config": {"cache_policy": "cache-only"}}}}
    assert run(api, monkeypatch, instance, cache_only).success
    assert api.requests == []
    monkeypatch.setenv("USER_ACTIVITY_CACHE_POLICY", "force")
    assert run(api, monkeypatch, instance).success
    assert len(api.requests) == 2
    assert not any("if-none-match" in r.headers for r in api.requests)


def test_cache_only_without_a_cache_fails_and_writes_nothing(api, project_env, monkeypatch):
    monkeypatch.setenv("USER_ACTIVITY_CACHE_POLICY", "cache-only")
    result = run(api, monkeypatch, dg.DagsterInstance.ephemeral())
    assert not result.success
    assert api.requests == []
    cache = project_env / "data" / ".cache"
    assert error_message(result, "raw_collections").startswith(
        "dagster._core.definitions.events.Failure: cache policy cache-only, but there is no usable "
        f"cached users at {cache}/users.jsonl: run once with cache policy refresh or force\n"
    )
    assert not (project_env / "data").exists()


def test_unknown_cache_policy_in_run_config_fails_before_fetching(api, project_env, monkeypatch):
    config = {"ops": {"raw_collections": {"config": {"cache_policy": "offline"}}}}
    result = run(api, monkeypatch, dg.DagsterInstance.ephemeral(), config)
    assert not result.success
    assert error_message(result, "raw_collections").startswith(
        "dagster._core.definitions.events.Failure: Invalid run config for raw_collections: "
        "cache_policy must be one of refresh, force, cache-only, got 'offline'\n"
    )
    assert api.requests == []  # checked before the first fetch
