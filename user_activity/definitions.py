"""The code location: assets, resources, IO managers, job and schedule, configured from env vars."""

from __future__ import annotations

import dagster as dg

from user_activity import assets
from user_activity.io_managers import CsvIOManager, JsonAndCsvIOManager, JsonIOManager
from user_activity.jobs import daily_schedule, user_activity_job
from user_activity.resources import JsonPlaceholderResource
from user_activity.settings import Settings


def build_definitions(settings: Settings) -> dg.Definitions:
    return dg.Definitions(
        assets=dg.load_assets_from_modules([assets]),
        jobs=[user_activity_job],
        schedules=[daily_schedule(settings.schedule_cron, settings.schedule_tz)],
        resources={
            "api": JsonPlaceholderResource(
                base_url=settings.api_url,
                connect_timeout=settings.connect_timeout,
                read_timeout=settings.read_timeout,
            ),
            "json_io_manager": JsonIOManager(base_dir=settings.data_dir),
            "csv_io_manager": CsvIOManager(base_dir=settings.data_dir, bom=settings.csv_bom),
            "report_io_manager": JsonAndCsvIOManager(
                base_dir=settings.data_dir, csv_bom=settings.csv_bom
            ),
        },
    )


defs = build_definitions(Settings.from_env())
