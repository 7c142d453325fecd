"""Settings from the project .env, their precedence, bad values, the logged settings, app.log.

The CLI tests start real `dagster` / `dg` processes from an unrelated folder, as a user would.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from user_activity.app_log import AppLog
from user_activity.settings import DEFAULTS, PROJECT_ROOT, SettingsError, load_env_file, mask
from user_activity_tests.test_assets import read_log, run_job
from user_activity_tests.test_cli import app_log, cli_env, run_cli

# --- the .env file ----------------------------------------------------------------------------


def test_env_file_values_override_exported_ones(tmp_path):
    env_file = tmp_path / "project.env"
    env_file.write_text(
        "USER_ACTIVITY_TOP_N=7\n# a comment\nUSER_ACTIVITY_SCHEDULE_TZ='Europe/Oslo'\n"
    )
    environ = {"USER_ACTIVITY_ENV_FILE": str(env_file), "USER_ACTIVITY_TOP_N": "3", "OTHER": "x"}
    assert load_env_file(environ) == env_file
    assert environ == {
        "USER_ACTIVITY_ENV_FILE": str(env_file),
        "USER_ACTIVITY_TOP_N": "7",
        "USER_ACTIVITY_SCHEDULE_TZ": "Europe/Oslo",
        "OTHER": "x",
    }


def test_default_env_file_is_the_project_root_one_and_may_be_missing():
    environ: dict[str, str] = {}
    path = load_env_file(environ)
    assert path == PROJECT_ROOT / ".env"
    if not path.exists():  # a developer's own .env would fill environ; CI has none
        assert environ == {}


def test_a_named_env_file_that_is_missing_is_an_error(tmp_path):
    with pytest.raises(SettingsError) as error:
        load_env_file({"USER_ACTIVITY_ENV_FILE": str(tmp_path / "nope.env")})
    assert (
        str(error.value) == f"USER_ACTIVITY_ENV_FILE names no file: {str(tmp_path / 'nope.env')!r}"
    )


def test_env_example_lists_every_setting():
    example = (PROJECT_ROOT / ".env.example").read_text()
    entries = [line.lstrip("# ") for line in example.splitlines()]
    names = [entry.split("=")[0] for entry in entries if entry.startswith("USER_ACTIVITY_")]
    assert names == list(DEFAULTS)


@pytest.fixture(scope="module")
def cli_with_env_files(api_server, tmp_path_factory):
    """`dagster job execute` from a folder with its own .env, and a project .env elsewhere."""
    api_server.reset()
    root = tmp_path_factory.mktemp("env_files")
    workdir = root / "elsewhere"
    workdir.mkdir()
    env = cli_env(workdir, api_server.url)
    # exported < the .env of the current folder (Dagster's) < the project .env (ours)
    env.update(USER_ACTIVITY_TOP_N="3", USER_ACTIVITY_ENV_FILE=str(root / "project.env"))
    (workdir / ".env").write_text("USER_ACTIVITY_TOP_N=4\nUSER_ACTIVITY_READ_TIMEOUT=29\n")
    (root / "project.env").write_text(
        f"USER_ACTIVITY_TOP_N=2\nUSER_ACTIVITY_DATA_DIR={root / 'from_env_file'}\n"
    )
    return root, workdir, run_cli(workdir, api_server.url, env=env)


def test_cli_honours_the_project_env_file_from_another_folder(cli_with_env_files):
    root, workdir, completed = cli_with_env_files
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert not (workdir / "data").exists()  # the exported DATA_DIR lost to the project .env
    top = json.loads((root / "from_env_file" / "user_activity.json").read_text())
    assert [row["user_id"] for row in top] == [1, 2]  # TOP_N=2 from the project .env


def test_run_logs_its_resolved_settings_once(cli_with_env_files, api_server):
    root, workdir, _ = cli_with_env_files
    lines = [line for line in app_log(workdir) if line["event"] == "settings"]
    assert len(lines) == 1
    assert lines[0]["settings"] == {
        "USER_ACTIVITY_API_URL": api_server.url,
        "USER_ACTIVITY_DATA_DIR": str(root / "from_env_file"),
        "USER_ACTIVITY_LOG_DIR": str(workdir / "logs"),
        "USER_ACTIVITY_LOG_LEVEL": "INFO",
        "USER_ACTIVITY_TOP_N": "2",
        "USER_ACTIVITY_CONNECT_TIMEOUT": "5.0",
        "USER_ACTIVITY_READ_TIMEOUT": "29.0",  # from the current folder's .env, via Dagster
        "USER_ACTIVITY_DEADLINE": "60.0",
        "USER_ACTIVITY_RETRIES": "3",
        "USER_ACTIVITY_BACKOFF": "0.5",
        "USER_ACTIVITY_RETRY_AFTER_CAP": "30.0",
        "USER_ACTIVITY_PAGE_SIZE": "0",
        "USER_ACTIVITY_PAGING": "page",
        "USER_ACTIVITY_CACHE_POLICY": "refresh",
        "USER_ACTIVITY_API_TOKEN": "",
        "USER_ACTIVITY_API_TOKEN_HEADER": "Authorization",
        "USER_ACTIVITY_SCHEDULE_CRON": "0 6 * * *",
        "USER_ACTIVITY_SCHEDULE_TZ": "UTC",
        "USER_ACTIVITY_CSV_BOM": "false",
        "USER_ACTIVITY_EXECUTOR": "default",
        "USER_ACTIVITY_ENV_FILE": str(root / "project.env"),
    }
    assert lines[0]["message"].startswith(f"settings: USER_ACTIVITY_API_URL={api_server.url}, ")


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        (
            "USER_ACTIVITY_TOP_N",
            "ten",
            "USER_ACTIVITY_TOP_N must be a whole number >= 1, got 'ten'",
        ),
        (
            "USER_ACTIVITY_SCHEDULE_TZ",
            "Mars/Olympus",
            "USER_ACTIVITY_SCHEDULE_TZ is not a known timezone: 'Mars/Olympus'",
        ),
        (
            "USER_ACTIVITY_SCHEDULE_CRON",
            "0 25 * * *",
            "USER_ACTIVITY_SCHEDULE_CRON is not a valid cron string: '0 25 * * *'",
        ),
        (
            "USER_ACTIVITY_API_URL",
            "ftp://example.org",
            "USER_ACTIVITY_API_URL must be an http(s):// or file:// URL or a folder, "
            "got 'ftp://example.org'",
        ),
    ],
)
def test_cli_prints_a_bad_setting_by_name(api_server, tmp_path, name, value, message):
    env = cli_env(tmp_path, api_server.url) | {name: value}
    completed = run_cli(tmp_path, api_server.url, env=env)
    assert completed.returncode == 1
    assert f"user_activity.settings.SettingsError: {message}\n" in completed.stderr
    assert not (tmp_path / "data").exists()


def test_dg_check_defs_passes(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in DEFAULTS}
    env.update(USER_ACTIVITY_ENV_FILE=os.devnull, VIRTUAL_ENV=str(Path(sys.executable).parents[1]))
    completed = subprocess.run(
        [str(Path(sys.executable).with_name("dg")), "check", "defs"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert "All definitions loaded successfully." in completed.stdout + completed.stderr


# --- masking and app.log ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value", "shown"),
    [
        ("USER_ACTIVITY_API_TOKEN", "abc123", "***"),
        ("USER_ACTIVITY_API_TOKEN", "", ""),
        ("USER_ACTIVITY_DB_PASSWORD", "hunter2", "***"),
        ("USER_ACTIVITY_API_TOKEN_HEADER", "Authorization", "Authorization"),
        (
            "USER_ACTIVITY_API_URL",
            "https://bob:pw@api.example.org/v1",
            "https://bob:***@api.example.org/v1",
        ),
        ("USER_ACTIVITY_API_URL", "https://api.example.org/v1", "https://api.example.org/v1"),
        ("USER_ACTIVITY_TOP_N", "5", "5"),
    ],
)
def test_secrets_are_masked(name, value, shown):
    assert mask(name, value) == shown


def test_in_process_run_logs_settings_once_at_start(api, project_env, monkeypatch):
    result, _ = run_job(api.url, monkeypatch)
    lines = read_log(project_env)
    assert lines[0]["event"] == "settings"
    assert [line["event"] for line in lines].count("settings") == 1
    assert lines[0]["run_id"] == result.run_id


def test_log_level_setting_filters_app_log(project_env, monkeypatch):
    monkeypatch.setenv("USER_ACTIVITY_LOG_LEVEL", "WARNING")
    log = AppLog("run-1", "raw_users")
    log.info("fetch", "not written")
    log.error("error", "written")
    assert [(line["level"], line["message"]) for line in read_log(project_env)] == [
        ("ERROR", "written")
    ]


WRITER = """
import sys
from user_activity.app_log import AppLog
log = AppLog(f"run-{sys.argv[1]}", "raw_posts")
for n in range(int(sys.argv[2])):
    log.info("fetch", f"line {n}", payload=sys.argv[1] * 5000, n=n)
"""


def test_concurrent_processes_append_whole_lines(project_env):
    """Several processes (started from different folders) append long lines at the same time."""
    processes, lines_each = 4, 200
    env = os.environ | {"USER_ACTIVITY_LOG_DIR": str(project_env / "logs")}
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(k), str(lines_each)],
            cwd=[project_env, "/", PROJECT_ROOT, Path.home()][k],
            env=env,
        )
        for k in range(processes)
    ]
    assert [w.wait(timeout=120) for w in writers] == [0] * processes
    lines = read_log(project_env)  # every line parses as JSON, or this raises
    assert len(lines) == processes * lines_each
    for k in range(processes):
        mine = [line for line in lines if line["run_id"] == f"run-{k}"]
        assert [line["n"] for line in mine] == list(range(lines_each))
        assert {line["payload"] for line in mine} == {str(k) * 5000}
