"""The job over the whole graph and its daily schedule."""

from __future__ import annotations

import dagster as dg

# Runs carry this tag so the instance's run queue (dagster.yaml) starts one at a time.
REPORT_WRITER_TAG = {"user_activity/writes": "reports"}

# In-process by default: the graph is small and I/O bound, and a process per step costs seconds.
# Run config can still choose `execution: {config: {multiprocess: {}}}`.
user_activity_job = dg.define_asset_job(
    name="user_activity_job",
    selection=dg.AssetSelection.all(),
    description="Fetch users and posts, count, join and rank, and write the reports.",
    executor_def=dg.multi_or_in_process_executor,
    config={"execution": {"config": {"in_process": {}}}},
    tags=REPORT_WRITER_TAG,  # job tags, not run_tags: `dagster job launch` copies only these
)


def daily_schedule(cron: str, timezone: str) -> dg.ScheduleDefinition:
    return dg.ScheduleDefinition(
        name="user_activity_daily",
        job=user_activity_job,
        cron_schedule=cron,
        execution_timezone=timezone,
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description="Refresh every report once a day (USER_ACTIVITY_SCHEDULE_CRON/_TZ).",
    )
