"""The job's files: stable bytes, unchanged files left alone, safe CSV, BOM, the report lock."""

import copy
import errno
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg

from user_activity import atomic_files
from user_activity_tests.expected import OUTPUT_FILES, data_listing
from user_activity_tests.test_assets import run_job
from user_activity_tests.test_atomic_files import HOST_PREFIX, dead_pid, read_line

OLD = 1_000_000_000  # an mtime no run can produce


def materialization_metadata(instance, asset: str) -> dict:
    event = instance.get_latest_materialization_event(dg.AssetKey(asset))
    return {key: value.value for key, value in event.asset_materialization.metadata.items()}


def file_events(project_env: Path, run_id: str) -> list[tuple[str, str]]:
    lines = (project_env / "logs" / "app.log").read_text().splitlines()
    return sorted(
        (Path(line["path"]).name, line["event"])
        for line in map(json.loads, lines)
        if line["run_id"] == run_id and line["event"] in ("file_written", "file_unchanged")
    )


def test_second_run_gives_the_same_bytes_and_leaves_the_files_alone(api, project_env, monkeypatch):
    data = project_env / "data"
    first, first_instance = run_job(api.url, monkeypatch)
    assert materialization_metadata(first_instance, "top_users")["unchanged"] is False
    assert materialization_metadata(first_instance, "top_users")["csv_unchanged"] is False
    before = {name: (data / name).read_bytes() for name in OUTPUT_FILES}
    for name in OUTPUT_FILES:
        os.utime(data / name, (OLD, OLD))
    # what a run killed while writing the CSV report leaves behind
    stale = data / f".report_user_activity.csv.{HOST_PREFIX}{dead_pid()}-k1ll3d"
    stale.write_bytes(b"rank,user_id,na")

    second, instance = run_job(api.url, monkeypatch)
    assert second.success
    assert data_listing(p.name for p in data.iterdir()) == OUTPUT_FILES  # the temporary is gone
    assert {name: (data / name).read_bytes() for name in OUTPUT_FILES} == before
    assert {name: (data / name).stat().st_mtime for name in OUTPUT_FILES} == dict.fromkeys(
        OUTPUT_FILES, OLD
    )
    for asset in ("raw_users", "raw_posts", "post_counts", "user_activity", "top_users"):
        assert materialization_metadata(instance, asset)["unchanged"] is True, asset
    assert materialization_metadata(instance, "top_users")["csv_unchanged"] is True
    assert file_events(project_env, second.run_id) == [
        (name, "file_unchanged") for name in OUTPUT_FILES
    ]
    assert file_events(project_env, first.run_id) == [
        (name, "file_written") for name in OUTPUT_FILES
    ]


def test_only_the_files_whose_content_changed_are_rewritten(api, project_env, monkeypatch):
    data = project_env / "data"
    run_job(api.url, monkeypatch)
    for name in OUTPUT_FILES:
        os.utime(data / name, (OLD, OLD))
    config = {"ops": {"top_users": {"config": {"top_n": 3}}}}
    result, instance = run_job(api.url, monkeypatch, run_config=config)
    assert file_events(project_env, result.run_id) == [
        ("post_counts.json", "file_unchanged"),
        ("posts.json", "file_unchanged"),
        ("report_posts_users_list.csv", "file_unchanged"),
        ("report_user_activity.csv", "file_written"),
        ("user_activity.json", "file_written"),
        ("users.json", "file_unchanged"),
    ]
    assert (data / "user_activity.json").stat().st_mtime != OLD
    assert (data / "users.json").stat().st_mtime == OLD
    assert materialization_metadata(instance, "top_users")["unchanged"] is False
    assert materialization_metadata(instance, "user_activity")["unchanged"] is True


FORMULA_NAMES = {1: "=1+1", 2: "+SUM(A1)", 3: "-2+3", 4: "@cmd", 5: "\tTabbed"}


def test_formulas_are_guarded_in_csv_and_kept_in_json(api, project_env, monkeypatch, real_data):
    users = copy.deepcopy(real_data["users"])
    for user in users:
        user["name"] = FORMULA_NAMES.get(user["id"], user["name"])
    users[0]["address"]["city"] = 'Quote "and", comma\r\nnewline Zoë 東京'
    api.reset({"users": users, "posts": real_data["posts"]})
    run_job(api.url, monkeypatch)
    data = project_env / "data"
    report = (data / "report_user_activity.csv").read_bytes().decode("utf-8").split("\r\n")
    assert report[1:7] == [
        '1,1,\'=1+1,Bret,Sincere@april.biz,"Quote ""and"", comma',
        'newline Zoë 東京",Romaguera-Crona,10',
        "1,2,'+SUM(A1),Antonette,Shanna@melissa.tv,Wisokyburgh,Deckow-Crist,10",
        "1,3,'-2+3,Samantha,Nathan@yesenia.net,McKenziehaven,Romaguera-Jacobson,10",
        "1,4,'@cmd,Karianne,Julianne.OConner@kory.org,South Elvis,Robel-Corkery,10",
        "1,5,'\tTabbed,Kamren,Lucio_Hettinger@annie.ca,Roscoeview,Keebler LLC,10",
    ]
    # top_users read user_activity back from that CSV: the guard is gone, the values are exact
    top = json.loads((data / "user_activity.json").read_text(encoding="utf-8"))
    assert [row["name"] for row in top] == [FORMULA_NAMES[i] for i in range(1, 6)]
    assert top[0]["city"] == 'Quote "and", comma\r\nnewline Zoë 東京'


def test_csv_bom_setting_prefixes_only_the_csv_files(api, project_env, monkeypatch):
    monkeypatch.setenv("USER_ACTIVITY_CSV_BOM", "true")
    run_job(api.url, monkeypatch)
    data = project_env / "data"
    for name in OUTPUT_FILES:
        starts_with_bom = (data / name).read_bytes().startswith(b"\xef\xbb\xbf")
        assert starts_with_bom == name.endswith(".csv"), name
    assert (data / "report_user_activity.csv").read_bytes()[3:].startswith(b"rank,user_id,")
    top = json.loads((data / "user_activity.json").read_text(encoding="utf-8"))
    assert [row["user_id"] for row in top] == [1, 2, 3, 4, 5]


# A second writer of the report pair (another `dagster job execute` in another shell).
PAIR_WRITER = """
import sys, time
from pathlib import Path
from upath import UPath
from user_activity.atomic_files import exclusive

data = Path(sys.argv[1])
with exclusive(UPath(data / "user_activity.json"), timeout=10):
    print("locked", flush=True)
    (data / "user_activity.json").write_text("other run")
    time.sleep(1.0)
    (data / "report_user_activity.csv").write_text("other run")
"""


def test_report_pair_waits_for_another_process_writing_it(api, project_env, monkeypatch):
    data = project_env / "data"
    data.mkdir()
    writer = subprocess.Popen(
        [sys.executable, "-c", PAIR_WRITER, str(data)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert read_line(writer) == "locked\n"
        started = time.monotonic()
        result, _ = run_job(api.url, monkeypatch)
        assert writer.wait(timeout=30) == 0
    finally:
        writer.kill()
        writer.wait(timeout=30)
        writer.stdout.close()
    assert result.success
    assert time.monotonic() - started > 0.5
    # both files of the pair are this run's, written after the other process's pair
    top = json.loads((data / "user_activity.json").read_text(encoding="utf-8"))
    assert [row["user_id"] for row in top] == [1, 2, 3, 4, 5]
    assert (
        (data / "report_user_activity.csv").read_text(encoding="utf-8").startswith("rank,user_id,")
    )


def test_disk_full_while_writing_the_pair_keeps_the_previous_reports(api, project_env, monkeypatch):
    data = project_env / "data"
    run_job(api.url, monkeypatch)
    before = {name: (data / name).read_bytes() for name in OUTPUT_FILES}
    real_fsync = os.fsync

    def disk_full_on_the_csv(fd):
        # the CSV of the pair is the second file staged, after the JSON: a mixed pair if it leaked
        if os.readlink(f"/proc/self/fd/{fd}").startswith(str(data / ".report_user_activity.csv.")):
            raise OSError(errno.ENOSPC, "No space left on device")
        real_fsync(fd)

    monkeypatch.setattr(atomic_files.os, "fsync", disk_full_on_the_csv)
    config = {"ops": {"top_users": {"config": {"top_n": 3}}}}
    result, _ = run_job(api.url, monkeypatch, run_config=config, raise_on_error=False)
    assert not result.success
    failure = result.failure_data_for_node("top_users").error
    assert "OSError: [Errno 28] No space left on device" in failure.to_string()
    assert {name: (data / name).read_bytes() for name in OUTPUT_FILES} == before
    assert data_listing(p.name for p in data.iterdir()) == OUTPUT_FILES
