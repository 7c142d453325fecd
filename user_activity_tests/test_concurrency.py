"""Two runs at once: Dagster's run queue and pool limits from the project's dagster.yaml.

The path Dagster does not cover (runs on separate instances, e.g. two `dagster job execute`
without a shared DAGSTER_HOME) is the report lock, tested in test_outputs and test_atomic_files.
"""

import threading
import time

import dagster as dg
import yaml
from dagster._utils.tags import TagConcurrencyLimitsCounter

from user_activity.definitions import build_definitions, defs
from user_activity.jobs import REPORT_WRITER_TAG
from user_activity.settings import PROJECT_ROOT, Settings

POOL = "user_activity_reports"
INSTANCE_SETTINGS = yaml.safe_load((PROJECT_ROOT / "dagster.yaml").read_text())


def test_the_job_tags_its_runs_as_report_writers():
    assert defs.resolve_job_def("user_activity_job").run_tags == {"user_activity/writes": "reports"}


def test_run_queue_starts_one_run_of_the_job_at_a_time():
    with dg.instance_for_test(overrides=INSTANCE_SETTINGS) as instance:
        queue = instance.get_concurrency_config().run_queue_config
        assert type(instance.run_coordinator).__name__ == "QueuedRunCoordinator"
    assert queue.tag_concurrency_limits == [
        {"key": "user_activity/writes", "value": "reports", "limit": 1}
    ]

    # the queue daemon's own test of a queued run against the runs in progress
    def blocked(in_progress_tags: list[dict[str, str]], queued_tags: dict[str, str]) -> bool:
        in_progress = [dg.DagsterRun(job_name="j", tags=tags) for tags in in_progress_tags]
        counter = TagConcurrencyLimitsCounter(queue.tag_concurrency_limits, in_progress)
        return counter.is_blocked(dg.DagsterRun(job_name="j", tags=queued_tags))

    assert blocked([REPORT_WRITER_TAG], REPORT_WRITER_TAG)
    assert not blocked([], REPORT_WRITER_TAG)
    assert not blocked([{"other": "run"}], REPORT_WRITER_TAG)


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
