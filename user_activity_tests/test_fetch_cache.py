"""Conditional refresh: the cache of the last good response, 304 reuse and the cache policies."""

import hashlib
import json

import pytest

from user_activity.api_records import content_version
from user_activity.fetch_cache import CacheChanged, CachedPage, FetchCache
from user_activity.http_client import ApiError
from user_activity_tests.fake_api import Scripted
from user_activity_tests.test_resources import JSON, SNAPSHOT_DIR, failure, fetch


def stored(path):
    """(validators line, records line) of a cache file, parsed."""
    header, records = path.read_text(encoding="utf-8").splitlines()
    return json.loads(header), json.loads(records)


def test_refresh_sends_the_etag_and_reuses_the_cache_on_304(api, real_data, tmp_path):
    cache = str(tmp_path / "cache")
    first = fetch(api.url, "users", cache_dir=cache)
    etag = api.requests[0].headers.get("if-none-match")
    assert etag is None  # nothing cached yet
    second = fetch(api.url, "users", cache_dir=cache)
    assert api.requests[1].headers["if-none-match"].startswith('W/"')
    assert (second.status, second.source, second.bytes) == (304, "not modified", 0)
    assert second.records == first.records == real_data["users"]
    assert second.data_version == first.data_version


def test_cache_file_holds_records_and_validators(api, real_data, tmp_path):
    first = fetch(api.url, "users", cache_dir=str(tmp_path))
    header, records = stored(tmp_path / "users.jsonl")
    assert records == real_data["users"]
    assert sorted(header) == ["data_version", "pages", "records_sha256"]
    assert header["data_version"] == first.data_version
    records_line = (tmp_path / "users.jsonl").read_bytes().split(b"\n")[1] + b"\n"
    assert header["records_sha256"] == hashlib.sha256(records_line).hexdigest()
    [page] = header["pages"]
    assert (page["url"], page["count"], page["last_modified"]) == (f"{api.url}/users", 10, None)
    assert page["etag"].startswith('W/"')


def test_changed_data_is_downloaded_with_a_new_data_version(api, real_data, tmp_path):
    first = fetch(api.url, "users", cache_dir=str(tmp_path))
    changed = [{**real_data["users"][0], "name": "Leanne G."}, *real_data["users"][1:]]
    api.reset({"users": changed, "posts": real_data["posts"]})
    second = fetch(api.url, "users", cache_dir=str(tmp_path))
    assert (second.status, second.source, second.records) == (200, "network", changed)
    assert second.data_version != first.data_version
    assert stored(tmp_path / "users.jsonl")[1] == changed


def test_identical_content_under_a_new_etag_keeps_the_data_version(api, tmp_path):
    body = b'[{"id": 1, "name": "A", "username": "a", "email": "a@x"}]'
    api.script(
        "/users",
        Scripted(200, body, {**JSON, "ETag": '"v1"'}),
        Scripted(200, body.replace(b", ", b",\n "), {**JSON, "ETag": '"v2"'}),
    )
    first = fetch(api.url, "users", cache_dir=str(tmp_path))
    second = fetch(api.url, "users", cache_dir=str(tmp_path))
    assert api.requests[1].headers["if-none-match"] == '"v1"'
    assert second.status == 200 and second.data_version == first.data_version


def test_last_modified_is_sent_back_as_if_modified_since(api, tmp_path):
    stamp = "Wed, 02 Dec 2026 10:00:00 GMT"
    body = b'[{"id": 1, "name": "A", "username": "a", "email": "a@x"}]'
    api.script(
        "/users",
        Scripted(200, body, {**JSON, "Last-Modified": stamp}),
        Scripted(304, b"", {"Last-Modified": stamp}),
    )
    fetch(api.url, "users", cache_dir=str(tmp_path))
    second = fetch(api.url, "users", cache_dir=str(tmp_path))
    assert api.requests[1].headers["if-modified-since"] == stamp
    assert "if-none-match" not in api.requests[1].headers
    assert (second.source, second.records[0]["name"]) == ("not modified", "A")


def test_force_ignores_the_validators(api, real_data, tmp_path):
    fetch(api.url, "users", cache_dir=str(tmp_path))
    forced = fetch(api.url, "users", cache_dir=str(tmp_path), cache_policy="force")
    assert "if-none-match" not in api.requests[1].headers
    assert (forced.status, forced.source, forced.records) == (200, "network", real_data["users"])


def test_cache_only_uses_the_cache_without_any_request(api, real_data, tmp_path):
    fetch(api.url, "users", cache_dir=str(tmp_path))
    api.reset()
    cached = fetch(
        "http://127.0.0.1:9", "users", cache_dir=str(tmp_path), cache_policy="cache-only"
    )
    assert (cached.source, cached.records, cached.status) == ("cache", real_data["users"], None)
    assert api.requests == []


def test_cache_only_without_a_cache_fails_clearly(tmp_path):
    assert failure(
        "http://127.0.0.1:9", "users", cache_dir=str(tmp_path), cache_policy="cache-only"
    ) == (
        f"cache policy cache-only, but there is no usable cached users at {tmp_path}/users.jsonl: "
        "run once with cache policy refresh or force"
    )
    assert failure("http://127.0.0.1:9", "users", cache_policy="cache-only") == (
        "cache policy cache-only, but no cache folder is configured"
    )


def test_paged_refresh_revalidates_each_page(api, real_data, tmp_path):
    fetch(api.url, "posts", cache_dir=str(tmp_path), page_size=40)
    again = fetch(api.url, "posts", cache_dir=str(tmp_path), page_size=40)
    assert all("if-none-match" in r.headers for r in api.requests[3:])
    assert (again.pages, again.not_modified, again.source) == (3, 3, "not modified")
    assert again.records == real_data["posts"]


def test_a_failed_fetch_keeps_the_cache(api, tmp_path):
    fetch(api.url, "users", cache_dir=str(tmp_path))
    before = (tmp_path / "users.jsonl").read_bytes()
    api.script("/users", Scripted(200, b'[{"id": 1}]', JSON))
    failure(api.url, "users", cache_dir=str(tmp_path), cache_policy="force")
    assert (tmp_path / "users.jsonl").read_bytes() == before


def test_an_unreadable_cache_is_no_cache(tmp_path):
    (tmp_path / "users.jsonl").write_text("{not json\n[]\n")
    assert FetchCache(str(tmp_path)).load("users") is None
    cache = FetchCache(str(tmp_path / "new"))
    pages = [CachedPage("u1", '"e"', None, 2)]
    cache.save("users", [{"id": 1}, {"id": 2}], pages, "v1")
    cached = cache.load("users")
    assert (cached.pages, cached.data_version) == (pages, "v1")
    assert cached.page("u1") == (pages[0], 0)
    assert cached.page("u2") is None
    assert cached.page_records("u1") == [{"id": 1}, {"id": 2}]


def test_cached_records_are_read_only_when_asked_for_and_only_from_the_same_file(tmp_path):
    cache = FetchCache(str(tmp_path))
    cache.save("users", [{"id": 1}], [CachedPage("u1", '"e1"', None, 1)], "v1")
    first, second = cache.load("users"), cache.load("users")
    assert first.records == [{"id": 1}]
    cache.save("users", [{"id": 2}], [CachedPage("u1", '"e2"', None, 1)], "v2")
    with pytest.raises(CacheChanged) as raised:
        _ = second.records  # its validators are of the file that was replaced
    assert str(raised.value) == f"{tmp_path}/users.jsonl was replaced during the fetch: run again"
    assert first.records == [{"id": 1}]  # read once, kept


def test_a_cache_whose_records_do_not_match_its_pages_is_refused(tmp_path):
    records = b'[{"id":1}]\n'
    header = {
        "pages": [{"url": "u1", "etag": None, "last_modified": None, "count": 2}],
        "records_sha256": hashlib.sha256(records).hexdigest(),
    }
    (tmp_path / "users.jsonl").write_bytes(json.dumps(header).encode() + b"\n" + records)
    with pytest.raises(CacheChanged) as raised:
        _ = FetchCache(str(tmp_path)).load("users").records
    assert str(raised.value) == f"{tmp_path}/users.jsonl does not hold the records its pages count"


def test_a_refresh_with_every_page_not_modified_keeps_the_cache_file(api, real_data, tmp_path):
    first = fetch(api.url, "posts", cache_dir=str(tmp_path), page_size=40)
    path = tmp_path / "posts.jsonl"
    header, _ = stored(path)
    assert header["data_version"] == first.data_version == content_version(real_data["posts"])
    before = path.stat()
    again = fetch(api.url, "posts", cache_dir=str(tmp_path), page_size=40)
    assert (again.source, again.not_modified) == ("not modified", 3)
    after = path.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert again.data_version == first.data_version


def test_a_cache_without_a_data_version_is_hashed_and_rewritten(api, real_data, tmp_path):
    fetch(api.url, "users", cache_dir=str(tmp_path))
    path = tmp_path / "users.jsonl"
    header, _ = stored(path)
    del header["data_version"]  # a cache file written before the version was stored
    records_line = path.read_bytes().split(b"\n", 1)[1]
    path.write_bytes(json.dumps(header).encode() + b"\n" + records_line)
    again = fetch(api.url, "users", cache_dir=str(tmp_path))
    assert again.source == "not modified"
    assert again.data_version == content_version(real_data["users"])
    assert stored(path)[0]["data_version"] == again.data_version


def test_an_unchanged_refresh_does_not_read_the_cached_records(api, real_data, tmp_path):
    fetch(api.url, "posts", cache_dir=str(tmp_path), page_size=40)
    path = tmp_path / "posts.jsonl"
    header, _ = stored(path)
    # records the refresh would return if it read them: it must not need to
    path.write_text(f"{json.dumps(header)}\nnot json\n")
    warnings = []
    again = fetch(api.url, "posts", warnings=warnings, cache_dir=str(tmp_path), page_size=40)
    assert (again.unchanged, again.rows, again.not_modified, again.status) == (True, 100, 3, 304)
    assert "records" not in again.__dict__
    assert (len(api.requests), warnings) == (6, [])  # three pages, then three conditional asks
    # asked for, they are read; this file lost them, so they are downloaded again
    assert again.records == real_data["posts"]
    assert len(api.requests) == 9
    assert stored(path) == (header, real_data["posts"])
    assert warnings == [
        f"the cached posts cannot be used ({path}: the records line does not match its "
        "checksum): downloaded every page again"
    ]


def test_a_damaged_cache_with_one_changed_page_downloads_every_page(api, real_data, tmp_path):
    fetch(api.url, "posts", cache_dir=str(tmp_path), page_size=40)
    path = tmp_path / "posts.jsonl"
    header, _ = stored(path)
    path.write_text(f"{json.dumps(header)}\nnot json\n")
    posts = [*real_data["posts"][:99], {**real_data["posts"][99], "title": "new"}]
    api.reset({"users": real_data["users"], "posts": posts})
    warnings = []
    again = fetch(api.url, "posts", warnings=warnings, cache_dir=str(tmp_path), page_size=40)
    assert warnings == [
        f"the cached posts cannot be used ({path}: the records line does not match its "
        "checksum): downloaded every page again"
    ]
    # the 304 pages stand for records the file no longer holds: all three again, unconditional
    assert [(r.query["_page"], "if-none-match" in r.headers) for r in api.requests] == [
        (["1"], True),
        (["2"], True),
        (["3"], True),
        (["1"], False),
        (["2"], False),
        (["3"], False),
    ]
    assert (again.source, again.not_modified, again.records) == ("network", 0, posts)
    assert stored(path)[1] == posts


def test_a_changed_page_after_unchanged_ones_reuses_their_answers(api, real_data, tmp_path):
    fetch(api.url, "posts", cache_dir=str(tmp_path), page_size=40)
    posts = [*real_data["posts"][:99], {**real_data["posts"][99], "title": "new"}]
    api.reset({"users": real_data["users"], "posts": posts})
    again = fetch(api.url, "posts", cache_dir=str(tmp_path), page_size=40)
    # pages 1 and 2 answer 304, page 3 changed: three requests in all, none repeated
    assert [(r.query["_page"], r.headers["if-none-match"][:3]) for r in api.requests] == [
        (["1"], 'W/"'),
        (["2"], 'W/"'),
        (["3"], 'W/"'),
    ]
    assert (again.source, again.not_modified, again.records) == ("network", 2, posts)
    assert again.status == 200  # the collection changed, though its last page answered 304
    assert stored(tmp_path / "posts.jsonl")[1] == posts


def test_a_folder_source_leaves_the_http_cache_alone(api, real_data, tmp_path):
    cache = tmp_path / "cache"
    fetch(api.url, "users", cache_dir=str(cache))
    before = (cache / "users.jsonl").read_bytes()
    assert fetch(str(SNAPSHOT_DIR), "users", cache_dir=str(cache)).records == real_data["users"]
    assert (cache / "users.jsonl").read_bytes() == before  # still the HTTP validators
    assert sorted(p.name for p in cache.iterdir()) == ["users.jsonl"]
    assert failure(str(SNAPSHOT_DIR), "posts", cache_dir=str(cache), cache_policy="cache-only") == (
        f"cache policy cache-only, but there is no usable cached posts at {cache}/posts.jsonl: "
        f"{SNAPSHOT_DIR} is a folder, read directly and never cached: drop cache-only"
    )


def test_a_damaged_cache_whose_collection_changed_meanwhile_is_refused(api, real_data, tmp_path):
    fetch(api.url, "users", cache_dir=str(tmp_path))
    path = tmp_path / "users.jsonl"
    header, _ = stored(path)
    path.write_text(f"{json.dumps(header)}\nnot json\n")
    changed = [{**real_data["users"][0], "name": "Leanne G."}, *real_data["users"][1:]]
    api.script("/users", Scripted(304, b"", {}), Scripted(200, json.dumps(changed).encode(), JSON))
    again = fetch(api.url, "users", cache_dir=str(tmp_path))
    assert again.unchanged  # the 304 vouched for the cached records, which are gone
    with pytest.raises(ApiError) as raised:
        _ = again.records
    assert str(raised.value) == (
        f"{api.url}/users changed while its unusable cache was being replaced: run again"
    )
    assert stored(path)[1] == changed  # the next run starts from the new download
