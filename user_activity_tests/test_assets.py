"""The whole graph in process against the loopback API: every file, metadata and app.log line."""

import json
from pathlib import Path

import dagster as dg
import pytest

from user_activity.definitions import build_definitions
from user_activity.settings import Settings
from user_activity_tests.conftest import REAL_DATA
from user_activity_tests.expected import (
    OUTPUT_FILES,
    REAL_POST_COUNTS,
    REAL_TOP_USERS,
    REAL_TOP_USERS_CSV,
    REAL_USER_ACTIVITY_CSV,
    SMALL_POST_COUNTS,
    SMALL_POSTS,
    SMALL_USER_ACTIVITY_CSV,
    SMALL_USERS,
    small_top,
)

ASSETS = ["raw_users", "raw_posts", "post_counts", "user_activity", "top_users"]


def run_job(api_url: str, monkeypatch, run_config=None, raise_on_error=True):
    monkeypatch.setenv("USER_ACTIVITY_API_URL", api_url)
    job = build_definitions(Settings.from_env()).resolve_job_def("user_activity_job")
    instance = dg.DagsterInstance.ephemeral()
    result = job.execute_in_process(
        instance=instance, run_config=run_config, raise_on_error=raise_on_error
    )
    return result, instance


def read_log(project_env: Path) -> list[dict]:
    return [
        json.loads(line) for line in (project_env / "logs" / "app.log").read_text().splitlines()
    ]


def test_real_data_files_are_exact(api, project_env, monkeypatch):
    result, _ = run_job(api.url, monkeypatch)
    assert result.success
    data = project_env / "data"
    # .cache holds the last good responses for conditional refresh (issue 3)
    assert sorted(p.name for p in data.iterdir()) == [".cache", *OUTPUT_FILES]
    # the raw collections are stored as received: here byte for byte the upstream files
    assert (data / "users.json").read_bytes() == (REAL_DATA / "users.json").read_bytes()
    assert (data / "posts.json").read_bytes() == (REAL_DATA / "posts.json").read_bytes()
    assert json.loads((data / "post_counts.json").read_text()) == REAL_POST_COUNTS
    assert (
        (data / "post_counts.json")
        .read_text()
        .startswith('[\n  {\n    "user_id": 1,\n    "posts_count": 10\n  },\n')
    )
    assert (data / "report_posts_users_list.csv").read_bytes().decode() == REAL_USER_ACTIVITY_CSV
    assert json.loads((data / "user_activity.json").read_text()) == REAL_TOP_USERS
    assert (data / "report_user_activity.csv").read_bytes().decode() == REAL_TOP_USERS_CSV
    assert [r.path for r in api.requests] == ["/users", "/posts"] or [
        r.path for r in api.requests
    ] == ["/posts", "/users"]


def test_real_data_metadata(api, project_env, monkeypatch):
    result, instance = run_job(api.url, monkeypatch)
    data = project_env / "data"

    def meta(asset):
        event = instance.get_latest_materialization_event(dg.AssetKey(asset))
        return event.asset_materialization.metadata

    def values(asset, *keys):
        return {key: meta(asset)[key].value for key in keys}

    # bytes: the body as served, which is the upstream file without its final newline
    for asset, collection, rows, size, fields in [
        ("raw_users", "users", 10, 5645, 18),
        ("raw_posts", "posts", 100, 27520, 4),
    ]:
        assert values(
            asset, "dagster/row_count", "url", "status", "bytes", "requests", "retries"
        ) == {
            "dagster/row_count": rows,
            "url": f"{api.url}/{collection}",
            "status": 200,
            "bytes": size,
            "requests": 1,
            "retries": 0,
        }
        assert isinstance(meta(asset)["url"], dg.UrlMetadataValue)
        assert isinstance(meta(asset)["seconds"], dg.FloatMetadataValue)
        assert len(meta(asset)["fields"].value) == fields
        assert meta(asset)["path"] == dg.MetadataValue.path(str(data / f"{collection}.json"))
    assert meta("raw_posts")["fields"].value == ["body", "id", "title", "userId"]

    assert meta("post_counts")["dagster/row_count"].value == 10
    assert meta("post_counts")["path"] == dg.MetadataValue.path(str(data / "post_counts.json"))

    # summary numbers as int/float metadata, which the UI plots across materializations
    assert values(
        "user_activity",
        "dagster/row_count",
        "users",
        "users_with_zero_posts",
        "mean_posts_per_user",
        "max_posts_per_user",
        "orphan_posts",
    ) == {
        "dagster/row_count": 10,
        "users": 10,
        "users_with_zero_posts": 0,
        "mean_posts_per_user": 10.0,
        "max_posts_per_user": 10,
        "orphan_posts": 0,
    }
    assert isinstance(meta("user_activity")["mean_posts_per_user"], dg.FloatMetadataValue)
    assert isinstance(meta("user_activity")["users_with_zero_posts"], dg.IntMetadataValue)
    assert meta("user_activity")["path"] == dg.MetadataValue.path(
        str(data / "report_posts_users_list.csv")
    )

    assert values("top_users", "dagster/row_count", "top_n", "include_ties") == {
        "dagster/row_count": 5,
        "top_n": 5,
        "include_ties": False,
    }
    assert meta("top_users")["path"] == dg.MetadataValue.path(str(data / "user_activity.json"))
    assert meta("top_users")["csv_path"] == dg.MetadataValue.path(
        str(data / "report_user_activity.csv")
    )
    assert meta("top_users")["preview"] == dg.MetadataValue.md(
        "| rank | user_id | name | username | email | city | company | posts_count |\n"
        "|---|---|---|---|---|---|---|---|\n"
        "| 1 | 1 | Leanne Graham | Bret | Sincere@april.biz | Gwenborough | Romaguera-Crona "
        "| 10 |\n"
        "| 1 | 2 | Ervin Howell | Antonette | Shanna@melissa.tv | Wisokyburgh | Deckow-Crist "
        "| 10 |\n"
        "| 1 | 3 | Clementine Bauch | Samantha | Nathan@yesenia.net | McKenziehaven "
        "| Romaguera-Jacobson | 10 |\n"
        "| 1 | 4 | Patricia Lebsack | Karianne | Julianne.OConner@kory.org | South Elvis "
        "| Robel-Corkery | 10 |\n"
        "| 1 | 5 | Chelsey Dietrich | Kamren | Lucio_Hettinger@annie.ca | Roscoeview "
        "| Keebler LLC | 10 |"
    )

    # the column schema on each materialization too, not only on the definition
    activity_columns = [
        ("user_id", "int"),
        ("name", "string"),
        ("username", "string"),
        ("email", "string"),
        ("city", "string"),
        ("company", "string"),
        ("posts_count", "int"),
    ]
    for asset, columns in [
        ("post_counts", [("user_id", "int"), ("posts_count", "int")]),
        ("user_activity", activity_columns),
        ("top_users", [("rank", "int"), *activity_columns]),
    ]:
        schema = meta(asset)["dagster/column_schema"].schema
        assert [(column.name, column.type) for column in schema.columns] == columns, asset
        assert all(column.description for column in schema.columns), asset


def test_app_log_has_a_line_for_every_step_fetch_and_file(api, project_env, monkeypatch):
    result, _ = run_job(api.url, monkeypatch)
    # the checks' lines carry a `check` field; test_checks.py looks at those
    lines = [line for line in read_log(project_env) if "check" not in line]
    assert {line["run_id"] for line in lines} == {result.run_id}
    assert all(line["level"] == "INFO" and line["time"].endswith("+00:00") for line in lines)
    by_asset = {
        asset: [line["event"] for line in lines if line["asset"] == asset] for asset in ASSETS
    }
    assert by_asset["raw_users"] == ["step_start", "fetch", "step_end", "file_written"]
    assert by_asset["post_counts"] == ["step_start", "counted", "step_end", "file_written"]
    assert by_asset["top_users"] == [
        "step_start",
        "ranked",
        "step_end",
        "file_written",
        "file_written",
    ]
    fetch = next(
        line for line in lines if line["event"] == "fetch" and line["asset"] == "raw_posts"
    )
    assert (fetch["url"], fetch["status"], fetch["rows"]) == (f"{api.url}/posts", 200, 100)
    assert isinstance(fetch["seconds"], float)
    written = [line["path"] for line in lines if line["event"] == "file_written"]
    assert sorted(Path(p).name for p in written) == OUTPUT_FILES


def test_small_dataset_with_zero_posts_and_orphans(api, project_env, monkeypatch):
    api.reset({"users": SMALL_USERS, "posts": SMALL_POSTS})
    result, instance = run_job(
        api.url, monkeypatch, run_config={"ops": {"top_users": {"config": {"top_n": 2}}}}
    )
    data = project_env / "data"
    assert json.loads((data / "post_counts.json").read_text()) == SMALL_POST_COUNTS
    assert (data / "report_posts_users_list.csv").read_bytes().decode() == SMALL_USER_ACTIVITY_CSV
    assert json.loads((data / "user_activity.json").read_text()) == small_top((1, 1), (1, 3))
    event = instance.get_latest_materialization_event(dg.AssetKey("user_activity"))
    assert event.asset_materialization.metadata["orphan_posts"].value == 2
    assert event.asset_materialization.metadata["orphan_user_ids"].value == [99]
    warning = next(line for line in read_log(project_env) if line["event"] == "orphan_posts")
    assert warning["level"] == "WARNING"
    assert warning["message"] == "2 posts by 1 unknown userIds left out: [99]"


def test_include_ties_extends_the_cut(api, project_env, monkeypatch):
    api.reset({"users": SMALL_USERS, "posts": SMALL_POSTS})
    config = {"ops": {"top_users": {"config": {"top_n": 1, "include_ties": True}}}}
    run_job(api.url, monkeypatch, run_config=config)
    assert (project_env / "data" / "report_user_activity.csv").read_text().splitlines()[1:] == [
        "1,1,Ada Lovelace,ada,ada@example.org,London,Analytical Engines,3",
        '1,3,Émile Zola,emile,emile@example.fr,"Paris, FR","The ""Quoted"" Co",3',
    ]


@pytest.mark.parametrize("top_n", [0, -3])
def test_top_n_below_one_fails_before_any_fetch(api, project_env, monkeypatch, top_n):
    config = {"ops": {"top_users": {"config": {"top_n": top_n}}}}
    result, _ = run_job(api.url, monkeypatch, run_config=config, raise_on_error=False)
    assert not result.success
    assert api.requests == []
    assert not (project_env / "data").exists()
    failure = result.failure_data_for_node("raw_collections")
    assert failure.error.message.startswith(
        f"dagster._core.definitions.events.Failure: Invalid run config for top_users: "
        f"top_n input should be greater than or equal to 1 (got {top_n})"
    )


def test_a_failed_write_is_in_app_log_and_keeps_the_other_report(api, project_env, monkeypatch):
    # a folder where the top users CSV should go: the pair cannot be replaced
    (project_env / "data" / "report_user_activity.csv").mkdir(parents=True)
    result, _ = run_job(api.url, monkeypatch, raise_on_error=False)
    assert not result.success
    errors = [line for line in read_log(project_env) if line["level"] == "ERROR"]
    assert [(line["asset"], line["event"], line["error"]) for line in errors] == [
        ("top_users", "error", "IsADirectoryError")
    ]
    assert errors[0]["message"].startswith("writing top_users failed: IsADirectoryError: ")
    assert errors[0]["run_id"] == result.run_id
    # staged pair: the JSON half was not published without its CSV
    assert not (project_env / "data" / "user_activity.json").exists()


def test_a_corrupt_upstream_file_is_in_app_log(api, project_env, monkeypatch):
    run_job(api.url, monkeypatch)
    report = project_env / "data" / "report_posts_users_list.csv"
    report.write_text("id,name\r\n1,x\r\n")
    job = build_definitions(Settings.from_env()).resolve_implicit_global_asset_job_def()
    result = job.execute_in_process(
        instance=dg.DagsterInstance.ephemeral(),
        asset_selection=[dg.AssetKey("top_users")],
        raise_on_error=False,
    )
    assert not result.success
    errors = [line for line in read_log(project_env) if line["level"] == "ERROR"]
    assert [(line["asset"], line["run_id"]) for line in errors] == [
        ("user_activity", result.run_id)
    ]
    assert errors[0]["message"] == (
        f"loading user_activity failed: FileFormatError: {report} has header ['id', 'name'], "
        "expected ['user_id', 'name', 'username', 'email', 'city', 'company', 'posts_count']"
    )
