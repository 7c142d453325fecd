"""The API client resource: reads a JSONPlaceholder-style collection over HTTP or from a folder.

The HTTP work lives in small Dagster-free modules: `http_client` (timeouts, deadline, retries,
credentials), `pagination`, `api_records` (validation) and `fetch_cache` (conditional refresh).
This resource wires them together from its config and reports what a fetch took.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import cached_property, partial
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import dagster as dg
import requests
from pydantic import Field, PrivateAttr

from user_activity import __version__
from user_activity.api_records import (
    InvalidCollection,
    as_record_list,
    content_version,
    describe_body,
    parse_json_body,
    reject_repeated_ids,
    validate_records,
)
from user_activity.fetch_cache import CacheChanged, CachedCollection, CachedPage, FetchCache
from user_activity.http_client import (
    ApiError,
    Deadline,
    HttpClient,
    HttpResult,
    RetryNote,
    redact_url,
)
from user_activity.pagination import Page, Paging, PagingError, fetch_all_pages, page_url
from user_activity.retry_policy import Backoff
from user_activity.settings import DEFAULT_API_URL, CachePolicy

__all__ = ["USER_AGENT", "ApiError", "Fetched", "JsonPlaceholderResource", "RetryNote"]

USER_AGENT = f"user_activity/{__version__} (python-requests/{requests.__version__})"


@dataclass(frozen=True)
class Fetched:
    """One collection as received, with what it took to get it."""

    # the records, or a function that reads them (a refresh that found nothing changed reads
    # the cached records only if someone asks for them)
    content: list[dict[str, Any]] | Callable[[], list[dict[str, Any]]]
    url: str  # without query string or user info
    status: int | None  # 304 when every page was, else 200; None when read from a file or cache
    bytes: int
    seconds: float
    pages: int = 1
    not_modified: int = 0  # pages answered 304 and taken from the cache
    source: str = "network"  # network, not modified, folder or cache
    validators: list[CachedPage] = field(default_factory=list)  # per page, for the cache
    requests: int = 1  # HTTP requests made (or files read) for this collection
    retries: int = 0  # of those, repeats after a failed attempt
    known_version: str | None = None  # the cache's data version when every page was a 304

    @cached_property
    def records(self) -> list[dict[str, Any]]:
        return self.content() if callable(self.content) else self.content

    @property
    def rows(self) -> int:
        """The number of records, without reading records that are not read yet."""
        if callable(self.content) and "records" not in self.__dict__:
            return sum(page.count for page in self.validators)
        return len(self.records)

    @property
    def unchanged(self) -> bool:
        """Every page was a 304 and the cache knew the content's version: nothing changed."""
        return self.source == "not modified" and self.known_version is not None

    @cached_property  # hashing a million records takes a while: once per Fetched
    def data_version(self) -> str:
        return self.known_version or content_version(self.records)


class JsonPlaceholderResource(dg.ConfigurableResource):
    """A JSONPlaceholder-style API: `GET {base_url}/{collection}` returns a JSON array.

    `base_url` may also be a `file://` URL or a folder path holding `{collection}.json` files:
    the offline source (the package ships the real data in `user_activity/snapshot`).
    The credential is read from the environment variable named here when the run starts, so its
    value never becomes config (which the UI shows).
    """

    base_url: str = Field(default=DEFAULT_API_URL, description="API base URL, file:// or folder")
    connect_timeout: float = Field(default=5.0, gt=0, description="seconds to open a connection")
    read_timeout: float = Field(default=30.0, gt=0, description="seconds to wait for each read")
    deadline: float = Field(
        default=60.0, gt=0, description="seconds for a whole fetch: every page, retry and wait"
    )
    retries: int = Field(default=3, ge=0, description="retries of one request after the first try")
    backoff_base: float = Field(
        default=0.5, ge=0, description="first backoff wait in seconds; doubles on every retry"
    )
    backoff_max: float = Field(default=10.0, ge=0, description="longest backoff wait in seconds")
    retry_after_cap: float = Field(
        default=30.0, ge=0, description="longest wait a Retry-After header can ask for"
    )
    page_size: int = Field(default=0, ge=0, description="records per page; 0 = one request")
    paging: Paging = Field(default="page", description="page (_page/_limit) or offset (_start)")
    cache_dir: str | None = Field(
        default=None, description="folder of the conditional-refresh cache; None disables it"
    )
    cache_policy: CachePolicy = Field(
        default="refresh",
        description="refresh (conditional request), force (ignore validators) or cache-only; "
        "run config of the raw assets can override it",
    )
    credential_env_var: str = Field(
        default="USER_ACTIVITY_API_TOKEN", description="env var holding the API token, if any"
    )
    credential_header: str = Field(
        default="Authorization",
        description="header carrying the token: Authorization sends 'Bearer <token>'",
    )

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

    def _credential(self) -> tuple[str, str] | None:
        token = os.environ.get(self.credential_env_var, "").strip()
        if not token:
            return None
        if self.credential_header.lower() == "authorization":
            return self.credential_header, f"Bearer {token}"
        return self.credential_header, token

    def client(self, on_retry: Callable[[RetryNote], None] | None = None) -> HttpClient:
        return HttpClient(
            self._session or requests.Session(),
            self.base_url,
            connect_timeout=self.connect_timeout,
            read_timeout=self.read_timeout,
            backoff=Backoff(
                self.retries, self.backoff_base, self.backoff_max, self.retry_after_cap
            ),
            credential=self._credential(),
            on_retry=on_retry,
        )

    def fetch(
        self,
        collection: str,
        cache_policy: CachePolicy | None = None,
        on_retry: Callable[[RetryNote], None] | None = None,
        on_warning: Callable[[str], None] | None = None,
    ) -> Fetched:
        """The validated collection; the cache is updated only when it is complete and valid.

        `on_warning` hears of a cache file that could not be used and was replaced by a new
        download, which may happen later, when the records of an unchanged refresh are read."""
        started = time.perf_counter()
        cache_policy = cache_policy or self.cache_policy
        cache = FetchCache(self.cache_dir) if self.cache_dir else None
        retries = 0

        def count_retry(note: RetryNote) -> None:
            nonlocal retries
            retries += 1
            if on_retry is not None:
                on_retry(note)

        def warn(message: str) -> None:
            if on_warning is not None:
                on_warning(client.scrub(message))

        client = self.client(count_retry)
        cached = None
        try:
            if cache_policy == "cache-only":
                fetched = self._from_cache(collection, cache)
            elif self.folder is not None:
                fetched = self._from_folder(collection, self.folder)
            else:
                cached = cache.load(collection) if cache and cache_policy == "refresh" else None
                fetched, cached = self._from_http_or_again(collection, client, cached, warn)
            unchanged = _unchanged(fetched, cached)
            if unchanged:
                # the cache already holds exactly these pages, validated when they were stored:
                # no parse, no second hash, no rewrite (the records are read if asked for)
                fetched = replace(
                    fetched,
                    content=partial(self._cached_records, collection, cached, warn, on_retry),
                    known_version=cached.data_version,
                )
            else:
                _validate(collection, fetched)
        except (InvalidCollection, PagingError, CacheChanged) as error:
            raise ApiError(client.scrub(str(error))) from None
        # a folder source is local already: caching it would only overwrite the HTTP validators
        if not unchanged and cache is not None and fetched.source not in ("cache", "folder"):
            version = fetched.data_version
            cache.save(collection, fetched.records, fetched.validators, version)
            fetched = replace(fetched, known_version=version)
        return replace(
            fetched,
            seconds=round(time.perf_counter() - started, 3),
            requests=fetched.requests + retries,
            retries=retries,
        )

    def _from_http_or_again(
        self,
        collection: str,
        client: HttpClient,
        cached: CachedCollection | None,
        warn: Callable[[str], None],
    ) -> tuple[Fetched, CachedCollection | None]:
        """The collection over HTTP with the cache's answers for 304 pages, or every page
        downloaded again (and no cache) when the cache file lost the records those pages
        stand for: truncated, edited or replaced, a rerun would meet the same file."""
        try:
            fetched = self._from_http(collection, client, cached)
            if not _unchanged(fetched, cached):
                _ = fetched.records  # the 304 pages' records are read from the cache here
            return fetched, cached
        except CacheChanged as error:
            if cached is None:
                raise
            warn(_redownload_warning(collection, error))
        return self._from_http(collection, client, None), None

    def _cached_records(
        self,
        collection: str,
        cached: CachedCollection,
        warn: Callable[[str], None],
        on_retry: Callable[[RetryNote], None] | None,
    ) -> list[dict[str, Any]]:
        """The records of an unchanged refresh, read from the cache when they are asked for;
        downloaded again (validated and cached anew) when the cache file lost them."""
        try:
            return cached.records
        except CacheChanged as error:
            warn(_redownload_warning(collection, error))
        again = self.fetch(collection, "force", on_retry)
        if again.data_version != cached.data_version:
            raise ApiError(
                f"{again.url} changed while its unusable cache was being replaced: run again"
            )
        return again.records

    def _from_cache(self, collection: str, cache: FetchCache | None) -> Fetched:
        if cache is None:
            raise ApiError("cache policy cache-only, but no cache folder is configured")
        cached = cache.load(collection)
        if cached is None:
            remedy = (
                f"{self.base_url} is a folder, read directly and never cached: drop cache-only"
                if self.folder is not None
                else "run once with cache policy refresh or force"
            )
            raise ApiError(
                f"cache policy cache-only, but there is no usable cached {collection} at "
                f"{cache.path(collection)}: {remedy}"
            )
        return Fetched(
            lambda: cached.records,
            str(cache.path(collection)),
            None,
            0,
            0.0,
            0,
            0,
            "cache",
            cached.pages,
            requests=0,
            known_version=cached.data_version,
        )

    def _from_folder(self, collection: str, folder: Path) -> Fetched:
        path = folder / f"{collection}.json"
        try:
            body = path.read_bytes()
        except OSError as error:
            raise ApiError(f"cannot read {path}: {error.strerror}") from None
        url = path.as_uri()
        records = as_record_list(parse_json_body(url, None, None, body), url)
        return Fetched(records, url, None, len(body), 0.0, 1, 0, "folder")

    def _from_http(
        self, collection: str, client: HttpClient, cached: CachedCollection | None
    ) -> Fetched:
        deadline = Deadline(self.deadline)
        base = f"{self.base_url.rstrip('/')}/{collection}"
        pages: list[CachedPage] = []
        statuses: list[int] = []
        received = 0
        answers: dict[str, HttpResult] = {}  # conditional answers the probe already received

        def note(url: str, result: HttpResult, hit: CachedPage | None, count: int) -> None:
            nonlocal received
            received += len(result.body)
            statuses.append(result.status)
            etag = result.headers.get("ETag") or (hit.etag if hit else None)
            modified = result.headers.get("Last-Modified") or (hit.last_modified if hit else None)
            pages.append(CachedPage(url, etag, modified, count))

        def fetched(content: Any) -> Fetched:
            not_modified = statuses.count(304)
            return Fetched(
                content,
                redact_url(base),
                304 if not_modified == len(statuses) else 200,  # any other status raised
                received,
                0.0,
                len(pages),
                not_modified,
                "not modified" if not_modified == len(pages) else "network",
                pages,
                requests=len(pages),
            )

        first_url = page_url(base, self.paging, self.page_size, 0) if self.page_size else base
        if cached is not None and cached.pages and cached.pages[0].url == first_url:
            # A refresh first asks for the cached pages: when every one is a 304 nothing has
            # changed, and the cached records need not even be read. Otherwise the page loop
            # below goes on from these answers. (Cached with other paging settings, the pages
            # are not the ones to ask for.)
            for page in cached.pages:
                answers[page.url] = answer = client.get(page.url, deadline, _conditional(page))
                if answer.status != 304:
                    break
            else:
                for page in cached.pages:
                    note(page.url, answers[page.url], page, page.count)
                return fetched(lambda: cached.records)

        def fetch_page(url: str, index: int) -> Page:
            found = cached.page(url) if cached is not None else None
            hit = found[0] if found is not None else None
            result = answers.pop(url, None)
            if result is None:
                result = client.get(url, deadline, _conditional(hit))
            shown = redact_url(result.url)
            content_type = result.headers.get("Content-Type", "")  # "" = none, not a file
            if result.status == 304 and cached is not None and hit is not None:
                records = cached.page_records(url)
            elif result.status != 200:
                what = describe_body(result.status, content_type, result.body)
                raise ApiError(client.scrub(f"GET {shown} failed: {what}"))
            else:
                value = parse_json_body(f"GET {shown}", result.status, content_type, result.body)
                records = as_record_list(value, shown)
            note(url, result, hit, len(records))
            total = result.headers.get("X-Total-Count", "")
            return Page(
                records,
                total=int(total) if total.isdigit() else None,
                has_links=bool(result.headers.get("Link")),
                next_url=result.links.get("next", {}).get("url"),
            )

        if self.page_size:
            return fetched(fetch_all_pages(base, self.paging, self.page_size, fetch_page))
        return fetched(fetch_page(base, 0).records)


def _redownload_warning(collection: str, error: Exception) -> str:
    return f"the cached {collection} cannot be used ({error}): downloaded every page again"


def _unchanged(fetched: Fetched, cached: CachedCollection | None) -> bool:
    """Every page was a 304 for exactly the cached pages, whose data version is known."""
    return (
        cached is not None
        and fetched.source == "not modified"
        and fetched.validators == cached.pages
        and cached.data_version is not None
    )


def _validate(collection: str, fetched: Fetched) -> None:
    validate_records(collection, fetched.records, fetched.url)
    if fetched.pages > 1:
        reject_repeated_ids(fetched.records, fetched.url)


def _conditional(hit: CachedPage | None) -> dict[str, str]:
    """The headers that ask "changed since?" for a cached page."""
    headers = {}
    if hit is not None and hit.etag:
        headers["If-None-Match"] = hit.etag
    if hit is not None and hit.last_modified:
        headers["If-Modified-Since"] = hit.last_modified
    return headers
