"""The last good response of each collection with its validators, in `<data dir>/.cache/`.

One JSON file per collection: the records and, for each page fetched, its URL, `ETag`,
`Last-Modified` and record count, so a refresh can ask "changed since?" page by page and rebuild
the collection from the cache on a 304; and the records' data version, so a refresh where every
page is not modified neither hashes nor rewrites a million records again. It is written only
after a whole fetch passed validation, atomically, so it always holds a complete good collection.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from upath import UPath

from user_activity.file_formats import FileFormatError, dump_json, load_json
from user_activity.io_managers import write_atomically


@dataclass(frozen=True)
class CachedPage:
    url: str  # as requested, query included (it holds only paging parameters)
    etag: str | None
    last_modified: str | None
    count: int


@dataclass(frozen=True)
class CachedCollection:
    records: list[dict[str, Any]]
    pages: list[CachedPage] = field(default_factory=list)
    data_version: str | None = None  # content_version(records); None in older cache files

    def page(self, url: str) -> tuple[CachedPage, list[dict[str, Any]]] | None:
        """The cached page fetched from `url`, with its records."""
        start = 0
        for page in self.pages:
            if page.url == url:
                return page, self.records[start : start + page.count]
            start += page.count
        return None


class FetchCache:
    def __init__(self, folder: str):
        self.folder = UPath(folder)

    def path(self, collection: str) -> UPath:
        return self.folder / f"{collection}.json"

    def load(self, collection: str) -> CachedCollection | None:
        """The cached collection, or None when there is none or it is unreadable."""
        path = self.path(collection)
        try:
            value = load_json(path.read_bytes(), str(path))
            return CachedCollection(
                records=value["records"],
                pages=[CachedPage(**page) for page in value["pages"]],
                data_version=value.get("data_version"),
            )
        except (OSError, FileFormatError, KeyError, TypeError):
            return None

    def save(self, collection: str, cached: CachedCollection) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        # not asdict(cached): that deep-copies every record (a second full copy at 1M posts)
        value = {
            "records": cached.records,
            "pages": [asdict(page) for page in cached.pages],
            "data_version": cached.data_version,
        }
        write_atomically(self.path(collection), dump_json(value))
