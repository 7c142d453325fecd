"""The project as users meet it: the real `dagster-webserver` and `dagster-daemon` processes.

One webserver and one daemon are started for the whole module (each start costs seconds), with
a temporary DAGSTER_HOME, the loopback API serving the real data, and a schedule that fires every
minute. The tests launch "Materialize all" through GraphQL exactly as the UI does, wait for the
scheduled run, look at the asset graph in headless Chromium, and the teardown stops every
process and asserts that none is left.
"""

from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.events import DagsterEventType
from dagster._core.instance.ref import InstanceRef
from playwright.sync_api import sync_playwright

from user_activity.definitions import defs
from user_activity.settings import DEFAULTS
from user_activity_tests.conftest import REAL_DATA, load_real
from user_activity_tests.dagster_services import (
    BIN,
    FINISHED,
    LAUNCH_RUN,
    RELOAD_LOCATION,
    RUNS_WITH_TAG,
    GraphQL,
    Service,
    free_port,
    location_entry,
    run_status,
    wait_for,
)
from user_activity_tests.expected import REAL_TOP_USERS, REAL_TOP_USERS_CSV, REAL_USER_ACTIVITY_CSV
from user_activity_tests.fake_api import FakeApi
from user_activity_tests.test_cli import OUTPUT_FILES

LOCATION = "user_activity"
ASSETS = ["post_counts", "raw_posts", "raw_users", "top_users", "user_activity"]
SCREENSHOT = Path(__file__).resolve().parents[1] / "docs" / "asset_graph.png"

# The instance the services share. The run queue is Dagster's default (the daemon dequeues),
# polled often so the test waits less; telemetry off because there is no network.
DAGSTER_YAML = """\
telemetry:
  enabled: false
run_coordinator:
  module: dagster.core.run_coordinator
  class: QueuedRunCoordinator
  config:
    dequeue_interval_seconds: 1
"""


class Stack:
    """What the fixture started: its folder, the services, the GraphQL client, the API."""

    def __init__(self, root: Path, api: FakeApi, port: int):
        self.root = root
        self.api = api
        self.url = f"http://127.0.0.1:{port}"
        self.gql = GraphQL(self.url)
        self.services: list[Service] = []
        self.env_file = root / "project.env"

    @property
    def data(self) -> Path:
        return self.root / "data"

    def app_log(self) -> list[dict]:
        text = (self.root / "logs" / "app.log").read_text(encoding="utf-8")
        return [json.loads(line) for line in text.splitlines()]

    def instance(self) -> dg.DagsterInstance:
        return dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(self.root / "dagster_home")))

    def diagnostics(self) -> str:
        return "\n".join(f"--- {s.name}\n{s.output()[-4000:]}" for s in self.services)


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    root = tmp_path_factory.mktemp("webserver_daemon")
    home = root / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text(DAGSTER_YAML)
    (root / "workspace.yaml").write_text(
        textwrap.dedent(f"""\
            load_from:
              - python_module:
                  module_name: user_activity.definitions
                  location_name: {LOCATION}
            """)
    )
    api = FakeApi(load_real()).start()
    port = free_port()
    stack = Stack(root, api, port)
    # create the SQLite storages once, before two processes race to migrate them
    stack.instance().dispose()
    stack.env_file.write_text("")
    env = {k: v for k, v in os.environ.items() if k not in DEFAULTS}
    env.update(
        DAGSTER_HOME=str(home),
        USER_ACTIVITY_ENV_FILE=str(stack.env_file),
        USER_ACTIVITY_API_URL=api.url,
        USER_ACTIVITY_DATA_DIR=str(root / "data"),
        USER_ACTIVITY_LOG_DIR=str(root / "logs"),
        USER_ACTIVITY_SCHEDULE_CRON="* * * * *",
    )
    workspace = ["-w", str(root / "workspace.yaml")]
    try:
        stack.services.append(
            Service(
                "webserver",
                [str(BIN / "dagster-webserver"), "-h", "127.0.0.1", "-p", str(port), *workspace],
                env,
                root,
            )
        )
        stack.services.append(
            Service("daemon", [str(BIN / "dagster-daemon"), "run", *workspace], env, root)
        )
        wait_for("the webserver", stack.gql.is_up, timeout=90)
        yield stack
    finally:
        survivors = {service.name: service.stop() for service in stack.services}
        api.stop()
        assert survivors == {s.name: [] for s in stack.services}, "orphaned processes"
        assert all(s.process.returncode is not None for s in stack.services)


@pytest.fixture(scope="module")
def ui_run(stack):
    """'Materialize all' as the UI sends it, and the run's final status."""
    entry = wait_for("the code location", lambda: location_entry(stack.gql, LOCATION), 90)
    check_keys = defs.resolve_asset_graph().asset_check_keys
    params = {
        "selector": {
            "repositoryLocationName": LOCATION,
            "repositoryName": "__repository__",
            "pipelineName": "__ASSET_JOB",
            "assetSelection": [{"path": [name]} for name in ASSETS],
            "assetCheckSelection": [
                {"assetKey": {"path": list(k.asset_key.path)}, "name": k.name} for k in check_keys
            ],
        },
        "mode": "default",
        "executionMetadata": {"tags": []},
        "runConfigData": {},
    }
    launched = stack.gql(LAUNCH_RUN, executionParams=params)["launchPipelineExecution"]
    assert launched["__typename"] == "LaunchRunSuccess", launched
    run_id = launched["run"]["runId"]
    status = wait_for(
        "the UI run to finish",
        lambda: (s := run_status(stack.gql, run_id)) in FINISHED and s or None,
        timeout=120,
    )
    return entry, run_id, status


def test_code_location_loads_without_errors(ui_run):
    entry = ui_run[0]
    assert entry["locationOrLoadError"] == {
        "__typename": "RepositoryLocation",
        "repositories": [{"name": "__repository__"}],
    }


def test_materialize_all_from_the_ui_succeeds(stack, ui_run):
    assert ui_run[2] == "SUCCESS", stack.diagnostics()


def test_ui_run_writes_the_exact_files(stack, ui_run):
    # hidden entries (a fetch cache) are not outputs
    assert sorted(p.name for p in stack.data.iterdir() if p.name[0] != ".") == OUTPUT_FILES
    assert (stack.data / "users.json").read_bytes() == (REAL_DATA / "users.json").read_bytes()
    assert (stack.data / "posts.json").read_bytes() == (REAL_DATA / "posts.json").read_bytes()
    assert (
        stack.data / "report_posts_users_list.csv"
    ).read_bytes().decode() == REAL_USER_ACTIVITY_CSV
    assert (stack.data / "report_user_activity.csv").read_bytes().decode() == REAL_TOP_USERS_CSV
    assert json.loads((stack.data / "user_activity.json").read_text()) == REAL_TOP_USERS


def test_ui_run_materializes_every_asset_and_passes_every_check(stack, ui_run):
    run_id = ui_run[1]
    with stack.instance() as instance:
        materialized = instance.get_records_for_run(
            run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION
        ).records
        evaluations = instance.get_records_for_run(
            run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION
        ).records
    keys = sorted(
        r.event_log_entry.asset_materialization.asset_key.to_user_string() for r in materialized
    )
    assert keys == ASSETS
    # every check the code location defines ran once; on the real data all pass but one warning:
    # ten users tie on 10 posts, so the default top 5 cuts the tie
    results = [e.event_log_entry.dagster_event.event_specific_data for e in evaluations]
    assert sorted(r.asset_check_key.to_user_string() for r in results) == sorted(
        key.to_user_string() for key in defs.resolve_asset_graph().asset_check_keys
    )
    assert [
        (r.asset_check_key.to_user_string(), r.severity.value) for r in results if not r.passed
    ] == [("top_users:top_users_cut_keeps_ties", "WARN")]


EVENTS = ("step_start", "fetch", "step_end")


def _run_events(stack: Stack, run_id: str) -> list[tuple[str, str]]:
    lines = [line for line in stack.app_log() if line["run_id"] == run_id and "check" not in line]
    return sorted(
        (line["asset"] or "", "file" if line["event"].startswith("file_") else line["event"])
        for line in lines
    )


def assert_run_lines(stack: Stack, run_id: str) -> None:
    """The app.log lines of one run: a settings line, each asset step's start, fetch, files and
    end, and each check step's start, result and end."""
    lines = [line for line in stack.app_log() if line["run_id"] == run_id]
    mine = [line for line in lines if "check" not in line]
    events = _run_events(stack, run_id)
    assert events == sorted(
        [("", "settings")]
        + [(asset, "step_start") for asset in ASSETS]
        + [(asset, "step_end") for asset in ASSETS]
        + [("raw_users", "fetch"), ("raw_posts", "fetch")]
        + [("post_counts", "counted"), ("top_users", "ranked")]
        + [("raw_users", "file"), ("raw_posts", "file")]
        + [("post_counts", "file"), ("user_activity", "file")]
        + [("top_users", "file"), ("top_users", "file")]
    ), events
    assert {line["level"] for line in mine} == {"INFO"}
    checks = [line for line in lines if "check" in line]
    names = sorted(key.name for key in defs.resolve_asset_graph().asset_check_keys)
    assert sorted((line["check"], line["event"]) for line in checks) == sorted(
        (name, event) for name in names for event in ("step_start", "check_result", "step_end")
    )
    assert [(line["check"], line["level"]) for line in checks if line["level"] != "INFO"] == [
        ("top_users_cut_keeps_ties", "WARNING")
    ]
    settings = next(line["settings"] for line in mine if line["event"] == "settings")
    assert settings["USER_ACTIVITY_API_URL"] == stack.api.url
    assert settings["USER_ACTIVITY_SCHEDULE_CRON"] == "* * * * *"
    assert settings["USER_ACTIVITY_LOG_DIR"] == str(stack.root / "logs")


def test_ui_run_writes_app_log_lines(stack, ui_run):
    assert_run_lines(stack, ui_run[1])


# Debian's chromium, never a downloaded browser; the flags keep it off this closed network.
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def test_asset_graph_page_shows_the_five_assets(stack, ui_run, tmp_path):
    assert Path(CHROMIUM).exists(), "install Debian's chromium: apt-get install -y chromium"
    shot = tmp_path / "asset_graph.png"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS, timeout=60_000
        )
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 800})
            page.goto(f"{stack.url}/asset-groups", timeout=60_000)
            # the nodes of the graph itself (an SVG of foreignObjects), not the sidebar's list
            graph = page.locator("svg foreignObject")
            for name in ASSETS:
                graph.get_by_text(name, exact=True).first.wait_for(timeout=60_000)
            page.wait_for_load_state("networkidle", timeout=30_000)
            # a first visit shows a "Join the Dagster community" dialog over the graph
            skip = page.get_by_role("button", name="Skip")
            if skip.count():
                skip.click()
                skip.wait_for(state="hidden", timeout=10_000)
            page.screenshot(path=str(shot))
        finally:
            browser.close()
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    if os.environ.get("UPDATE_SCREENSHOT") == "1":  # refresh the README's picture on purpose
        SCREENSHOT.parent.mkdir(exist_ok=True)
        SCREENSHOT.write_bytes(shot.read_bytes())


def test_scheduled_run_succeeds_and_logs(stack, ui_run):
    """The daemon ticks the every-minute schedule and its run succeeds (bounded wait)."""

    def scheduled_success():
        runs = stack.gql(RUNS_WITH_TAG, key="dagster/schedule_name", value="user_activity_daily")
        done = [r for r in runs["runsOrError"]["results"] if r["status"] in FINISHED]
        return done[-1] if done else None

    run = wait_for("a scheduled run", scheduled_success, timeout=150, every=2)
    assert run["status"] == "SUCCESS", stack.diagnostics()
    # the API has not changed since the UI's run: both fetches are 304s and the reports on disk
    # are from this data, so the scheduled run stops after the fetch
    assert _run_events(stack, run["runId"]) == sorted(
        [("", "settings"), ("raw_collections", "unchanged")]
        + [(asset, event) for asset in ("raw_users", "raw_posts") for event in EVENTS]
    )


def test_bad_setting_is_shown_for_the_location_then_fixed(stack, ui_run):
    """A bad value in the project .env: the UI shows the location's error naming the variable."""

    def reload() -> dict:
        result = stack.gql(RELOAD_LOCATION, location=LOCATION)["reloadRepositoryLocation"]
        assert result["__typename"] == "WorkspaceLocationEntry", result
        return wait_for("the reload", lambda: location_entry(stack.gql, LOCATION), 60)

    stack.env_file.write_text("USER_ACTIVITY_SCHEDULE_TZ=Mars/Olympus\n")
    try:
        error = reload()["locationOrLoadError"]
    finally:
        stack.env_file.write_text("")
    assert error["__typename"] == "PythonError"
    # Dagster wraps the import error; the UI shows the whole chain, ours is its cause
    causes = [link["error"]["message"] for link in error["errorChain"]]
    assert any(
        message.startswith(
            "user_activity.settings.SettingsError: "
            "USER_ACTIVITY_SCHEDULE_TZ is not a known timezone: 'Mars/Olympus'"
        )
        for message in causes
    ), causes
    assert reload()["locationOrLoadError"]["__typename"] == "RepositoryLocation"
