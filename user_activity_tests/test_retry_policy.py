"""Backoff waits and Retry-After parsing, as pure functions."""

import random
from datetime import datetime, timezone

import pytest

from user_activity.retry_policy import RETRY_STATUSES, Backoff, parse_retry_after

NOW = datetime(2026, 12, 3, 12, 0, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("0", 0.0),
        ("7", 7.0),
        (" 12 ", 12.0),  # surrounding blanks are tolerated
        ("1.5", 1.5),  # not RFC, but harmless to honour
        ("Thu, 03 Dec 2026 12:00:05 GMT", 5.0),  # an HTTP date 5 s after NOW
        ("Thursday, 03-Dec-26 12:01:00 GMT", 60.0),  # the obsolete RFC 850 form
        ("Thu, 03 Dec 2026 11:59:00 GMT", 0.0),  # in the past: no wait
        ("-3", None),  # negative: ignored, backoff applies
        ("soon", None),
        ("", None),
    ],
)
def test_parse_retry_after(value, seconds):
    assert parse_retry_after(value, NOW) == seconds


class FixedRandom(random.Random):
    """uniform() returns its upper bound, so the jittered wait is at its maximum."""

    def uniform(self, a, b):
        return b


@pytest.mark.parametrize(
    ("retry", "lowest", "highest"),
    [
        (1, 0.25, 0.5),  # base 0.5: half fixed, half jitter
        (2, 0.5, 1.0),  # doubled
        (3, 1.0, 2.0),
        (5, 4.0, 8.0),
        (6, 5.0, 10.0),  # 16 s is capped at the 10 s maximum
        (9, 5.0, 10.0),
    ],
)
def test_backoff_doubles_with_equal_jitter_up_to_the_maximum(retry, lowest, highest):
    backoff = Backoff(retries=9, base=0.5, maximum=10.0)
    assert backoff.delay(retry, rng=FixedRandom()) == highest
    waits = {backoff.delay(retry, rng=random.Random(seed)) for seed in range(50)}
    assert all(lowest <= wait <= highest for wait in waits)
    assert len(waits) > 1  # jitter: clients failing together do not retry together


@pytest.mark.parametrize(
    ("retry_after", "wait"),
    [
        ("3", 3.0),  # honoured
        ("30", 30.0),  # exactly the cap
        ("3600", 30.0),  # capped
        ("Thu, 03 Dec 2026 13:00:00 GMT", 30.0),  # an hour away: capped
        ("Thu, 03 Dec 2026 12:00:02 GMT", 2.0),
        ("garbage", 0.5),  # unreadable: backoff applies (retry 1, FixedRandom: 0.5)
    ],
)
def test_retry_after_replaces_backoff_up_to_the_cap(retry_after, wait):
    backoff = Backoff(base=0.5, retry_after_cap=30.0)
    assert backoff.delay(1, retry_after, FixedRandom(), NOW) == wait


def test_retryable_statuses():
    assert sorted(RETRY_STATUSES) == [429, 500, 502, 503, 504]
