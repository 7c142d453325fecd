"""Reading a collection page by page, json-server style, and proving the pages add up.

Free of Dagster and of HTTP: the caller supplies `fetch_page`. Completeness is verified, not
assumed: a server that ignores the paging parameters, repeats a page, or sends fewer records than
its `X-Total-Count` stops the fetch with an error instead of looping or duplicating.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlencode

Paging = Literal["page", "offset"]
PAGING_MODES: tuple[str, ...] = ("page", "offset")


class PagingError(ValueError):
    """The pages of a collection do not add up to the collection."""


@dataclass(frozen=True)
class Page:
    records: list[dict[str, Any]]
    total: int | None = None  # X-Total-Count, when the server sends it
    has_links: bool = False  # a Link header came with the page
    next_url: str | None = None  # its rel="next", if any


def page_url(base_url: str, paging: Paging, size: int, index: int) -> str:
    """The URL of page `index` (0-based): `_page`/`_limit` (1-based pages) or `_start`/`_limit`."""
    if paging == "page":
        params = {"_page": index + 1, "_limit": size}
    else:
        params = {"_start": index * size, "_limit": size}
    return f"{base_url}?{urlencode(params)}"


def fetch_all_pages(
    base_url: str, paging: Paging, size: int, fetch_page: Callable[[str, int], Page]
) -> list[dict[str, Any]]:
    """Every record, fetching pages until an empty or short one (or a Link with no next)."""
    records: list[dict[str, Any]] = []
    previous: list[dict[str, Any]] | None = None
    total: int | None = None
    url, index = page_url(base_url, paging, size, 0), 0
    while True:
        page = fetch_page(url, index)
        number = index + 1
        if len(page.records) > size:
            raise PagingError(
                f"{base_url} page {number} has {len(page.records)} records for a page size of "
                f"{size}: the server ignores the paging parameters"
            )
        if page.records and page.records == previous:
            raise PagingError(
                f"{base_url} page {number} repeats page {number - 1}: "
                "the server ignores the paging parameters"
            )
        records.extend(page.records)
        if page.total is not None:
            total = page.total
        if len(page.records) < size or (page.has_links and page.next_url is None):
            break
        previous = page.records
        index += 1
        url = page.next_url or page_url(base_url, paging, size, index)
    if total is not None and total != len(records):
        raise PagingError(
            f"{base_url}: got {len(records)} records in {index + 1} pages "
            f"but X-Total-Count says {total}"
        )
    return records
