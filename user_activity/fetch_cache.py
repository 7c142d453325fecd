"""The last good response of each collection with its validators, in `<data dir>/.cache/`.

One JSON Lines file per collection, `<collection>.jsonl`: the first line holds, for each page
fetched, its URL, `ETag`, `Last-Modified` and record count, the records' data version and the
SHA-256 of the second line, which holds the records. A refresh reads only the first line to ask
"changed since?" page by page, and the records only when it needs them: a refresh where every
page is not modified neither parses, hashes nor rewrites a million records. The file is written
only after a whole fetch passed validation, atomically, so it always holds a complete good
collection; a file whose records line is not the one its first line describes is no cache.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from functools import cached_property
from typing import Any

from upath import UPath

from user_activity.file_formats import FileFormatError, dump_compact_json, load_json
from user_activity.io_managers import write_atomically

Records = list[dict[str, Any]]


class CacheChanged(RuntimeError):
    """The cache file no longer holds the records its first line describes: replaced since the
    validators were read, truncated, edited or unreadable."""


@dataclass(frozen=True)
class CachedPage:
    url: str  # as requested, query included (it holds only paging parameters)
    etag: str | None
    last_modified: str | None
    count: int


@dataclass(frozen=True)
class CachedCollection:
    """The validators of a cached collection; its records are read on first use."""

    pages: list[CachedPage]
    data_version: str | None  # content_version(records); None in older cache files
    read_records: Callable[[], Records] = field(repr=False, compare=False)

    @cached_property
    def records(self) -> Records:
        return self.read_records()

    def page(self, url: str) -> tuple[CachedPage, int] | None:
        """The cached page fetched from `url`, with the index of its first record."""
        start = 0
        for page in self.pages:
            if page.url == url:
                return page, start
            start += page.count
        return None

    def page_records(self, url: str) -> Records:
        found = self.page(url)
        if found is None:
            raise KeyError(url)
        page, start = found
        return self.records[start : start + page.count]


class FetchCache:
    def __init__(self, folder: str):
        self.folder = UPath(folder)

    def path(self, collection: str) -> UPath:
        return self.folder / f"{collection}.jsonl"

    def load(self, collection: str) -> CachedCollection | None:
        """The cached collection's validators, or None when there is none or it is unreadable."""
        path = self.path(collection)
        try:
            with path.open("rb") as file:
                header_line = file.readline()
            header = load_json(header_line, str(path))
            pages = [CachedPage(**page) for page in header["pages"]]
            version = header.get("data_version")
            checksum = header["records_sha256"]
        except (OSError, FileFormatError, KeyError, TypeError):
            return None

        def read_records() -> Records:
            try:
                with path.open("rb") as file:
                    if file.readline() != header_line:
                        raise CacheChanged(f"{path} was replaced during the fetch: run again")
                    data = file.read()
            except OSError as error:
                raise CacheChanged(f"cannot read {path}: {error.strerror}") from None
            if hashlib.sha256(data).hexdigest() != checksum:
                raise CacheChanged(f"{path}: the records line does not match its checksum")
            try:
                records = load_json(data, str(path))
            except FileFormatError as error:  # only if the checksum was forged
                raise CacheChanged(str(error)) from None
            if not isinstance(records, list) or len(records) != sum(p.count for p in pages):
                raise CacheChanged(f"{path} does not hold the records its pages count")
            return records

        return CachedCollection(pages, version, read_records)

    def save(
        self,
        collection: str,
        records: Records,
        pages: list[CachedPage],
        data_version: str | None,
    ) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        # compact JSON has no line break inside (JSON strings escape them): one line each
        line = dump_compact_json(records) + b"\n"
        header = {
            "pages": [asdict(page) for page in pages],
            "data_version": data_version,
            # checked when the records are read: a truncated or edited file is no cache
            "records_sha256": hashlib.sha256(line).hexdigest(),
        }
        data = dump_compact_json(header) + b"\n" + line
        write_atomically(self.path(collection), data)
