"""`logs/app.log`: one JSON object per line for step starts and ends, fetches, files and errors.

The lines are written by the project's own code (assets, IO managers), not by a Dagster logger,
because custom Dagster loggers only run when named in run config and instance-level handlers only
exist under one DAGSTER_HOME. This way every run writes the same lines: `dagster job execute`, the
UI, the schedule, tests, and each process of the multiprocess executor. Each line is one
`os.write` on a descriptor opened with O_APPEND, so concurrent processes never split or overwrite
each other's lines (the kernel serialises appends to a local file).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from user_activity.settings import Settings, log_dir_and_level

_logger = logging.getLogger("user_activity.app")
_logger.propagate = False
_lock = threading.Lock()


class JsonLineFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "run_id": getattr(record, "run_id", None),
            "asset": getattr(record, "asset", None),
            "event": getattr(record, "event", None),
            "message": record.getMessage(),
            **getattr(record, "fields", {}),
        }
        return json.dumps(entry, ensure_ascii=False, default=str)


def log_path() -> Path:
    return Path(log_dir_and_level()[0]) / "app.log"


class AppendLineHandler(logging.Handler):
    """Appends each formatted record as one line with a single write (no buffering)."""

    def __init__(self, path: Path):
        super().__init__()
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fd: int | None = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            data = (self.format(record) + "\n").encode("utf-8")
            while data:  # a regular file takes the whole line at once; loop only for safety
                data = data[os.write(self._fd, data) :]
        except Exception:
            self.handleError(record)

    def close(self) -> None:
        # Idempotent: logging may close a handler twice, and a second os.close of a number the
        # process has since reused would close someone else's file.
        fd, self._fd = self._fd, None
        if fd is not None:
            with contextlib.suppress(OSError):
                os.close(fd)
        super().close()


_handler: AppendLineHandler | None = None
_settings_logged_for: set[str] = set()


def _file_logger() -> logging.Logger:
    """The app logger, writing to the current log path (re-pointed when the setting changes)."""
    global _handler
    log_dir, level = log_dir_and_level()
    path = Path(log_dir) / "app.log"
    with _lock:
        if _handler is None or _handler.path != path:
            if _handler is not None:
                _logger.removeHandler(_handler)
                _handler.close()
            _handler = AppendLineHandler(path)
            _handler.setFormatter(JsonLineFormatter())
            _logger.addHandler(_handler)
        _logger.setLevel(level)
    return _logger


def log_settings_once(run_id: str) -> None:
    """The resolved settings (secrets masked), once per run in each process that runs steps.

    With the default in-process executor that is once per run; the multiprocess executor writes
    it once per step process, since each may have been started with its own environment.
    """
    with _lock:
        if run_id in _settings_logged_for:
            return
        _settings_logged_for.add(run_id)
    resolved = Settings.from_env().for_log()
    text = ", ".join(f"{name}={value}" for name, value in resolved.items())
    extra = {"run_id": run_id, "asset": None, "event": "settings", "fields": {"settings": resolved}}
    _file_logger().info(f"settings: {text}", extra=extra)


class AppLog:
    """Writes events of one run and asset to app.log, and their message to Dagster's log too
    (unless `to_dagster=False`)."""

    def __init__(
        self, run_id: str, asset: str, dagster_log: Any | None = None, check: str | None = None
    ):
        self.run_id = run_id
        self.asset = asset
        self.check = check
        self._dagster_log = dagster_log

    def event(
        self, level: int, event: str, message: str, to_dagster: bool = True, **fields: Any
    ) -> None:
        if self.check is not None:
            fields = {"check": self.check, **fields}
        extra = {"run_id": self.run_id, "asset": self.asset, "event": event, "fields": fields}
        _file_logger().log(level, message, extra=extra)
        if to_dagster and self._dagster_log is not None:
            self._dagster_log.log(level, message)

    def info(self, event: str, message: str, **fields: Any) -> None:
        self.event(logging.INFO, event, message, **fields)

    def error(self, event: str, message: str, **fields: Any) -> None:
        self.event(logging.ERROR, event, message, **fields)


@contextmanager
def logged_step(
    run_id: str, asset: str, dagster_log: Any | None = None, check: str | None = None
) -> Iterator[AppLog]:
    """Logs the start and the end of a step's work, or its error, with the seconds it took.

    For an asset check, `check` is its name: `asset` stays the checked asset and every line gets
    a `check` field, so app.log can be filtered either way. The start and the end go to app.log
    only: Dagster's own STEP_START and STEP_SUCCESS events (with the duration) already say so in
    its log, and each message there is a row written to the instance's event log (about 10 ms
    each with SQLite here): 34 rows in a real-data run (5 assets and 12 checks).
    """
    log_settings_once(run_id)
    log = AppLog(run_id, asset, dagster_log, check)
    step = asset if check is None else f"{asset} check {check}"
    log.event(logging.INFO, "step_start", f"{step}: started", to_dagster=False)
    started = time.perf_counter()
    try:
        yield log
    except Exception as error:
        seconds = round(time.perf_counter() - started, 3)
        log.error(
            "error",
            f"{step}: failed after {seconds}s: {type(error).__name__}: {error}",
            error=type(error).__name__,
            seconds=seconds,
        )
        raise
    seconds = round(time.perf_counter() - started, 3)
    log.event(
        logging.INFO,
        "step_end",
        f"{step}: finished in {seconds}s",
        to_dagster=False,
        seconds=seconds,
    )
