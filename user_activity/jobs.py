"""The job over the whole graph and its daily schedule."""

from __future__ import annotations

import importlib

import dagster as dg

from user_activity.settings import EXECUTORS, SettingsError

# Runs carry this tag so the instance's run queue (dagster.yaml) starts one at a time.
REPORT_WRITER_TAG = {"user_activity/writes": "reports"}

# USER_ACTIVITY_EXECUTOR -> (module, executor, extra that installs it). Dagster takes a job's
# executor from its definition, not from run config, so a setting picks it: moving the steps to
# Celery workers or Kubernetes pods is configuration, not a code change.
DISTRIBUTED_EXECUTORS = {
    "celery": ("dagster_celery", "celery_executor", "celery"),
    "k8s": ("dagster_k8s", "k8s_job_executor", "k8s"),
}
assert set(EXECUTORS) == {"default", *DISTRIBUTED_EXECUTORS}


def step_executor(name: str) -> dg.ExecutorDefinition:
    """The executor named by USER_ACTIVITY_EXECUTOR; `default` is in-process or multiprocess."""
    if name == "default":
        return dg.multi_or_in_process_executor
    module, attribute, extra = DISTRIBUTED_EXECUTORS[name]
    try:
        return getattr(importlib.import_module(module), attribute)
    except ImportError:
        raise SettingsError(
            f"USER_ACTIVITY_EXECUTOR={name} needs the {module.replace('_', '-')} package: "
            f"pip install -e '.[{extra}]'"
        ) from None


def user_activity_job(executor: str = "default") -> dg.UnresolvedAssetJobDefinition:
    # In-process by default: the graph is small and I/O bound, and a process per step costs
    # seconds. Run config can still choose `execution: {config: {multiprocess: {}}}`; a
    # distributed executor takes its own config (broker, image, ...) the same way.
    default_config = (
        {"execution": {"config": {"in_process": {}}}} if executor == "default" else None
    )
    return dg.define_asset_job(
        name="user_activity_job",
        selection=dg.AssetSelection.all(),
        description="Fetch users and posts, count, join and rank, and write the reports.",
        executor_def=step_executor(executor),
        config=default_config,
        tags=REPORT_WRITER_TAG,  # job tags, not run_tags: `dagster job launch` copies only these
    )


def daily_schedule(
    job: dg.UnresolvedAssetJobDefinition, cron: str, timezone: str
) -> dg.ScheduleDefinition:
    return dg.ScheduleDefinition(
        name="user_activity_daily",
        job=job,
        cron_schedule=cron,
        execution_timezone=timezone,
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description="Refresh every report once a day (USER_ACTIVITY_SCHEDULE_CRON/_TZ).",
    )
