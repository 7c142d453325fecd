"""The benchmark's code at a tiny size, so it cannot rot: `pytest -m benchmark` runs only this.

One run of the benchmark (generator, loopback server, floor, pipeline and reference, one
repetition each) is shared by the tests that check it; the full measurements are manual
(`python -m benchmarks.run --full`) and their results are committed in benchmarks/results.md.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

import dagster as dg
import pytest
import requests

from benchmarks import floor, minimal, reference
from benchmarks.generate import generate, write_dataset
from benchmarks.run import (
    ASSETS,
    PHASES,
    Size,
    SizeResult,
    contender_env,
    output_files,
    parse_size,
    render,
    run_size,
)
from benchmarks.serve import ServerProcess
from user_activity_tests.conftest import REAL_DATA
from user_activity_tests.expected import REAL_TOP_USERS_CSV, REAL_USER_ACTIVITY_CSV
from user_activity_tests.fake_api import FakeApi

pytestmark = pytest.mark.benchmark

TINY_USERS, TINY_POSTS = 10, 300
# the asset checks' step keys in the event log: one step per checked asset, and
# posts_by_known_users (see checks.py)
CHECK_STEPS = [
    "posts_by_known_users",
    "raw_posts_checks",
    "raw_users_checks",
    "top_users_checks",
    "user_activity_checks",
]
# Posts per user id 1..10 at seed 7: skewed, users 3 and 5 tied at the top, user 6 silent.
TINY_COUNTS = [41, 21, 50, 24, 50, 0, 27, 35, 30, 22]


def shape(value):
    """The nesting of a JSON value: dict keys and value types, recursively."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    return type(value).__name__


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("tiny_data")
    write_dataset(folder, generate(TINY_POSTS, TINY_USERS))
    return folder


@pytest.fixture(scope="module")
def tiny_benchmark(tiny_data, tmp_path_factory) -> tuple[SizeResult, Path, list[str]]:
    work = tmp_path_factory.mktemp("tiny_runs")
    size = Size("tiny", "tiny", tiny_data, TINY_USERS, TINY_POSTS)
    progress: list[str] = []
    result = run_size(
        size,
        ["floor", "pipeline", "reference", "minimal"],
        repeats=1,
        work=work,
        env=contender_env(100, "page"),
        page_size=100,
        paging="page",
        timeout=240,
        progress=progress.append,
    )
    return result, work, progress


def test_generator_gives_skewed_counts_with_ties_and_silent_users():
    data = generate(TINY_POSTS, TINY_USERS)
    counts = Counter(post["userId"] for post in data["posts"])
    assert [counts[user["id"]] for user in data["users"]] == TINY_COUNTS
    assert [post["id"] for post in data["posts"]] == list(range(1, TINY_POSTS + 1))
    assert generate(TINY_POSTS, TINY_USERS) == data  # a fixed seed: the same data every time


def test_generator_records_have_the_real_fields_and_nesting(real_data):
    data = generate(TINY_POSTS, TINY_USERS)
    assert {json.dumps(shape(u)) for u in data["users"]} == {
        json.dumps(shape(real_data["users"][0]))
    }
    assert {json.dumps(shape(p)) for p in data["posts"]} == {
        json.dumps(shape(real_data["posts"][0]))
    }


def test_generator_names_include_non_ascii_and_csv_quoting_cases():
    users = generate(20_000)["users"]
    assert len(users) == 200
    assert sum(not user["name"].isascii() for user in users) == 19
    assert sum("," in user["company"]["name"] for user in users) == 28  # every 7th id
    assert sum('"' in user["company"]["name"] for user in users) > 0


@pytest.mark.parametrize(
    ("text", "users", "posts"),
    [
        ("real", 10, 100),
        ("250k", 2_500, 250_000),
        ("1m", 10_000, 1_000_000),
        ("2M", 20_000, 2_000_000),
        ("10x300", 10, 300),
        ("500", 10, 500),  # never fewer than 10 users
    ],
)
def test_parse_size(text, users, posts):
    size = parse_size(text)
    assert (size.users, size.posts) == (users, posts)


def test_parse_size_rejects_nonsense():
    with pytest.raises(argparse.ArgumentTypeError, match="bad size 'lots': use real, 250k, 1m"):
        parse_size("lots")


def test_memoized_api_builds_each_response_once(real_data):
    api = FakeApi(real_data, memoize=True)
    first = api.respond("/posts", {"_page": ["2"], "_limit": ["10"]}, {})
    again = api.respond("/posts", {"_limit": ["10"], "_page": ["2"]}, {})
    assert again is first
    assert api.gzipped(first) is api.gzipped(again)
    assert [post["id"] for post in json.loads(first.body)] == list(range(11, 21))
    api.reset(real_data)
    assert api.respond("/posts", {"_page": ["2"], "_limit": ["10"]}, {}) is not first


def test_server_process_pages_like_the_live_service(tiny_data):
    with ServerProcess(tiny_data, page_size=100) as url:
        page = requests.get(f"{url}/posts", params={"_page": 2, "_limit": 100}, timeout=10)
        again = requests.get(
            f"{url}/posts?_page=2&_limit=100",
            headers={"If-None-Match": page.headers["ETag"]},
            timeout=10,
        )
        everything = requests.get(f"{url}/users", timeout=10)
        # only what it prepared is kept (gzipped), so an unprepared request finds nothing
        unprepared = requests.get(f"{url}/posts?_page=2&_limit=50", timeout=10)
    assert unprepared.status_code == 404
    assert page.status_code == 200
    assert [post["id"] for post in page.json()] == list(range(101, 201))
    assert page.headers["X-Total-Count"] == "300"
    assert page.headers["Link"] == (
        f'<{url}/posts?_page=1&_limit=100>; rel="first", '
        f'<{url}/posts?_page=1&_limit=100>; rel="prev", '
        f'<{url}/posts?_page=3&_limit=100>; rel="next", '
        f'<{url}/posts?_page=3&_limit=100>; rel="last"'
    )
    assert page.headers["Content-Encoding"] == "gzip"
    assert page.content == json.dumps(page.json(), indent=2, ensure_ascii=False).encode()
    assert (again.status_code, again.content) == (304, b"")
    assert everything.content + b"\n" == (tiny_data / "users.json").read_bytes()


def test_reference_script_writes_the_pipeline_files_on_the_real_data(api, tmp_path):
    assert reference.main([api.url, str(tmp_path)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == output_files()
    assert len(output_files()) == 6
    assert (tmp_path / "users.json").read_bytes() == (REAL_DATA / "users.json").read_bytes()
    assert (tmp_path / "posts.json").read_bytes() == (REAL_DATA / "posts.json").read_bytes()
    assert (tmp_path / "report_posts_users_list.csv").read_bytes().decode() == (
        REAL_USER_ACTIVITY_CSV
    )
    assert (tmp_path / "report_user_activity.csv").read_bytes().decode() == REAL_TOP_USERS_CSV
    assert sorted(r.path for r in api.requests) == ["/posts", "/users"]


def test_minimal_pages_through_both_collections_and_writes_the_same_json(
    api, tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("USER_ACTIVITY_PAGE_SIZE", "30")
    minimal.main([api.url, str(tmp_path)])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["posts.json", "users.json"]
    assert (tmp_path / "users.json").read_bytes() == (REAL_DATA / "users.json").read_bytes()
    assert (tmp_path / "posts.json").read_bytes() == (REAL_DATA / "posts.json").read_bytes()
    assert [(r.path, r.query) for r in api.requests] == [
        ("/users", {"_page": ["1"], "_limit": ["30"]}),
        *[("/posts", {"_page": [str(page)], "_limit": ["30"]}) for page in (1, 2, 3, 4)],
    ]
    assert capsys.readouterr().out == "10 authors\n"


def test_floor_job_materializes_its_constant():
    dg.Definitions.validate_loadable(floor.defs)
    result = floor.defs.resolve_job_def("floor_job").execute_in_process()
    assert result.success
    assert result.output_for_node("constant") == 1


def test_benchmark_pipeline_and_reference_write_the_same_bytes(tiny_benchmark):
    result, work, _ = tiny_benchmark
    assert result.differences == []
    pipeline_data = work / "pipeline" / "run0" / "data"
    top = (pipeline_data / "report_user_activity.csv").read_bytes().decode().splitlines()
    # users 3 and 5 are tied at 50 posts: both rank 1, then user 1 (41 posts) is rank 3
    assert [line.split(",")[:2] for line in top[1:4]] == [["1", "3"], ["1", "5"], ["3", "1"]]
    activity = (pipeline_data / "report_posts_users_list.csv").read_bytes().decode()
    assert [line.rsplit(",", 1)[1] for line in activity.splitlines()[1:]] == [
        str(count) for count in TINY_COUNTS
    ]


def test_benchmark_measures_every_contender(tiny_benchmark):
    result, _, progress = tiny_benchmark
    assert sorted(result.samples) == ["floor", "minimal", "pipeline", "reference"]
    assert progress[:2] == [f"data: tiny in {result.size.folder}", "serving tiny"]
    assert [line.split(":")[0] for line in progress[2:]] == [
        "tiny #1 floor",
        "tiny #1 pipeline",
        "tiny #1 reference",
        "tiny #1 minimal",
    ]
    for name, (sample,) in result.samples.items():
        assert sample.wall > 0, name
        # every contender is a Python process of at least ~10 MiB; the tree holds the largest
        assert sample.peak_rss >= sample.largest_rss > 10 * 2**20, name
    pipeline, floor_run = result.samples["pipeline"][0], result.samples["floor"][0]
    # every asset step and every asset-check step
    assert sorted(pipeline.steps) == sorted([*ASSETS, *CHECK_STEPS])
    assert list(floor_run.steps) == ["constant"]
    assert list(pipeline.phases) == list(PHASES)
    # a step shorter than the 20 ms sampling interval may have no sample of its own: 0
    assert sorted(pipeline.step_rss) == sorted([*ASSETS, *CHECK_STEPS])
    assert all(0 <= rss <= pipeline.peak_rss for rss in pipeline.step_rss.values())
    assert all(seconds > 0 for seconds in pipeline.phases.values())
    assert result.samples["reference"][0].steps == {}
    assert result.samples["minimal"][0].steps == {}


def test_benchmark_report(tiny_benchmark):
    result = tiny_benchmark[0]
    report = render([result], [("CPU", "test CPU")], ["a header line"])
    lines = report.splitlines()
    assert lines[:7] == [
        "# Benchmark results",
        "",
        "a header line",
        "",
        "## Machine",
        "",
        "- CPU: test CPU",
    ]
    rows = [line.split(" | ")[:3] for line in lines if line.startswith("| tiny | ")]
    assert rows[:4] == [
        ["| tiny", "floor", "1"],
        ["| tiny", "pipeline", "1"],
        ["| tiny", "reference", "1"],
        ["| tiny", "minimal", "1"],
    ]
    wall = {name: runs[0].wall for name, runs in result.samples.items()}
    rss = {name: runs[0].peak_rss for name, runs in result.samples.items()}
    time_ratio, rss_ratio = wall["pipeline"] / wall["reference"], rss["pipeline"] / rss["reference"]
    bound = (wall["floor"] + wall["minimal"]) / wall["reference"]
    floor_share = wall["floor"] / wall["reference"]
    targets = lines[lines.index("## Targets (issue 7)") + 4 : lines.index("## Outputs") - 1]
    # the issue sets its goals at the real data and at 1,000,000 posts, not at this size
    assert targets == [
        f"| tiny | 1: pipeline / floor, time | {wall['pipeline'] / wall['floor']:.2f} | – |",
        f"| tiny | 2: pipeline / reference, time | {time_ratio:.2f} | – |",
        f"| tiny | 2: pipeline / reference, peak RSS | {rss_ratio:.2f} | – |",
        f"| tiny | 2: lower bound, (floor + minimal) / reference, time | {bound:.2f} | – |",
        f"| tiny | 2 and 3 together need: floor / reference, time | {floor_share:.2f} | – |",
    ]
    assert "- tiny: the pipeline and the reference wrote the same bytes in all six files" in lines
    assert (
        "- tiny: minimal and reference wrote the same bytes in users.json and posts.json" in lines
    )
    header = (
        "| size | contender | load | plan | steps | exit | " + " | ".join(ASSETS) + " | checks |"
    )
    phase_rows = lines[lines.index(header) + 2 : lines.index(header) + 4]
    pipeline_steps = result.samples["pipeline"][0].steps
    checks = sum(pipeline_steps[step] for step in CHECK_STEPS)
    assert [row.split(" | ")[-1] for row in phase_rows] == ["– |", f"{checks:.2f} |"]
