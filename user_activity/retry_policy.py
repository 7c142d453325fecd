"""When an HTTP request is worth retrying, and how long to wait first; free of Dagster.

Waits grow exponentially with "equal jitter" (half fixed, half random) so that many clients
failing together do not retry in lockstep. A server's `Retry-After` (seconds or an HTTP date)
replaces the computed wait, but never beyond a cap: a server asking for an hour must not stall
a daily job.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime

# Worth another try: rate limited, or a server/gateway error that is usually transient.
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


def parse_retry_after(value: str, now: datetime | None = None) -> float | None:
    """Seconds to wait from a `Retry-After` value (delta-seconds or HTTP date); None if unreadable.

    A date in the past means no wait.
    """
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return seconds if seconds >= 0 else None
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    now = now or datetime.now(timezone.utc)
    return max(0.0, (when - now).total_seconds())


@dataclass(frozen=True)
class Backoff:
    """How many times to retry one request, and the waits between tries."""

    retries: int = 3
    base: float = 0.5
    maximum: float = 10.0
    retry_after_cap: float = 30.0

    def delay(
        self,
        retry: int,
        retry_after: str | None = None,
        rng: random.Random | None = None,
        now: datetime | None = None,
    ) -> float:
        """Seconds to wait before retry number `retry` (1 for the first retry)."""
        if retry_after:
            asked = parse_retry_after(retry_after, now)
            if asked is not None:
                return min(asked, self.retry_after_cap)
        ceiling = min(self.maximum, self.base * 2 ** (retry - 1))
        return ceiling / 2 + (rng or random).uniform(0, ceiling / 2)
