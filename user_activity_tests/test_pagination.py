"""Paged fetches through the loopback server (json-server paging), and their completeness checks."""

import json

import pytest

from user_activity.pagination import Page, PagingError, fetch_all_pages, page_url
from user_activity_tests.fake_api import FakeApi, Scripted
from user_activity_tests.test_resources import JSON, TOKEN, failure, fetch


def queries(api, path="/posts"):
    return [{k: v[-1] for k, v in sorted(r.query.items())} for r in api.requests if r.path == path]


def page_body(records) -> bytes:
    return json.dumps(records).encode()


@pytest.mark.parametrize(
    ("paging", "index", "url"),
    [
        ("page", 0, "http://h/posts?_page=1&_limit=30"),
        ("page", 3, "http://h/posts?_page=4&_limit=30"),
        ("offset", 0, "http://h/posts?_start=0&_limit=30"),
        ("offset", 3, "http://h/posts?_start=90&_limit=30"),
    ],
)
def test_page_url(paging, index, url):
    assert page_url("http://h/posts", paging, 30, index) == url


def test_page_numbers_until_a_short_page(api, real_data):
    fetched = fetch(api.url, "posts", page_size=30)
    assert fetched.records == real_data["posts"]
    assert fetched.pages == 4
    # 30+30+30+10: the Link of page 4 has no "next", and 10 < 30 ends it anyway
    assert queries(api) == [{"_limit": "30", "_page": str(n)} for n in (1, 2, 3, 4)]


def test_an_exact_multiple_ends_on_the_link_header_without_an_empty_page(api, real_data):
    assert fetch(api.url, "posts", page_size=25).records == real_data["posts"]
    assert [q["_page"] for q in queries(api)] == ["1", "2", "3", "4"]


def test_an_exact_multiple_without_links_ends_on_an_empty_page(api, real_data):
    # offset paging has no Link header: page 5 (_start=100) is [] and ends the fetch
    assert fetch(api.url, "posts", page_size=25, paging="offset").records == real_data["posts"]
    assert [q["_start"] for q in queries(api)] == ["0", "25", "50", "75", "100"]


def test_offset_paging(api, real_data):
    assert fetch(api.url, "posts", page_size=40, paging="offset").records == real_data["posts"]
    assert queries(api) == [{"_limit": "40", "_start": str(s)} for s in (0, 40, 80)]


def test_link_next_is_followed(api, real_data):
    posts = real_data["posts"]
    link = f'<{api.url}/posts?_page=2&_limit=50&_via=link>; rel="next"'
    api.script("/posts", Scripted(200, page_body(posts[:50]), {**JSON, "Link": link}))
    assert fetch(api.url, "posts", page_size=50).records == posts
    assert queries(api)[1] == {"_limit": "50", "_page": "2", "_via": "link"}


def test_link_to_another_host_is_followed_without_the_token(api, real_data, monkeypatch):
    monkeypatch.setenv("USER_ACTIVITY_API_TOKEN", TOKEN)
    other = FakeApi(real_data).start()
    try:
        posts = real_data["posts"]
        link = f'<{other.url}/posts?_page=2&_limit=50>; rel="next"'
        api.script("/posts", Scripted(200, page_body(posts[:50]), {**JSON, "Link": link}))
        assert fetch(api.url, "posts", page_size=50).records == posts
        assert api.requests[0].headers["authorization"] == f"Bearer {TOKEN}"
        assert [r.query["_page"] for r in other.requests] == [["2"]]
        assert "authorization" not in other.requests[0].headers
    finally:
        other.stop()


def test_fewer_records_than_x_total_count(api, real_data):
    posts = real_data["posts"]
    total = {**JSON, "X-Total-Count": "100"}
    # a post deleted while paging: the last page is one short
    pages = [posts[0:40], posts[40:80], posts[80:99]]
    api.script("/posts", *[Scripted(200, page_body(p), total) for p in pages])
    assert failure(api.url, "posts", page_size=40, paging="offset") == (
        f"{api.url}/posts: got 99 records in 3 pages but X-Total-Count says 100"
    )


def test_repeated_page(api, real_data):
    first = Scripted(200, page_body(real_data["posts"][:30]), JSON)
    api.script("/posts", first, first)
    assert failure(api.url, "posts", page_size=30, paging="offset") == (
        f"{api.url}/posts page 2 repeats page 1: the server ignores the paging parameters"
    )
    assert len(api.requests) == 2


def test_server_ignoring_paging_parameters(api, real_data):
    everything = Scripted(200, page_body(real_data["posts"]), JSON)
    api.script("/posts", everything, everything)
    assert failure(api.url, "posts", page_size=30) == (
        f"{api.url}/posts page 1 has 100 records for a page size of 30: "
        "the server ignores the paging parameters"
    )
    assert len(api.requests) == 1


def test_duplicate_ids_across_pages(api, real_data):
    posts = real_data["posts"]
    # page 2 overlaps page 1 by one post (an insert while paging shifts the window)
    pages = [posts[0:30], posts[29:59], posts[59:89], posts[89:100]]
    api.script("/posts", *[Scripted(200, page_body(p), JSON) for p in pages])
    assert failure(api.url, "posts", page_size=30, paging="offset") == (
        f"{api.url}/posts record 30 (id 30): duplicate id, first seen at record 29"
    )


def test_a_bad_page_names_its_url(api):
    api.script("/posts", Scripted(200, b"<html>oops</html>", {"Content-Type": "text/html"}))
    assert failure(api.url, "posts", page_size=30) == (
        f"GET {api.url}/posts did not return JSON: status 200, content type text/html, "
        "body starts '<html>oops</html>'"
    )


def test_fetch_all_pages_stops_on_an_empty_first_page():
    seen = []

    def fetch_page(url, index):
        seen.append(url)
        return Page([])

    assert fetch_all_pages("http://h/posts", "page", 10, fetch_page) == []
    assert seen == ["http://h/posts?_page=1&_limit=10"]


def test_fetch_all_pages_x_total_count_too_small():
    pages = [Page([{"id": 1}, {"id": 2}], total=1), Page([], total=1)]
    with pytest.raises(PagingError) as error:
        fetch_all_pages("http://h/p", "offset", 2, lambda url, index: pages[index])
    assert str(error.value) == "http://h/p: got 2 records in 2 pages but X-Total-Count says 1"
