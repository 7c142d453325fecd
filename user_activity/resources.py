"""The API client resource: reads a JSONPlaceholder-style collection over HTTP or from a folder."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import dagster as dg
import requests
from pydantic import Field, PrivateAttr

from user_activity import __version__
from user_activity.settings import DEFAULT_API_URL

USER_AGENT = f"user_activity/{__version__} (python-requests/{requests.__version__})"


class ApiError(RuntimeError):
    """The API (or the offline folder) did not give a usable collection."""


@dataclass(frozen=True)
class Fetched:
    """One collection as received, with what it took to get it."""

    records: list[dict[str, Any]]
    url: str
    status: int
    bytes: int
    seconds: float
    requests: int = 1  # HTTP requests made (or files read) for this collection
    retries: int = 0  # of those, repeats after a failed attempt


def _describe_body(response: requests.Response) -> str:
    content_type = response.headers.get("Content-Type", "none")
    excerpt = response.content[:80].decode("utf-8", "replace")
    return f"status {response.status_code}, content type {content_type}, body starts {excerpt!r}"


def _as_record_list(value: Any, source: str) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        raise ApiError(f"{source} is not a JSON array but {type(value).__name__}")
    for index, record in enumerate(value):
        if not isinstance(record, dict):
            raise ApiError(f"{source} record {index} is not a JSON object: {record!r:.60}")
    return value


class JsonPlaceholderResource(dg.ConfigurableResource):
    """A JSONPlaceholder-style API: `GET {base_url}/{collection}` returns a JSON array.

    `base_url` may also be a `file://` URL or a folder path holding `{collection}.json` files:
    the offline source (the package ships the real data in `user_activity/snapshot`).
    """

    base_url: str = Field(default=DEFAULT_API_URL, description="API base URL, file:// or folder")
    connect_timeout: float = Field(default=5.0, description="seconds to open a connection")
    read_timeout: float = Field(default=30.0, description="seconds to wait for each read")

    _session: requests.Session | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        self._session = requests.Session()
        self._session.headers.update({"User-Agent": USER_AGENT, "Accept": "application/json"})

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None

    @property
    def folder(self) -> Path | None:
        """The offline folder, or None when the base URL is HTTP(S)."""
        parts = urlsplit(self.base_url)
        if parts.scheme in ("http", "https"):
            return None
        if parts.scheme == "file":
            return Path(unquote(parts.path))
        return Path(self.base_url).expanduser()

    def fetch(self, collection: str) -> Fetched:
        started = time.perf_counter()
        folder = self.folder
        if folder is not None:
            path = folder / f"{collection}.json"
            try:
                body = path.read_bytes()
            except OSError as error:
                raise ApiError(f"cannot read {path}: {error.strerror}") from None
            url, status = path.as_uri(), 200
        else:
            url = f"{self.base_url.rstrip('/')}/{collection}"
            body, status = self._get(url)
        try:
            value = json.loads(body)
        except ValueError as error:
            raise ApiError(f"{url} did not return JSON ({error}): {body[:80]!r}") from None
        records = _as_record_list(value, url)
        return Fetched(records, url, status, len(body), round(time.perf_counter() - started, 3))

    def _get(self, url: str) -> tuple[bytes, int]:
        session = self._session or requests.Session()
        try:
            response = session.get(url, timeout=(self.connect_timeout, self.read_timeout))
        except requests.Timeout:
            raise ApiError(f"GET {url}: timeout") from None
        except requests.ConnectionError as error:
            raise ApiError(f"GET {url}: cannot connect: {error}") from None
        if response.status_code != 200:
            raise ApiError(f"GET {url} failed: {_describe_body(response)}")
        content_type = response.headers.get("Content-Type", "")
        if "json" not in content_type:
            raise ApiError(f"GET {url} did not return JSON: {_describe_body(response)}")
        return response.content, response.status_code
