"""The schedule across daylight-saving changes, with the tick iterator Dagster's scheduler uses.

America/New_York springs forward on 2025-03-09 (02:00 EST -> 03:00 EDT, so 02:30 does not exist)
and falls back on 2025-11-02 (02:00 EDT -> 01:00 EST, so 01:00-01:59 happens twice). Dagster's
documented behaviour is one run per day: a time that does not exist runs at the next time that
does (03:00), and a time that happens twice runs once. Which of its two occurrences is not what
one might guess: Dagster 1.13.27 ticks at the second one (standard time), pinned below.
"""

from datetime import datetime
from itertools import islice
from zoneinfo import ZoneInfo

import pytest
from dagster._utils.schedules import schedule_execution_time_iterator

from user_activity.definitions import build_definitions
from user_activity.settings import Settings

NEW_YORK = ZoneInfo("America/New_York")


def ticks(cron: str, first_day: str, count: int) -> list[str]:
    """The next `count` tick times (UTC, ISO) of the project's schedule from `first_day` 00:00."""
    settings = Settings.from_env(
        {"USER_ACTIVITY_SCHEDULE_CRON": cron, "USER_ACTIVITY_SCHEDULE_TZ": "America/New_York"}
    )
    schedule = build_definitions(settings).resolve_schedule_def("user_activity_daily")
    start = datetime.fromisoformat(f"{first_day}T00:00").replace(tzinfo=NEW_YORK).timestamp()
    # the function behind RemoteSchedule.execution_time_iterator, which the scheduler daemon ticks
    times = schedule_execution_time_iterator(
        start, schedule.cron_schedule, schedule.execution_timezone
    )
    return [t.isoformat() for t in islice(times, count)]


@pytest.mark.parametrize(
    ("cron", "first_day", "expected"),
    [
        # spring forward: 02:30 does not exist on 03-09, so that day's run is at 03:00 EDT
        (
            "30 2 * * *",
            "2025-03-08",
            ["2025-03-08T02:30:00-05:00", "2025-03-09T03:00:00-04:00", "2025-03-10T02:30:00-04:00"],
        ),
        # fall back: 02:30 happens once (after 01:59 EDT comes 01:00 EST), one run at 02:30 EST
        (
            "30 2 * * *",
            "2025-11-01",
            ["2025-11-01T02:30:00-04:00", "2025-11-02T02:30:00-05:00", "2025-11-03T02:30:00-05:00"],
        ),
        # a time that happens twice (01:30 on 11-02) runs once, at the second occurrence (EST)
        (
            "30 1 * * *",
            "2025-11-01",
            ["2025-11-01T01:30:00-04:00", "2025-11-02T01:30:00-05:00", "2025-11-03T01:30:00-05:00"],
        ),
    ],
)
def test_daily_ticks_across_dst_changes(cron, first_day, expected):
    assert ticks(cron, first_day, 3) == expected
