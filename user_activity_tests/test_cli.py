"""The job through the real CLI (`dagster job execute`) in subprocesses, as a user runs it.

One run per configuration, shared by the tests that check it: each CLI start costs seconds.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from user_activity.settings import DEFAULTS, PROJECT_ROOT, SNAPSHOT_DIR
from user_activity_tests.conftest import REAL_DATA, load_real
from user_activity_tests.expected import (
    OUTPUT_FILES,
    REAL_TOP_USERS,
    REAL_TOP_USERS_CSV,
    REAL_USER_ACTIVITY_CSV,
    STEPS,
    data_listing,
)

DAGSTER = str(Path(sys.executable).with_name("dagster"))


def cli_env(workdir: Path, api_url: str) -> dict[str, str]:
    """The env of a `dagster` command: its own DAGSTER_HOME, data and logs, all in workdir."""
    env = {k: v for k, v in os.environ.items() if k not in DEFAULTS}
    home = workdir / "dagster_home"
    home.mkdir(parents=True, exist_ok=True)
    env.update(
        DAGSTER_HOME=str(home),
        USER_ACTIVITY_ENV_FILE=os.devnull,
        USER_ACTIVITY_API_URL=api_url,
        USER_ACTIVITY_DATA_DIR=str(workdir / "data"),
        USER_ACTIVITY_LOG_DIR=str(workdir / "logs"),
    )
    return env


def run_cli(
    workdir: Path, api_url: str, *extra: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    """`dagster job execute` started from an unrelated folder, with its own DAGSTER_HOME."""
    command = [
        DAGSTER,
        "job",
        "execute",
        "-m",
        "user_activity.definitions",
        "-j",
        "user_activity_job",
        *extra,
    ]
    return subprocess.run(
        command,
        cwd=workdir,
        env=env or cli_env(workdir, api_url),
        capture_output=True,
        text=True,
        timeout=240,
    )


def app_log(workdir: Path) -> list[dict]:
    return [json.loads(line) for line in (workdir / "logs" / "app.log").read_text().splitlines()]


def steps(lines: list[dict], event: str) -> list[tuple[str, str | None]]:
    """(asset, check) of the lines of one event; check is None for an asset's own step."""
    return sorted(
        ((line["asset"], line.get("check")) for line in lines if line["event"] == event), key=str
    )


@pytest.fixture(scope="module")
def in_process_run(api_server, tmp_path_factory):
    api_server.reset()
    workdir = tmp_path_factory.mktemp("cli_in_process")
    # run config that sets only op config keeps the job's default (in-process) executor
    config = workdir / "run_config.yaml"
    config.write_text("ops:\n  top_users:\n    config:\n      top_n: 5\n")
    return workdir, run_cli(workdir, api_server.url, "-c", str(config)), list(api_server.requests)


@pytest.fixture(scope="module")
def multiprocess_run(api_server, tmp_path_factory):
    api_server.reset()
    workdir = tmp_path_factory.mktemp("cli_multiprocess")
    # with the project's instance settings, so the top_users pool is enforced across processes
    (workdir / "dagster_home").mkdir()
    shutil.copy(PROJECT_ROOT / "dagster.yaml", workdir / "dagster_home" / "dagster.yaml")
    config = workdir / "run_config.yaml"
    config.write_text("execution:\n  config:\n    multiprocess: {}\n")
    return workdir, run_cli(workdir, api_server.url, "-c", str(config))


def test_cli_run_succeeds_in_process(in_process_run):
    workdir, completed, requests = in_process_run
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert "Executing steps in process" in completed.stderr
    assert sorted(r.path for r in requests) == ["/posts", "/users"]


def test_cli_run_writes_the_six_files(in_process_run):
    data = in_process_run[0] / "data"
    # .cache holds the last good responses for conditional refresh (issue 3)
    assert sorted(p.name for p in data.iterdir()) == [".cache", *OUTPUT_FILES]
    assert (data / "users.json").read_bytes() == (REAL_DATA / "users.json").read_bytes()
    assert (data / "posts.json").read_bytes() == (REAL_DATA / "posts.json").read_bytes()
    assert (data / "report_posts_users_list.csv").read_bytes().decode() == REAL_USER_ACTIVITY_CSV
    assert (data / "report_user_activity.csv").read_bytes().decode() == REAL_TOP_USERS_CSV
    assert json.loads((data / "user_activity.json").read_text()) == REAL_TOP_USERS


def test_cli_run_writes_app_log(in_process_run):
    lines = app_log(in_process_run[0])
    assert len({line["run_id"] for line in lines}) == 1
    starts = steps(lines, "step_start")
    ends = steps(lines, "step_end")
    assert starts == ends == STEPS
    assert sorted(Path(line["path"]).name for line in lines if line["event"] == "file_written") == (
        OUTPUT_FILES
    )
    assert sorted(
        (line["asset"], line["status"], line["rows"]) for line in lines if line["event"] == "fetch"
    ) == [("raw_posts", 200, 100), ("raw_users", 200, 10)]


def test_cli_multiprocess_gives_the_same_files(in_process_run, multiprocess_run, monkeypatch):
    workdir, completed = multiprocess_run
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert "Executing steps using multiprocess executor" in completed.stderr
    assert data_listing(p.name for p in (workdir / "data").iterdir()) == OUTPUT_FILES
    for name in OUTPUT_FILES:
        assert (workdir / "data" / name).read_bytes() == (
            in_process_run[0] / "data" / name
        ).read_bytes(), name
    # top_users claimed (and freed) the pool's one slot in the run's instance
    monkeypatch.setenv("DAGSTER_HOME", str(workdir / "dagster_home"))
    with dg.DagsterInstance.get() as instance:
        pool = instance.event_log_storage.get_concurrency_info("user_activity_reports")
    assert (pool.slot_count, pool.claimed_slots) == (1, [])
    # each step ran in its own process, and each wrote its lines to the same app.log
    assert steps(app_log(workdir), "step_end") == STEPS


def test_cli_offline_from_bundled_snapshot(tmp_path, in_process_run):
    completed = run_cli(tmp_path, SNAPSHOT_DIR.as_uri())
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert "Executing steps in process" in completed.stderr
    for name in OUTPUT_FILES:
        assert (tmp_path / "data" / name).read_bytes() == (
            in_process_run[0] / "data" / name
        ).read_bytes(), name
    fetches = [line["url"] for line in app_log(tmp_path) if line["event"] == "fetch"]
    assert sorted(fetches) == [
        (SNAPSHOT_DIR / "posts.json").as_uri(),
        (SNAPSHOT_DIR / "users.json").as_uri(),
    ]


def test_cli_rejects_top_n_zero_before_fetching(api, tmp_path):
    config = tmp_path / "run_config.yaml"
    config.write_text("ops:\n  top_users:\n    config:\n      top_n: 0\n")
    completed = run_cli(tmp_path, api.url, "-c", str(config))
    assert completed.returncode == 1
    assert (
        "Invalid run config for top_users: top_n input should be greater than or equal to 1 (got 0)"
    ) in completed.stderr
    assert api.requests == []
    assert not (tmp_path / "data").exists()


REPORTS = ["report_posts_users_list.csv", "report_user_activity.csv", "user_activity.json"]


@pytest.fixture(scope="module")
def blocked_run(api_server, in_process_run, tmp_path_factory):
    """A run over the previous run's files whose users repeat an id: a blocking check fails."""
    workdir = tmp_path_factory.mktemp("cli_blocked")
    shutil.copytree(in_process_run[0] / "data", workdir / "data")
    before = {
        name: ((workdir / "data" / name).read_bytes(), (workdir / "data" / name).stat().st_mtime_ns)
        for name in OUTPUT_FILES
    }
    real = load_real()
    api_server.reset({"users": [*real["users"], real["users"][0]], "posts": real["posts"]})
    try:
        completed = run_cli(workdir, api_server.url)
    finally:
        api_server.reset(load_real())
    return workdir, completed, before


def test_cli_blocking_check_failure_exits_non_zero(blocked_run):
    _, completed, _ = blocked_run
    assert completed.returncode == 1, completed.stderr[-3000:]
    assert (
        "1 blocking asset check failed with ERROR severity:\nraw_users: user_ids_unique"
    ) in completed.stderr
    assert (
        "raw_users check user_ids_unique failed (ERROR): users: duplicate ids [1] (1 extra "
        "record); the API sent records that cannot be told apart"
    ) in completed.stderr


def test_cli_blocking_check_failure_leaves_the_reports_untouched(blocked_run):
    workdir, _, before = blocked_run
    data = workdir / "data"
    assert sorted(p.name for p in data.iterdir()) == [".cache", *OUTPUT_FILES]
    for name in REPORTS:
        assert (data / name).read_bytes() == before[name][0], name
        assert (data / name).stat().st_mtime_ns == before[name][1], name
    # raw_users itself is stored as received (its checks run after it), with the repeated user
    assert [user["id"] for user in json.loads((data / "users.json").read_text())] == [
        *range(1, 11),
        1,
    ]


def test_cli_blocking_check_failure_in_app_log(blocked_run):
    lines = app_log(blocked_run[0])
    started = {
        line["asset"] for line in lines if line["event"] == "step_start" and "check" not in line
    }
    assert started == {"raw_users", "raw_posts", "post_counts"}

    def files(event: str) -> list[str]:
        return sorted(Path(line["path"]).name for line in lines if line["event"] == event)

    # only users changed (a repeated user); the posts and their counts are the previous bytes
    assert files("file_written") == ["users.json"]
    assert files("file_unchanged") == ["post_counts.json", "posts.json"]
    failed = [
        (line["level"], line["check"], line["severity"])
        for line in lines
        if line["event"] == "check_result" and not line["passed"]
    ]
    assert failed == [("ERROR", "user_ids_unique", "ERROR")]
