"""Every setting of the project, read from `USER_ACTIVITY_*` environment variables.

Each variable has a default, so nothing is required; a bad value fails when the definitions load,
with a message that names the variable. Relative paths are resolved against the project folder
(the one holding `pyproject.toml`), so the CLI, the UI and the daemon write to the same place
whatever directory they were started from.
"""

from __future__ import annotations

import os
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from dagster._utils.schedules import is_valid_cron_string

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SNAPSHOT_DIR = Path(__file__).resolve().parent / "snapshot"

DEFAULT_API_URL = "https://jsonplaceholder.typicode.com"

# name -> (default, meaning); the README's table of settings mirrors this.
DEFAULTS: dict[str, tuple[str, str]] = {
    "USER_ACTIVITY_API_URL": (DEFAULT_API_URL, "API base URL, a file:// URL or a folder"),
    "USER_ACTIVITY_DATA_DIR": ("data", "where the JSON and CSV files are written"),
    "USER_ACTIVITY_LOG_DIR": ("logs", "where app.log is written"),
    "USER_ACTIVITY_LOG_LEVEL": ("INFO", "lowest level written to app.log"),
    "USER_ACTIVITY_TOP_N": ("5", "default number of users in top_users"),
    "USER_ACTIVITY_CONNECT_TIMEOUT": ("5", "seconds to open a connection"),
    "USER_ACTIVITY_READ_TIMEOUT": ("30", "seconds to wait for each read from the server"),
    "USER_ACTIVITY_SCHEDULE_CRON": ("0 6 * * *", "cron of the user_activity_daily schedule"),
    "USER_ACTIVITY_SCHEDULE_TZ": ("UTC", "timezone of that cron"),
    "USER_ACTIVITY_CSV_BOM": ("false", "start CSV files with a UTF-8 byte-order mark for Excel"),
}


class SettingsError(ValueError):
    """A USER_ACTIVITY_* variable holds a value the project cannot use."""


@dataclass(frozen=True)
class Settings:
    api_url: str
    data_dir: str
    log_dir: str
    log_level: str
    top_n: int
    connect_timeout: float
    read_timeout: float
    schedule_cron: str
    schedule_tz: str
    csv_bom: bool = False

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ

        def raw(name: str) -> str:
            value = env.get(name, "").strip()
            return value if value else DEFAULTS[name][0]

        return cls(
            api_url=_api_url(raw("USER_ACTIVITY_API_URL")),
            data_dir=resolve_dir(raw("USER_ACTIVITY_DATA_DIR")),
            log_dir=resolve_dir(raw("USER_ACTIVITY_LOG_DIR")),
            log_level=_log_level(raw("USER_ACTIVITY_LOG_LEVEL")),
            top_n=_positive_int("USER_ACTIVITY_TOP_N", raw("USER_ACTIVITY_TOP_N")),
            connect_timeout=_positive_float(
                "USER_ACTIVITY_CONNECT_TIMEOUT", raw("USER_ACTIVITY_CONNECT_TIMEOUT")
            ),
            read_timeout=_positive_float(
                "USER_ACTIVITY_READ_TIMEOUT", raw("USER_ACTIVITY_READ_TIMEOUT")
            ),
            schedule_cron=_cron(raw("USER_ACTIVITY_SCHEDULE_CRON")),
            schedule_tz=_timezone(raw("USER_ACTIVITY_SCHEDULE_TZ")),
            csv_bom=_boolean("USER_ACTIVITY_CSV_BOM", raw("USER_ACTIVITY_CSV_BOM")),
        )


def resolve_dir(value: str) -> str:
    """An absolute local path for a relative one; URLs such as s3:// pass through unchanged."""
    if "://" in value:
        return value
    path = Path(value).expanduser()
    return str(path if path.is_absolute() else PROJECT_ROOT / path)


def _api_url(value: str) -> str:
    scheme = urlsplit(value).scheme
    if scheme in ("http", "https"):
        if not urlsplit(value).netloc:
            raise SettingsError(f"USER_ACTIVITY_API_URL has no host: {value!r}")
        return value.rstrip("/")
    if scheme == "file":
        return value
    if "://" not in value:
        return resolve_dir(value)  # a folder of <collection>.json files
    raise SettingsError(
        f"USER_ACTIVITY_API_URL must be an http(s):// or file:// URL or a folder, got {value!r}"
    )


def _positive_int(name: str, value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise SettingsError(f"{name} must be a whole number >= 1, got {value!r}") from None
    if number < 1:
        raise SettingsError(f"{name} must be a whole number >= 1, got {value!r}")
    return number


def _positive_float(name: str, value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise SettingsError(f"{name} must be a number of seconds > 0, got {value!r}") from None
    if not number > 0:
        raise SettingsError(f"{name} must be a number of seconds > 0, got {value!r}")
    return number


def _boolean(name: str, value: str) -> bool:
    choices = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}
    if value.lower() not in choices:
        raise SettingsError(f"{name} must be true or false (or 1/0, yes/no), got {value!r}")
    return choices[value.lower()]


def _log_level(value: str) -> str:
    level = value.upper()
    if level not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
        raise SettingsError(
            "USER_ACTIVITY_LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL, "
            f"got {value!r}"
        )
    return level


def _cron(value: str) -> str:
    if not is_valid_cron_string(value):
        raise SettingsError(f"USER_ACTIVITY_SCHEDULE_CRON is not a valid cron string: {value!r}")
    return value


def _timezone(value: str) -> str:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise SettingsError(
            f"USER_ACTIVITY_SCHEDULE_TZ is not a known timezone: {value!r}"
        ) from None
    return value
