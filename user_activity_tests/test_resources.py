"""The API client resource against the loopback server and the offline folder."""

import dagster as dg
import pytest

from user_activity.resources import USER_AGENT, ApiError, JsonPlaceholderResource
from user_activity.settings import SNAPSHOT_DIR
from user_activity_tests.fake_api import Scripted


def fetch(base_url: str, collection: str, **config):
    with dg.build_resources({"api": JsonPlaceholderResource(base_url=base_url, **config)}) as res:
        return res.api.fetch(collection)


def test_fetch_users_over_http(api, real_data):
    fetched = fetch(api.url, "users")
    assert fetched.records == real_data["users"]
    assert (fetched.url, fetched.status) == (f"{api.url}/users", 200)
    request = api.requests[-1]
    assert request.path == "/users"
    assert request.headers["user-agent"] == USER_AGENT
    assert USER_AGENT.startswith("user_activity/0.1.0 ")


def test_fetch_from_bundled_snapshot_folder_and_file_url(real_data):
    assert fetch(str(SNAPSHOT_DIR), "posts").records == real_data["posts"]
    by_url = fetch(SNAPSHOT_DIR.as_uri(), "users")
    assert by_url.records == real_data["users"]
    assert by_url.url == (SNAPSHOT_DIR / "users.json").as_uri()


def test_missing_offline_file_names_the_path(tmp_path):
    with pytest.raises(ApiError) as error:
        fetch(str(tmp_path), "users")
    assert str(error.value) == f"cannot read {tmp_path / 'users.json'}: No such file or directory"


def test_http_error_status_names_url_status_and_body(api):
    with pytest.raises(ApiError) as error:
        fetch(api.url, "nothing")
    assert str(error.value) == (
        f"GET {api.url}/nothing failed: status 404, "
        "content type application/json; charset=utf-8, body starts '{}'"
    )


def test_html_page_with_200_is_rejected(api):
    api.script(
        "/users", Scripted(200, b"<html>down for maintenance</html>", {"Content-Type": "text/html"})
    )
    with pytest.raises(ApiError) as error:
        fetch(api.url, "users")
    assert str(error.value) == (
        f"GET {api.url}/users did not return JSON: status 200, content type text/html, "
        "body starts '<html>down for maintenance</html>'"
    )


def test_object_instead_of_array_is_rejected(api):
    api.script("/users", Scripted(200, b'{"users": []}', {"Content-Type": "application/json"}))
    with pytest.raises(ApiError) as error:
        fetch(api.url, "users")
    assert str(error.value) == f"{api.url}/users is not a JSON array but dict"


def test_slow_server_times_out_with_url_in_message(api):
    api.script("/users", Scripted(200, b"[]", {"Content-Type": "application/json"}, delay=1.0))
    with pytest.raises(ApiError) as error:
        fetch(api.url, "users", read_timeout=0.2)
    assert str(error.value) == f"GET {api.url}/users: timeout"


def test_refused_connection_names_the_url():
    with pytest.raises(ApiError, match=r"^GET http://127\.0\.0\.1:9/users: cannot connect: "):
        fetch("http://127.0.0.1:9", "users", connect_timeout=0.5)
