"""Every setting of the project, read from `USER_ACTIVITY_*` environment variables.

Each variable has a default, so nothing is required; a bad value fails when the definitions load,
with a message that names the variable. Relative paths are resolved against the project folder
(the one holding `pyproject.toml`), so the CLI, the UI and the daemon write to the same place
whatever directory they were started from.

`.env` in the project folder (or the file named by USER_ACTIVITY_ENV_FILE) is read when the
package is imported, by every entry point (CLI, `dagster dev`, webserver, daemon, run workers),
and its values override exported variables. That is the precedence Dagster itself gives the
`.env` of the current directory, so a value behaves the same whichever folder a command was
started from: project `.env` > `.env` in the current directory > exported environment.
"""

from __future__ import annotations

import os
import re
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit, urlunsplit

from dagster._utils.schedules import is_valid_cron_string
from dotenv import dotenv_values

from user_activity.pagination import PAGING_MODES

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SNAPSHOT_DIR = Path(__file__).resolve().parent / "snapshot"

DEFAULT_API_URL = "https://jsonplaceholder.typicode.com"

# refresh: conditional request (If-None-Match / If-Modified-Since); force: ignore the validators;
# cache-only: no network, the last good response (fails when there is none).
CachePolicy = Literal["refresh", "force", "cache-only"]
CACHE_POLICIES: tuple[str, ...] = ("refresh", "force", "cache-only")

# name -> (default, meaning); the README's table of settings mirrors this.
DEFAULTS: dict[str, tuple[str, str]] = {
    "USER_ACTIVITY_API_URL": (DEFAULT_API_URL, "API base URL, a file:// URL or a folder"),
    "USER_ACTIVITY_DATA_DIR": ("data", "where the JSON and CSV files are written"),
    "USER_ACTIVITY_LOG_DIR": ("logs", "where app.log is written"),
    "USER_ACTIVITY_LOG_LEVEL": ("INFO", "lowest level written to app.log"),
    "USER_ACTIVITY_TOP_N": ("5", "default number of users in top_users"),
    "USER_ACTIVITY_CONNECT_TIMEOUT": ("5", "seconds to open a connection"),
    "USER_ACTIVITY_READ_TIMEOUT": ("30", "seconds to wait for each read from the server"),
    "USER_ACTIVITY_DEADLINE": ("60", "seconds for a whole fetch: every page, retry and wait"),
    "USER_ACTIVITY_RETRIES": (
        "3",
        "retries after a timeout, a broken connection, 429, 500, 502, 503 or 504",
    ),
    "USER_ACTIVITY_BACKOFF": ("0.5", "first wait before a retry, doubled each time (jittered)"),
    "USER_ACTIVITY_RETRY_AFTER_CAP": ("30", "longest wait a Retry-After header can ask for"),
    "USER_ACTIVITY_PAGE_SIZE": ("0", "records per page; 0 = one request per collection"),
    "USER_ACTIVITY_PAGING": ("page", "page (_page/_limit, Link) or offset (_start/_limit)"),
    "USER_ACTIVITY_CACHE_POLICY": ("refresh", "refresh (conditional), force or cache-only"),
    # Read by the API resource when a run starts, never stored in Settings or config.
    "USER_ACTIVITY_API_TOKEN": ("", "API token sent to the API host only; none when empty"),
    "USER_ACTIVITY_API_TOKEN_HEADER": ("Authorization", "header for the token"),
    "USER_ACTIVITY_SCHEDULE_CRON": ("0 6 * * *", "cron of the user_activity_daily schedule"),
    "USER_ACTIVITY_SCHEDULE_TZ": ("UTC", "timezone of that cron"),
    "USER_ACTIVITY_CSV_BOM": ("false", "start CSV files with a UTF-8 byte-order mark for Excel"),
    "USER_ACTIVITY_EXECUTOR": ("default", "where steps run: default (in-process), celery or k8s"),
    "USER_ACTIVITY_ENV_FILE": (".env", "dotenv file read at start; its values win over exported"),
}
# Variables whose values never reach a log: names ending in one of these words
# (USER_ACTIVITY_API_TOKEN is masked, USER_ACTIVITY_API_TOKEN_HEADER is not).
SECRET_WORDS = ("TOKEN", "SECRET", "PASSWORD", "KEY")
MASK = "***"


# USER_ACTIVITY_EXECUTOR's choices; jobs.py maps the distributed ones to their executors.
EXECUTORS = ("default", "celery", "k8s")


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
    env_file: str
    deadline: float = 60.0
    retries: int = 3
    backoff: float = 0.5
    retry_after_cap: float = 30.0
    page_size: int = 0
    paging: str = "page"
    cache_policy: str = "refresh"
    token_header: str = "Authorization"
    csv_bom: bool = False
    executor: str = "default"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        def raw(name: str) -> str:
            return setting(name, environ)

        return cls(
            api_url=_api_url(raw("USER_ACTIVITY_API_URL")),
            data_dir=resolve_dir(raw("USER_ACTIVITY_DATA_DIR")),
            log_dir=resolve_dir(raw("USER_ACTIVITY_LOG_DIR")),
            log_level=_log_level(raw("USER_ACTIVITY_LOG_LEVEL")),
            top_n=default_top_n(environ),
            connect_timeout=_seconds(
                "USER_ACTIVITY_CONNECT_TIMEOUT", raw("USER_ACTIVITY_CONNECT_TIMEOUT")
            ),
            read_timeout=_seconds("USER_ACTIVITY_READ_TIMEOUT", raw("USER_ACTIVITY_READ_TIMEOUT")),
            schedule_cron=_cron(raw("USER_ACTIVITY_SCHEDULE_CRON")),
            schedule_tz=_timezone(raw("USER_ACTIVITY_SCHEDULE_TZ")),
            env_file=resolve_dir(raw("USER_ACTIVITY_ENV_FILE")),
            deadline=_seconds("USER_ACTIVITY_DEADLINE", raw("USER_ACTIVITY_DEADLINE")),
            retries=_whole_number("USER_ACTIVITY_RETRIES", raw("USER_ACTIVITY_RETRIES"), 0),
            backoff=_seconds(
                "USER_ACTIVITY_BACKOFF", raw("USER_ACTIVITY_BACKOFF"), zero_allowed=True
            ),
            retry_after_cap=_seconds(
                "USER_ACTIVITY_RETRY_AFTER_CAP",
                raw("USER_ACTIVITY_RETRY_AFTER_CAP"),
                zero_allowed=True,
            ),
            page_size=_whole_number("USER_ACTIVITY_PAGE_SIZE", raw("USER_ACTIVITY_PAGE_SIZE"), 0),
            paging=_choice("USER_ACTIVITY_PAGING", raw("USER_ACTIVITY_PAGING"), PAGING_MODES),
            cache_policy=_choice(
                "USER_ACTIVITY_CACHE_POLICY", raw("USER_ACTIVITY_CACHE_POLICY"), CACHE_POLICIES
            ),
            token_header=_header_name(raw("USER_ACTIVITY_API_TOKEN_HEADER")),
            csv_bom=_boolean("USER_ACTIVITY_CSV_BOM", raw("USER_ACTIVITY_CSV_BOM")),
            executor=_choice(
                "USER_ACTIVITY_EXECUTOR",
                raw("USER_ACTIVITY_EXECUTOR"),
                EXECUTORS,
            ),
        )

    def for_log(self, environ: Mapping[str, str] | None = None) -> dict[str, str]:
        """Every setting by variable name, as resolved, with secrets masked.

        A variable without a field of the same name (after the prefix) shows its raw value.
        """
        env = os.environ if environ is None else environ
        shown = {}
        for name, (default, _) in DEFAULTS.items():
            field = name.removeprefix("USER_ACTIVITY_").lower()
            value = getattr(self, field) if hasattr(self, field) else env.get(name) or default
            text = str(value).lower() if isinstance(value, bool) else str(value).strip()
            shown[name] = mask(name, text)
        return shown


def mask(name: str, value: str) -> str:
    """`***` for a secret variable, and for the password of a URL with credentials."""
    if name.upper().rsplit("_", 1)[-1] in SECRET_WORDS:
        return MASK if value else ""
    parts = urlsplit(value)
    if parts.password:
        host = parts.netloc.rsplit("@", 1)[1]
        return urlunsplit(parts._replace(netloc=f"{parts.username}:{MASK}@{host}"))
    return value


def load_env_file(environ: os._Environ | dict[str, str] | None = None) -> Path:
    """Copies the project's `.env` (or USER_ACTIVITY_ENV_FILE) into the environment.

    Its values override exported ones, as Dagster does with the `.env` of the current folder.
    A missing default `.env` is fine (every setting has a default); a missing file named
    explicitly is a mistake worth stopping for.
    """
    env = os.environ if environ is None else environ
    named = env.get("USER_ACTIVITY_ENV_FILE", "").strip()
    path = Path(resolve_dir(named or DEFAULTS["USER_ACTIVITY_ENV_FILE"][0]))
    if not path.exists() or path.is_dir():
        if named:
            raise SettingsError(f"USER_ACTIVITY_ENV_FILE names no file: {named!r}")
        return path
    for name, value in dotenv_values(path).items():
        if value is not None:
            env[name] = value
    return path


def setting(name: str, environ: Mapping[str, str] | None = None) -> str:
    """The raw value of one variable: stripped, and its default when unset or blank."""
    env = os.environ if environ is None else environ
    return env.get(name, "").strip() or DEFAULTS[name][0]


def log_dir_and_level(environ: Mapping[str, str] | None = None) -> tuple[str, str]:
    """The two settings app.log needs, parsed as Settings does (cheap enough for every line)."""
    return (
        resolve_dir(setting("USER_ACTIVITY_LOG_DIR", environ)),
        _log_level(setting("USER_ACTIVITY_LOG_LEVEL", environ)),
    )


def default_top_n(environ: Mapping[str, str] | None = None) -> int:
    return _whole_number("USER_ACTIVITY_TOP_N", setting("USER_ACTIVITY_TOP_N", environ), 1)


def resolve_dir(value: str) -> str:
    """An absolute, normalized local path for a relative one (so `../d` and `/abs/d` name the
    same folder in logs and in the output settings an unchanged refresh compares; symlinks are
    kept as written); URLs such as s3:// pass through unchanged."""
    if "://" in value:
        return value
    path = Path(value).expanduser()
    return os.path.normpath(path if path.is_absolute() else PROJECT_ROOT / path)


def _api_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme in ("http", "https"):
        if not parts.hostname:
            raise SettingsError(f"USER_ACTIVITY_API_URL has no host: {value!r}")
        # requests would send URL credentials as Basic auth instead of the token, and a query
        # would end up in front of the collection's path and in the logs
        if parts.username or parts.password:
            raise SettingsError(
                "USER_ACTIVITY_API_URL must not hold credentials; set USER_ACTIVITY_API_TOKEN"
            )
        if parts.query or parts.fragment:
            raise SettingsError(
                "USER_ACTIVITY_API_URL must not have a query or fragment; for an API key set "
                "USER_ACTIVITY_API_TOKEN (and USER_ACTIVITY_API_TOKEN_HEADER)"
            )
        try:
            parts.port  # noqa: B018 (urlsplit checks the port only when asked)
        except ValueError:
            raise SettingsError(f"USER_ACTIVITY_API_URL has an invalid port: {value!r}") from None
        return value.rstrip("/")
    if parts.scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise SettingsError(
                "USER_ACTIVITY_API_URL: a file:// URL needs an absolute path (file:///path), "
                f"got {value!r}"
            )
        return value
    if "://" not in value:
        folder = resolve_dir(value)  # a folder of <collection>.json files
        if not Path(folder).is_dir():
            raise SettingsError(
                f"USER_ACTIVITY_API_URL is neither an http(s):// or file:// URL nor an existing "
                f"folder: {value!r}"
            )
        return folder
    raise SettingsError(
        f"USER_ACTIVITY_API_URL must be an http(s):// or file:// URL or a folder, got {value!r}"
    )


def _whole_number(name: str, value: str, minimum: int) -> int:
    message = f"{name} must be a whole number >= {minimum}, got {value!r}"
    if not value.isascii() or not value.lstrip("-").isdigit():  # int() would take "1_0" or " 1"
        raise SettingsError(message)
    number = int(value)
    if number < minimum:
        raise SettingsError(message)
    return number


def _seconds(name: str, value: str, zero_allowed: bool = False) -> float:
    message = f"{name} must be a number of seconds {'>=' if zero_allowed else '>'} 0, got {value!r}"
    try:
        number = float(value)
    except ValueError:
        raise SettingsError(message) from None
    # NaN fails both comparisons; infinity is no timeout the socket layer accepts
    if not (number >= 0 if zero_allowed else number > 0) or number == float("inf"):
        raise SettingsError(message)
    return number


def _choice(name: str, value: str, choices: tuple[str, ...]) -> str:
    value = value.lower() if value.lower() in choices else value  # PAGE means page
    if value not in choices:
        raise SettingsError(f"{name} must be one of {', '.join(choices)}, got {value!r}")
    return value


def _header_name(value: str) -> str:
    # RFC 9110 token characters; anything else would be rejected by requests mid-run.
    if not re.fullmatch(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+", value):
        raise SettingsError(f"USER_ACTIVITY_API_TOKEN_HEADER is not a header name: {value!r}")
    return value


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
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):  # "America" is a folder
        raise SettingsError(
            f"USER_ACTIVITY_SCHEDULE_TZ is not a known timezone: {value!r}"
        ) from None
    return value
