"""Two runs at once: Dagster's run queue and pool limits from the project's dagster.yaml.

The path Dagster does not cover (runs on separate instances, e.g. two `dagster job execute`
without a shared DAGSTER_HOME) is the report lock, tested in test_outputs and test_atomic_files.
"""

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import dagster as dg
import yaml

from user_activity.definitions import build_definitions, defs
from user_activity.settings import PROJECT_ROOT, Settings
from user_activity_tests.expected import OUTPUT_FILES, data_listing
from user_activity_tests.fake_api import Scripted
from user_activity_tests.test_cli import DAGSTER, cli_env

POOL = "user_activity_reports"
INSTANCE_SETTINGS = yaml.safe_load((PROJECT_ROOT / "dagster.yaml").read_text())


def test_the_job_tags_its_runs_as_report_writers():
    assert defs.resolve_job_def("user_activity_job").run_tags == {"user_activity/writes": "reports"}


def test_pool_holds_top_users_while_another_run_writes_the_reports(api, project_env, monkeypatch):
    """Runs of one instance share the pool, queued or not (`dagster job execute`)."""
    monkeypatch.setenv("USER_ACTIVITY_API_URL", api.url)
    job = build_definitions(Settings.from_env()).resolve_job_def("user_activity_job")
    report = project_env / "data" / "user_activity.json"
    with dg.instance_for_test(overrides=INSTANCE_SETTINGS) as instance:
        storage = instance.event_log_storage
        assert storage.get_pool_config().default_pool_limit == 1
        storage.initialize_concurrency_limit_to_default(POOL)
        # another run is in its top_users step and holds the pool's only slot
        assert storage.claim_concurrency_slot(POOL, "other-run", "top_users").is_claimed
        results = []
        runner = threading.Thread(
            target=lambda: results.append(job.execute_in_process(instance=instance))
        )
        runner.start()
        try:
            deadline = time.monotonic() + 60
            while instance.get_latest_materialization_event(dg.AssetKey("user_activity")) is None:
                assert time.monotonic() < deadline, "user_activity was never materialized"
                time.sleep(0.1)
            time.sleep(1.5)  # top_users is ready to run, but waits for the slot
            assert not report.exists()
            assert instance.get_latest_materialization_event(dg.AssetKey("top_users")) is None
        finally:
            storage.free_concurrency_slot_for_step("other-run", "top_users")
            runner.join(timeout=60)
        assert not runner.is_alive()
        assert results[0].success
        assert results[0].dagster_run.tags["user_activity/writes"] == "reports"
        assert report.exists()
        assert storage.get_concurrency_info(POOL).claimed_slots == []


DAEMON = str(Path(sys.executable).with_name("dagster-daemon"))
LOCATION = ["-m", "user_activity.definitions"]


def stop_process_group(process: subprocess.Popen) -> None:
    """SIGTERM to the daemon's group (its code server and runs too), SIGKILL if it lingers."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)
            process.wait(timeout=20)
            return
        except ProcessLookupError:
            return
        except subprocess.TimeoutExpired:
            continue


def test_daemon_starts_two_queued_runs_one_after_the_other(api, tmp_path, monkeypatch):
    """Two runs launched at once (say the schedule's and a manual one) never overlap."""
    users = api.respond("/users", {}, {})
    # each run takes 4 s or more, so that without the limit the two would overlap
    api.script("/users", *[Scripted(users.status, users.body, users.headers, 4.0)] * 2)
    env = cli_env(tmp_path, api.url)
    env["USER_ACTIVITY_SCHEDULE_CRON"] = "0 0 1 1 *"  # the schedule adds no run of its own here
    shutil.copy(PROJECT_ROOT / "dagster.yaml", tmp_path / "dagster_home" / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", env["DAGSTER_HOME"])
    # the instance's SQLite files are created here, before two processes race to create them
    with dg.DagsterInstance.get() as instance:
        launch = [DAGSTER, "job", "launch", *LOCATION, "-j", "user_activity_job"]
        with open(tmp_path / "launch.log", "w") as launch_log:
            launches = [
                subprocess.Popen(
                    launch, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=launch_log
                )
                for _ in range(2)
            ]
            codes = [process.wait(timeout=180) for process in launches]
        assert codes == [0, 0], (tmp_path / "launch.log").read_text()[-3000:]
        runs = instance.get_runs()
        assert [run.status for run in runs] == [dg.DagsterRunStatus.QUEUED] * 2
        assert [run.tags["user_activity/writes"] for run in runs] == ["reports", "reports"]
        with open(tmp_path / "daemon.log", "w") as daemon_log:
            daemon = subprocess.Popen(
                [DAEMON, "run", *LOCATION],
                cwd=tmp_path,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=daemon_log,
                start_new_session=True,
            )
        try:
            deadline = time.monotonic() + 240
            while any(not run.is_finished for run in instance.get_runs()):
                assert time.monotonic() < deadline, (tmp_path / "daemon.log").read_text()[-3000:]
                time.sleep(1)
        finally:
            stop_process_group(daemon)
        records = sorted(instance.get_run_records(), key=lambda record: record.start_time)
    assert [r.dagster_run.status for r in records] == [dg.DagsterRunStatus.SUCCESS] * 2
    # the second started only once the first had ended
    assert records[1].start_time >= records[0].end_time
    assert [r.path for r in api.requests].count("/users") == 2
    assert data_listing(p.name for p in (tmp_path / "data").iterdir()) == OUTPUT_FILES
