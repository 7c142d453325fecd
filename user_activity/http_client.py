"""One GET with timeouts, an overall deadline, retries, redirects and credentials; no Dagster.

requests' read timeout applies to each socket read, so a server trickling a byte a second never
trips it; a watchdog therefore closes the connection when the fetch's deadline passes.
Redirects are followed here rather than by requests so that the credential header is decided
per URL: it goes only to the configured host.
"""

from __future__ import annotations

import contextlib
import random
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import requests
import urllib3

from user_activity.api_records import describe_body
from user_activity.retry_policy import RETRY_STATUSES, Backoff

MAX_REDIRECTS = 5
_DEFAULT_PORTS = {"http": 80, "https": 443}


class ApiError(RuntimeError):
    """The API (or the offline folder) did not give a usable collection."""


def redact_url(url: str) -> str:
    """The URL without user info or query string, as shown in logs and messages."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return f"{parts.scheme}://{host}{parts.path}"


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    return (parts.scheme, parts.hostname or "", parts.port or _DEFAULT_PORTS.get(parts.scheme))


class Deadline:
    """The time left for one whole fetch (every page, retry and wait)."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self._ends = time.monotonic() + seconds

    def remaining(self) -> float:
        return self._ends - time.monotonic()


@dataclass(frozen=True)
class RetryNote:
    """A failed try that will be retried, for the caller to log."""

    url: str  # redacted
    attempt: int
    problem: str
    delay: float


@dataclass(frozen=True)
class HttpResult:
    url: str  # as finally requested, after redirects
    status: int
    headers: Mapping[str, str]
    body: bytes
    links: Mapping[str, Mapping[str, str]]  # parsed Link header, by rel


class _Transient(Exception):
    """A timeout or broken connection: worth a retry."""


class HttpClient:
    def __init__(
        self,
        session: requests.Session,
        base_url: str,
        *,
        connect_timeout: float,
        read_timeout: float,
        backoff: Backoff,
        credential: tuple[str, str] | None = None,
        on_retry: Callable[[RetryNote], None] | None = None,
        rng: random.Random | None = None,
    ):
        self._session = session
        self._origin = _origin(base_url)
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout
        self._backoff = backoff
        self._credential = credential
        self._on_retry = on_retry
        self._rng = rng or random.Random()

    def scrub(self, text: str) -> str:
        """`text` with the secret replaced, for messages that quote what a server sent."""
        if self._credential is not None:
            secret = self._credential[1].removeprefix("Bearer ")
            if len(secret) >= 4:  # a shorter "secret" would garble every message it is in
                text = text.replace(secret, "***")
        return text

    def get(
        self, url: str, deadline: Deadline, headers: Mapping[str, str] | None = None
    ) -> HttpResult:
        """The first non-retryable response to GET `url`; 2xx, 3xx and 4xx are returned as is."""
        shown = redact_url(url)
        attempt = 0
        while True:
            attempt += 1
            try:
                result = self._follow(url, headers or {}, deadline)
            except _Transient as error:
                problem = str(error)
                retry_after = None
            else:
                if result.status not in RETRY_STATUSES:
                    return result
                content_type = result.headers.get("Content-Type")
                problem = describe_body(result.status, content_type, result.body)
                retry_after = result.headers.get("Retry-After")
            if deadline.remaining() <= 0:
                raise ApiError(
                    self.scrub(self._deadline_message(shown, deadline, attempt, problem))
                )
            if attempt > self._backoff.retries:
                plural = "s" if attempt > 1 else ""
                raise ApiError(
                    self.scrub(f"GET {shown} failed after {attempt} attempt{plural}: {problem}")
                )
            delay = self._backoff.delay(attempt, retry_after, self._rng)
            if delay >= deadline.remaining():
                raise ApiError(
                    self.scrub(self._deadline_message(shown, deadline, attempt, problem))
                )
            if self._on_retry is not None:
                self._on_retry(RetryNote(shown, attempt, self.scrub(problem), round(delay, 3)))
            time.sleep(delay)

    @staticmethod
    def _deadline_message(shown: str, deadline: Deadline, attempt: int, problem: str) -> str:
        return (
            f"GET {shown}: timeout: the fetch deadline of {deadline.seconds:g}s is reached "
            f"after {attempt} attempt{'s' if attempt > 1 else ''} (last: {problem})"
        )

    def _follow(self, url: str, headers: Mapping[str, str], deadline: Deadline) -> HttpResult:
        for _ in range(MAX_REDIRECTS + 1):
            sent = dict(headers)
            if self._credential is not None and _origin(url) == self._origin:
                sent[self._credential[0]] = self._credential[1]
            response = self._send(url, sent, deadline)
            if not response.is_redirect:
                try:
                    body = self._read_body(response, deadline)
                finally:
                    response.close()
                return HttpResult(url, response.status_code, response.headers, body, response.links)
            response.close()
            url = urljoin(url, response.headers["Location"])
        raise ApiError(f"GET {redact_url(url)}: more than {MAX_REDIRECTS} redirects")

    def _timeouts(self, deadline: Deadline) -> tuple[float, float]:
        left = deadline.remaining()
        if left <= 0:
            raise _Transient("timeout")
        return min(self._connect_timeout, left), min(self._read_timeout, left)

    def _send(self, url: str, headers: Mapping[str, str], deadline: Deadline) -> requests.Response:
        try:
            return self._session.get(
                url,
                headers=headers,
                timeout=self._timeouts(deadline),
                stream=True,
                allow_redirects=False,
            )
        except requests.Timeout:
            raise _Transient("timeout") from None
        except requests.ConnectionError as error:
            raise _Transient(f"cannot connect: {_reason(error)}") from None

    def _read_body(self, response: requests.Response, deadline: Deadline) -> bytes:
        # The watchdog shuts the socket down when the deadline passes, which ends any blocked or
        # trickling read at once, including the read loops inside urllib3's gzip decoding.
        sock = getattr(getattr(response.raw, "connection", None), "sock", None)
        watchdog = None
        if sock is not None:
            watchdog = threading.Timer(max(deadline.remaining(), 0.0), _shut_down, (sock,))
            watchdog.daemon = True
            watchdog.start()
        try:
            body = response.raw.read(decode_content=True)
        except (urllib3.exceptions.HTTPError, OSError) as error:
            if deadline.remaining() <= 0 or isinstance(
                error, (urllib3.exceptions.ReadTimeoutError, TimeoutError)
            ):
                raise _Transient("timeout while reading the body") from None
            raise _Transient(
                f"connection broken while reading the body: {_reason(error)}"
            ) from None
        finally:
            if watchdog is not None:
                watchdog.cancel()
        if deadline.remaining() <= 0:
            raise _Transient("timeout while reading the body")
        return body


def _shut_down(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


def _reason(error: BaseException) -> str:
    """The innermost cause of a requests/urllib3 error, without the pool's URL and repr noise."""
    while error.args and isinstance(error.args[0], BaseException):
        error = error.args[0]
    reason = getattr(error, "reason", None)
    if isinstance(reason, BaseException):
        error = reason
    text = str(error)
    # urllib3 prefixes "<urllib3.connection.HTTPConnection object at 0x...>: "
    return text.split(">: ", 1)[-1]
