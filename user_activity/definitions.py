"""The code location: assets, checks, resources, IO managers, job and schedule, from env vars."""

from __future__ import annotations

import dagster as dg

from user_activity import assets, checks
from user_activity.io_managers import CsvIOManager, JsonAndCsvIOManager, JsonIOManager
from user_activity.jobs import daily_schedule, user_activity_job
from user_activity.resources import JsonPlaceholderResource
from user_activity.settings import Settings


def build_definitions(settings: Settings) -> dg.Definitions:
    job = user_activity_job(settings.executor)
    return dg.Definitions(
        assets=dg.load_assets_from_modules([assets]),
        asset_checks=dg.load_asset_checks_from_modules([checks]),
        jobs=[job],
        # UI materializations (the implicit asset job) run in one process like user_activity_job:
        # a process per step costs seconds and would log the settings once per step.
        executor=dg.in_process_executor,
        schedules=[daily_schedule(job, settings.schedule_cron, settings.schedule_tz)],
        resources={
            "api": JsonPlaceholderResource(
                base_url=settings.api_url,
                connect_timeout=settings.connect_timeout,
                read_timeout=settings.read_timeout,
                deadline=settings.deadline,
                retries=settings.retries,
                backoff_base=settings.backoff,
                retry_after_cap=settings.retry_after_cap,
                page_size=settings.page_size,
                paging=settings.paging,
                cache_dir=f"{settings.data_dir.rstrip('/')}/.cache",
                credential_header=settings.token_header,
                cache_policy=settings.cache_policy,
            ),
            "json_io_manager": JsonIOManager(base_dir=settings.data_dir),
            "csv_io_manager": CsvIOManager(base_dir=settings.data_dir, bom=settings.csv_bom),
            "report_io_manager": JsonAndCsvIOManager(
                base_dir=settings.data_dir, csv_bom=settings.csv_bom
            ),
        },
    )


defs = build_definitions(Settings.from_env())
