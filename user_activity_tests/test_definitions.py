"""The code location loads, and what it is made of follows the USER_ACTIVITY_* settings."""

import dagster as dg
import pytest

from user_activity.definitions import build_definitions, defs
from user_activity.settings import DEFAULT_API_URL, PROJECT_ROOT, Settings, SettingsError
from user_activity_tests.expected import CHECKS

ASSET_KEYS = ["post_counts", "raw_posts", "raw_users", "top_users", "user_activity"]


def test_module_definitions_load():
    dg.Definitions.validate_loadable(defs)


def test_five_assets_in_one_group():
    graph = defs.resolve_asset_graph()
    keys = sorted(key.to_user_string() for key in graph.get_all_asset_keys())
    assert keys == ASSET_KEYS
    assert {graph.get(dg.AssetKey(k)).group_name for k in keys} == {"user_activity"}
    upstream = {
        k: sorted(p.to_user_string() for p in graph.get(dg.AssetKey(k)).parent_keys) for k in keys
    }
    assert upstream == {
        "raw_users": [],
        "raw_posts": [],
        "post_counts": ["raw_posts"],
        "user_activity": ["post_counts", "raw_users"],
        "top_users": ["user_activity"],
    }


def test_job_covers_every_asset_and_check():
    # AssetSelection.all() takes the checks of the selected assets along. The checks of one
    # asset share a step (a multi_asset_check), except posts_by_known_users, which also reads
    # raw_users and so must not hold back post_ids_unique when a raw_users check fails.
    job = defs.resolve_job_def("user_activity_job")
    check_steps = [
        "posts_by_known_users",
        "raw_posts_checks",
        "raw_users_checks",
        "top_users_checks",
        "user_activity_checks",
    ]
    # raw_users and raw_posts come from one step, raw_collections (fetched together)
    asset_steps = ["post_counts", "raw_collections", "top_users", "user_activity"]
    assert sorted(node.name for node in job.nodes) == sorted(asset_steps + check_steps)


def test_checks_are_registered_blocking_or_not():
    graph = defs.resolve_asset_graph()
    found: dict[str, tuple[list[str], list[str]]] = {}
    for key in graph.asset_check_keys:
        spec = graph.get_check_spec(key)
        assert spec.description, key
        blocking, warn = found.setdefault(key.asset_key.to_user_string(), ([], []))
        (blocking if spec.blocking else warn).append(key.name)
    assert {asset: (sorted(b), sorted(w)) for asset, (b, w) in found.items()} == CHECKS


@pytest.mark.parametrize(
    ("asset", "kinds"),
    [
        ("raw_users", {"python", "json"}),
        ("raw_posts", {"python", "json"}),
        ("post_counts", {"python", "json"}),
        ("user_activity", {"python", "csv"}),
        ("top_users", {"python", "json", "csv"}),
    ],
)
def test_assets_carry_description_kinds_owners_and_code_version(asset, kinds):
    node = defs.resolve_asset_graph().get(dg.AssetKey(asset))
    assert node.description
    assert node.kinds == kinds
    assert node.owners == ["team:data-engineering"]
    assert node.code_version == "1"


def test_defaults_when_nothing_is_set():
    settings = Settings.from_env({})
    assert settings == Settings(
        api_url=DEFAULT_API_URL,
        data_dir=str(PROJECT_ROOT / "data"),
        log_dir=str(PROJECT_ROOT / "logs"),
        log_level="INFO",
        top_n=5,
        connect_timeout=5.0,
        read_timeout=30.0,
        schedule_cron="0 6 * * *",
        schedule_tz="UTC",
        env_file=str(PROJECT_ROOT / ".env"),
        deadline=60.0,
        retries=3,
        backoff=0.5,
        retry_after_cap=30.0,
        page_size=0,
        paging="page",
        cache_policy="refresh",
        token_header="Authorization",
    )


def test_relative_folders_are_absolute_and_normalized():
    settings = Settings.from_env(
        {"USER_ACTIVITY_DATA_DIR": "../out/./data", "USER_ACTIVITY_LOG_DIR": "logs//run/.."}
    )
    assert settings.data_dir == str(PROJECT_ROOT.parent / "out" / "data")
    assert settings.log_dir == str(PROJECT_ROOT / "logs")
    assert (
        Settings.from_env({"USER_ACTIVITY_DATA_DIR": "s3://b/x/../y"}).data_dir == "s3://b/x/../y"
    )


def test_schedule_follows_the_env():
    settings = Settings.from_env(
        {"USER_ACTIVITY_SCHEDULE_CRON": "30 2 * * 1-5", "USER_ACTIVITY_SCHEDULE_TZ": "Europe/Oslo"}
    )
    schedule = build_definitions(settings).resolve_schedule_def("user_activity_daily")
    assert schedule.cron_schedule == "30 2 * * 1-5"
    assert schedule.execution_timezone == "Europe/Oslo"
    assert schedule.job_name == "user_activity_job"
    assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING
    context = dg.build_schedule_context(
        scheduled_execution_time=__import__("datetime").datetime(2026, 12, 7, 2, 30)
    )
    requests = schedule.evaluate_tick(context).run_requests
    assert len(requests) == 1 and requests[0].run_config == {}


def test_default_schedule_is_daily_at_six_utc():
    schedule = defs.resolve_schedule_def("user_activity_daily")
    assert (schedule.cron_schedule, schedule.execution_timezone) == ("0 6 * * *", "UTC")


def test_resources_follow_the_env(tmp_path):
    settings = Settings.from_env(
        {
            "USER_ACTIVITY_API_URL": "http://127.0.0.1:8000/",
            "USER_ACTIVITY_DATA_DIR": str(tmp_path / "out"),
            "USER_ACTIVITY_READ_TIMEOUT": "2.5",
        }
    )
    resources = build_definitions(settings).resources
    assert resources["api"].base_url == "http://127.0.0.1:8000"
    assert resources["api"].read_timeout == 2.5
    assert resources["json_io_manager"].base_dir == str(tmp_path / "out")


def test_ingestion_settings_reach_the_api_resource(tmp_path):
    settings = Settings.from_env(
        {
            "USER_ACTIVITY_DATA_DIR": str(tmp_path / "out"),
            "USER_ACTIVITY_DEADLINE": "12.5",
            "USER_ACTIVITY_RETRIES": "0",
            "USER_ACTIVITY_BACKOFF": "0.25",
            "USER_ACTIVITY_RETRY_AFTER_CAP": "5",
            "USER_ACTIVITY_PAGE_SIZE": "25",
            "USER_ACTIVITY_PAGING": "offset",
            "USER_ACTIVITY_CACHE_POLICY": "cache-only",
            "USER_ACTIVITY_API_TOKEN_HEADER": "X-Api-Key",
            "USER_ACTIVITY_API_TOKEN": "not-in-settings",
        }
    )
    api = build_definitions(settings).resources["api"]
    assert (api.deadline, api.retries, api.backoff_base, api.retry_after_cap) == (12.5, 0, 0.25, 5)
    assert (api.page_size, api.paging, api.cache_policy) == (25, "offset", "cache-only")
    assert api.cache_dir == str(tmp_path / "out" / ".cache")
    assert (api.credential_env_var, api.credential_header) == (
        "USER_ACTIVITY_API_TOKEN",
        "X-Api-Key",
    )
    # the token is read when a run starts, so neither Settings nor resource config holds it
    assert "not-in-settings" not in repr(settings) + repr(api)


def test_relative_dirs_resolve_against_the_project_not_the_cwd(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    settings = Settings.from_env({"USER_ACTIVITY_DATA_DIR": "out/data"})
    assert settings.data_dir == str(PROJECT_ROOT / "out" / "data")
    assert (
        Settings.from_env({"USER_ACTIVITY_DATA_DIR": "s3://bucket/x"}).data_dir == "s3://bucket/x"
    )


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("USER_ACTIVITY_TOP_N", "0", "USER_ACTIVITY_TOP_N must be a whole number >= 1, got '0'"),
        (
            "USER_ACTIVITY_TOP_N",
            "five",
            "USER_ACTIVITY_TOP_N must be a whole number >= 1, got 'five'",
        ),
        (
            "USER_ACTIVITY_READ_TIMEOUT",
            "-1",
            "USER_ACTIVITY_READ_TIMEOUT must be a number of seconds > 0, got '-1'",
        ),
        (
            "USER_ACTIVITY_SCHEDULE_CRON",
            "0 25 * * *",
            "USER_ACTIVITY_SCHEDULE_CRON is not a valid cron string: '0 25 * * *'",
        ),
        (
            "USER_ACTIVITY_SCHEDULE_TZ",
            "Mars/Olympus",
            "USER_ACTIVITY_SCHEDULE_TZ is not a known timezone: 'Mars/Olympus'",
        ),
        (
            "USER_ACTIVITY_API_URL",
            "ftp://example.com",
            "USER_ACTIVITY_API_URL must be an http(s):// or file:// URL or a folder, "
            "got 'ftp://example.com'",
        ),
        ("USER_ACTIVITY_API_URL", "http://", "USER_ACTIVITY_API_URL has no host: 'http://'"),
        (
            "USER_ACTIVITY_DEADLINE",
            "0",
            "USER_ACTIVITY_DEADLINE must be a number of seconds > 0, got '0'",
        ),
        (
            "USER_ACTIVITY_RETRIES",
            "-1",
            "USER_ACTIVITY_RETRIES must be a whole number >= 0, got '-1'",
        ),
        (
            "USER_ACTIVITY_RETRIES",
            "2.5",
            "USER_ACTIVITY_RETRIES must be a whole number >= 0, got '2.5'",
        ),
        (
            "USER_ACTIVITY_BACKOFF",
            "fast",
            "USER_ACTIVITY_BACKOFF must be a number of seconds >= 0, got 'fast'",
        ),
        (
            "USER_ACTIVITY_RETRY_AFTER_CAP",
            "nan",
            "USER_ACTIVITY_RETRY_AFTER_CAP must be a number of seconds >= 0, got 'nan'",
        ),
        (
            "USER_ACTIVITY_PAGE_SIZE",
            "-5",
            "USER_ACTIVITY_PAGE_SIZE must be a whole number >= 0, got '-5'",
        ),
        (
            "USER_ACTIVITY_PAGING",
            "cursor",
            "USER_ACTIVITY_PAGING must be one of page, offset, got 'cursor'",
        ),
        (
            "USER_ACTIVITY_CACHE_POLICY",
            "offline",
            "USER_ACTIVITY_CACHE_POLICY must be one of refresh, force, cache-only, got 'offline'",
        ),
        (
            "USER_ACTIVITY_API_TOKEN_HEADER",
            "X Api Key",
            "USER_ACTIVITY_API_TOKEN_HEADER is not a header name: 'X Api Key'",
        ),
        (
            "USER_ACTIVITY_LOG_LEVEL",
            "LOUD",
            "USER_ACTIVITY_LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL, got 'LOUD'",
        ),
        # a folder of zoneinfo, not a zone
        (
            "USER_ACTIVITY_SCHEDULE_TZ",
            "America",
            "USER_ACTIVITY_SCHEDULE_TZ is not a known timezone: 'America'",
        ),
        (
            "USER_ACTIVITY_API_URL",
            "http://127.0.0.1:99999",
            "USER_ACTIVITY_API_URL has an invalid port: 'http://127.0.0.1:99999'",
        ),
        # the first folder would be taken as a host name
        (
            "USER_ACTIVITY_API_URL",
            "file://user_activity/snapshot",
            "USER_ACTIVITY_API_URL: a file:// URL needs an absolute path (file:///path), "
            "got 'file://user_activity/snapshot'",
        ),
        # a forgotten scheme must not read as a (missing) folder
        (
            "USER_ACTIVITY_API_URL",
            "127.0.0.1:8765/api",
            "USER_ACTIVITY_API_URL is neither an http(s):// or file:// URL nor an existing folder: "
            "'127.0.0.1:8765/api'",
        ),
        (
            "USER_ACTIVITY_TOP_N",
            "1_0",
            "USER_ACTIVITY_TOP_N must be a whole number >= 1, got '1_0'",
        ),
        (
            "USER_ACTIVITY_CONNECT_TIMEOUT",
            "inf",
            "USER_ACTIVITY_CONNECT_TIMEOUT must be a number of seconds > 0, got 'inf'",
        ),
    ],
)
def test_bad_setting_names_the_variable(name, value, message):
    with pytest.raises(SettingsError) as error:
        Settings.from_env({name: value})
    assert str(error.value) == message


def test_loading_with_a_bad_variable_fails_naming_it():
    import os
    import subprocess
    import sys

    env = {**os.environ, "USER_ACTIVITY_TOP_N": "-2"}
    completed = subprocess.run(
        [sys.executable, "-c", "import user_activity.definitions"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 1
    assert completed.stderr.strip().splitlines()[-1] == (
        "user_activity.settings.SettingsError: "
        "USER_ACTIVITY_TOP_N must be a whole number >= 1, got '-2'"
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [("", False), ("false", False), ("0", False), ("No", False), ("TRUE", True), ("1", True)],
)
def test_csv_bom_setting_reaches_both_csv_io_managers(value, expected):
    settings = Settings.from_env({"USER_ACTIVITY_CSV_BOM": value})
    assert settings.csv_bom is expected
    resources = build_definitions(settings).resources
    assert (resources["csv_io_manager"].bom, resources["report_io_manager"].csv_bom) == (
        expected,
        expected,
    )


def test_csv_bom_setting_rejects_other_words():
    with pytest.raises(SettingsError) as error:
        Settings.from_env({"USER_ACTIVITY_CSV_BOM": "sometimes"})
    assert str(error.value) == (
        "USER_ACTIVITY_CSV_BOM must be true or false (or 1/0, yes/no), got 'sometimes'"
    )


def test_blank_and_padded_values_mean_what_they_say():
    settings = Settings.from_env(
        {
            "USER_ACTIVITY_LOG_DIR": "  ",
            "USER_ACTIVITY_LOG_LEVEL": " debug ",
            "USER_ACTIVITY_TOP_N": " 3",
        }
    )
    assert (settings.log_dir, settings.log_level, settings.top_n) == (
        str(PROJECT_ROOT / "logs"),
        "DEBUG",
        3,
    )
    # app.log reads the same two settings the same way
    from user_activity.settings import log_dir_and_level

    assert log_dir_and_level(
        {"USER_ACTIVITY_LOG_DIR": "  ", "USER_ACTIVITY_LOG_LEVEL": " debug "}
    ) == (
        str(PROJECT_ROOT / "logs"),
        "DEBUG",
    )


@pytest.mark.parametrize(
    ("name", "executor"),
    [("default", "multi_or_in_process_executor"), ("celery", "celery"), ("k8s", "k8s")],
)
def test_executor_setting_picks_the_jobs_executor(name, executor):
    settings = Settings.from_env({"USER_ACTIVITY_EXECUTOR": name})
    definitions = build_definitions(settings)
    assert definitions.resolve_job_def("user_activity_job").executor_def.name == executor
    schedule = definitions.resolve_schedule_def("user_activity_daily")
    assert schedule.job_name == "user_activity_job"


def test_executor_without_its_package_names_what_to_install(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "dagster_celery", None)  # as if not installed
    settings = Settings.from_env({"USER_ACTIVITY_EXECUTOR": "celery"})
    with pytest.raises(SettingsError) as error:
        build_definitions(settings)
    assert str(error.value) == (
        "USER_ACTIVITY_EXECUTOR=celery needs the dagster-celery package: pip install -e '.[celery]'"
    )


def test_unknown_executor_is_rejected():
    with pytest.raises(SettingsError) as error:
        Settings.from_env({"USER_ACTIVITY_EXECUTOR": "spark"})
    assert str(error.value) == (
        "USER_ACTIVITY_EXECUTOR must be one of default, celery, k8s, got 'spark'"
    )


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            "http://alice:pw@127.0.0.1:8000",
            "USER_ACTIVITY_API_URL must not hold credentials; set USER_ACTIVITY_API_TOKEN",
        ),
        (
            "http://127.0.0.1:8000/?key=secret",
            "USER_ACTIVITY_API_URL must not have a query or fragment; for an API key set "
            "USER_ACTIVITY_API_TOKEN (and USER_ACTIVITY_API_TOKEN_HEADER)",
        ),
    ],
)
def test_api_url_carries_no_secrets(value, message):
    # requests would send URL credentials as Basic auth instead of the token, and a query would
    # land in front of /users and in app.log's settings line
    with pytest.raises(SettingsError) as error:
        Settings.from_env({"USER_ACTIVITY_API_URL": value})
    assert str(error.value) == message


def test_choices_ignore_letter_case():
    settings = Settings.from_env(
        {"USER_ACTIVITY_PAGING": "OFFSET", "USER_ACTIVITY_CACHE_POLICY": "Force"}
    )
    assert (settings.paging, settings.cache_policy) == ("offset", "force")
