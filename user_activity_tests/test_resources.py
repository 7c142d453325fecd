"""The API client resource against the loopback server: timeouts, deadline, retries, credentials.

Timeouts and backoff are shrunk through the resource's config so the suite stays fast; each
expected wait is stated with why it holds.
"""

import time
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import dagster as dg
import pytest

from user_activity.resources import USER_AGENT, ApiError, JsonPlaceholderResource
from user_activity.settings import SNAPSHOT_DIR
from user_activity_tests.conftest import REAL_DATA
from user_activity_tests.fake_api import FakeApi, Scripted

# Short enough for a fast suite, long enough that loopback answers are never mistaken for stalls.
FAST = {
    "connect_timeout": 0.5,
    "read_timeout": 0.5,
    "deadline": 5.0,
    "retries": 3,
    "backoff_base": 0.01,
    "backoff_max": 0.05,
    "retry_after_cap": 0.2,
}
JSON = {"Content-Type": "application/json; charset=utf-8"}


def fetch(
    base_url: str,
    collection: str,
    notes: list | None = None,
    warnings: list | None = None,
    **config,
):
    resource = JsonPlaceholderResource(base_url=base_url, **{**FAST, **config})
    with dg.build_resources({"api": resource}) as res:
        return res.api.fetch(
            collection,
            on_retry=None if notes is None else notes.append,
            on_warning=None if warnings is None else warnings.append,
        )


def failure(base_url: str, collection: str, notes: list | None = None, **config) -> str:
    with pytest.raises(ApiError) as error:
        fetch(base_url, collection, notes, **config)
    return str(error.value)


def test_fetch_users_over_http(api, real_data):
    fetched = fetch(api.url, "users")
    assert fetched.records == real_data["users"]
    assert (fetched.url, fetched.status, fetched.source) == (f"{api.url}/users", 200, "network")
    request = api.requests[-1]
    assert request.path == "/users"
    assert request.headers["user-agent"] == USER_AGENT
    assert USER_AGENT.startswith("user_activity/0.1.0 ")
    assert "authorization" not in request.headers  # no token set


def test_fetch_from_bundled_snapshot_folder_and_file_url(real_data):
    assert fetch(str(SNAPSHOT_DIR), "posts").records == real_data["posts"]
    by_url = fetch(SNAPSHOT_DIR.as_uri(), "users")
    assert by_url.records == real_data["users"]
    assert by_url.url == (SNAPSHOT_DIR / "users.json").as_uri()


def test_missing_offline_file_names_the_path(tmp_path):
    message = failure(str(tmp_path), "users")
    assert message == f"cannot read {tmp_path / 'users.json'}: No such file or directory"


def test_http_404_fails_at_once_with_url_status_and_body(api):
    assert failure(api.url, "nothing") == (
        f"GET {api.url}/nothing failed: status 404, "
        "content type application/json; charset=utf-8, body starts '{}'"
    )
    assert len(api.requests) == 1  # a 4xx other than 429 is never retried


@pytest.mark.parametrize("status", [400, 401, 403, 410, 422])
def test_other_4xx_are_not_retried(api, status):
    api.script("/users", Scripted(status, b'{"error": "no"}', JSON))
    assert failure(api.url, "users") == (
        f"GET {api.url}/users failed: status {status}, "
        """content type application/json; charset=utf-8, body starts '{"error": "no"}'"""
    )
    assert len(api.requests) == 1


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
def test_each_retryable_status_is_retried(api, real_data, status):
    api.script("/users", Scripted(status, b"busy", {"Content-Type": "text/plain"}))
    notes = []
    assert fetch(api.url, "users", notes).records == real_data["users"]
    assert len(api.requests) == 2
    assert [(n.attempt, n.problem) for n in notes] == [
        (1, f"status {status}, content type text/plain, body starts 'busy'")
    ]


def test_503_503_200_succeeds_on_the_third_try(api, real_data):
    api.script("/users", Scripted(503), Scripted(503))
    notes = []
    assert fetch(api.url, "users", notes).records == real_data["users"]
    assert len(api.requests) == 3
    # equal jitter: retry n waits between half and all of min(0.05, 0.01 * 2**(n-1))
    assert [n.attempt for n in notes] == [1, 2]
    assert 0.005 <= notes[0].delay <= 0.01
    assert 0.01 <= notes[1].delay <= 0.02


def test_endless_503_fails_with_the_last_status(api):
    api.script("/users", *[Scripted(503, b"<h1>busy</h1>", {"Content-Type": "text/html"})] * 3)
    assert failure(api.url, "users", retries=2) == (
        f"GET {api.url}/users failed after 3 attempts: "
        "status 503, content type text/html, body starts '<h1>busy</h1>'"
    )
    assert len(api.requests) == 3


def _retry_delay(api, retry_after: str, **config) -> float:
    api.script("/users", Scripted(429, b"", {"Retry-After": retry_after}))
    notes = []
    fetch(api.url, "users", notes, **config)
    assert len(notes) == 1
    return notes[0].delay


def test_retry_after_seconds_is_honoured(api):
    started = time.monotonic()
    assert _retry_delay(api, "1", retry_after_cap=30) == 1.0
    assert time.monotonic() - started >= 1.0


def test_retry_after_over_the_cap_waits_the_cap(api):
    assert _retry_delay(api, "120") == 0.2  # FAST caps at 0.2 s


def test_retry_after_as_a_date(api):
    future = format_datetime(datetime.now(timezone.utc) + timedelta(hours=1), usegmt=True)
    assert _retry_delay(api, future) == 0.2  # an hour away: capped
    assert _retry_delay(api, "Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # in the past: no wait


def test_retry_after_longer_than_the_deadline_fails_at_once(api):
    api.script("/users", Scripted(503, b"", {"Retry-After": "10"}))
    started = time.monotonic()
    message = failure(api.url, "users", retry_after_cap=30, deadline=1.0)
    assert message == (
        f"GET {api.url}/users: timeout: the fetch deadline of 1s is reached after 1 attempt "
        "(last: status 503, content type none, body starts '')"
    )
    assert time.monotonic() - started < 0.5  # no point sleeping past the deadline


def test_slow_answer_times_out_and_is_retried(api, real_data):
    api.script("/users", Scripted(200, b"[]", JSON, delay=1.0))
    notes = []
    assert fetch(api.url, "users", notes, read_timeout=0.2).records == real_data["users"]
    assert [n.problem for n in notes] == ["timeout"]


def test_read_timeout_with_no_retries_names_url_and_timeout(api):
    api.script("/users", Scripted(200, b"[]", JSON, delay=1.0))
    message = failure(api.url, "users", read_timeout=0.2, retries=0)
    assert message == f"GET {api.url}/users failed after 1 attempt: timeout"


@pytest.mark.parametrize(
    ("stall", "deadline", "last"),
    [
        # accepts the connection and never answers (within the 30 s read timeout)
        (Scripted(200, b"[]", JSON, delay=3.0), 0.5, "timeout"),
        # a byte every 0.05 s never trips the read timeout; only the deadline stops it
        (
            Scripted(200, (REAL_DATA / "users.json").read_bytes(), JSON, trickle=0.05),
            0.6,
            "timeout while reading the body",
        ),
    ],
    ids=["never answers", "trickles"],
)
def test_a_stalling_server_fails_within_the_deadline(api, stall, deadline, last):
    api.script("/users", *[stall] * 4)
    fetch(api.url, "posts")  # warm up: the first resource build of a session costs ~1 s
    started = time.monotonic()
    message = failure(api.url, "users", read_timeout=30, deadline=deadline)
    elapsed = time.monotonic() - started
    assert message == (
        f"GET {api.url}/users: timeout: the fetch deadline of {deadline}s is reached after "
        f"1 attempt (last: {last})"
    )
    # the margin absorbs a busy machine; without the deadline this takes 3 s, or over a minute
    # for the trickle (about 1.5 kB gzipped, at 20 bytes a second)
    assert deadline <= elapsed < deadline + 1.0


def test_refused_connection_names_the_url():
    assert failure("http://127.0.0.1:9", "users", retries=1) == (
        "GET http://127.0.0.1:9/users failed after 2 attempts: cannot connect: "
        "HTTPConnection(host='127.0.0.1', port=9): Failed to establish a new connection: "
        "[Errno 111] Connection refused"
    )


TOKEN = "tok-9f8e7d6c5b4a"


def test_token_goes_as_bearer_to_the_configured_host(api, monkeypatch):
    monkeypatch.setenv("USER_ACTIVITY_API_TOKEN", TOKEN)
    fetch(api.url, "users")
    assert api.requests[-1].headers["authorization"] == f"Bearer {TOKEN}"


def test_token_in_a_custom_header(api, monkeypatch):
    monkeypatch.setenv("USER_ACTIVITY_API_TOKEN", TOKEN)
    fetch(api.url, "users", credential_header="X-Api-Key")
    assert api.requests[-1].headers["x-api-key"] == TOKEN
    assert "authorization" not in api.requests[-1].headers


@pytest.mark.parametrize("header", ["Authorization", "X-Api-Key"])
def test_token_is_not_sent_to_another_host_on_redirect(api, monkeypatch, real_data, header):
    other = FakeApi(real_data).start()
    try:
        monkeypatch.setenv("USER_ACTIVITY_API_TOKEN", TOKEN)
        api.script("/users", Scripted(302, b"", {"Location": f"{other.url}/users"}))
        assert fetch(api.url, "users", credential_header=header).records == real_data["users"]
        assert header.lower() in api.requests[-1].headers
        assert [r.path for r in other.requests] == ["/users"]
        assert header.lower() not in other.requests[0].headers
    finally:
        other.stop()


def test_token_echoed_by_the_server_is_scrubbed_from_the_error(api, monkeypatch):
    monkeypatch.setenv("USER_ACTIVITY_API_TOKEN", TOKEN)
    api.script(
        "/users", Scripted(401, f"bad token {TOKEN}".encode(), {"Content-Type": "text/plain"})
    )
    assert failure(api.url, "users") == (
        f"GET {api.url}/users failed: status 401, content type text/plain, "
        "body starts 'bad token ***'"
    )


def test_urls_are_shown_without_query_or_user_info(api):
    api.script("/users", Scripted(404, b"{}", JSON))
    base = api.url.replace("http://", "http://me:pw@")
    assert failure(base, "users").startswith(f"GET {api.url}/users failed: status 404")
