"""Atomic replacement: failures and killed writers leave the old files, unchanged files stay put."""

import errno
import os
import selectors
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from upath import UPath

from user_activity import atomic_files
from user_activity.atomic_files import (
    LockTimeout,
    exclusive,
    remove_stale_temporaries,
    replace_files,
    write_atomically,
)

HOST_PREFIX = f"tmp-{atomic_files._HOST}-"


def read_line(process: subprocess.Popen, timeout: float = 60) -> str:
    """The child's next stdout line, or "" if it prints none within `timeout` seconds."""
    selector = selectors.DefaultSelector()
    selector.register(process.stdout, selectors.EVENT_READ)
    ready = selector.select(timeout)
    selector.close()
    return process.stdout.readline() if ready else ""


def listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait(timeout=30)
    return child.pid


def test_new_content_replaces_the_file_and_keeps_no_temporary(tmp_path):
    target = tmp_path / "r.csv"
    target.write_bytes(b"old")
    assert replace_files({UPath(target): b"new"}) == {UPath(target): True}
    assert target.read_bytes() == b"new"
    assert listing(tmp_path) == ["r.csv"]


def test_same_content_is_not_rewritten(tmp_path):
    target = tmp_path / "r.csv"
    target.write_bytes(b"same")
    os.utime(target, (1_000_000_000, 1_000_000_000))
    inode = target.stat().st_ino
    assert replace_files({UPath(target): b"same"}) == {UPath(target): False}
    assert target.stat().st_mtime == 1_000_000_000
    assert target.stat().st_ino == inode
    # forced, as write_atomically does, it is replaced even when equal
    write_atomically(UPath(target), b"same")
    assert target.stat().st_mtime != 1_000_000_000


def test_files_get_the_umask_mode_not_mkstemps_0600(tmp_path, monkeypatch):
    monkeypatch.setattr(atomic_files, "_UMASK", 0o022)  # the umask read when the module loaded
    write_atomically(UPath(tmp_path / "r.json"), b"{}")
    assert (tmp_path / "r.json").stat().st_mode & 0o777 == 0o644


def test_disk_full_half_way_through_a_pair_leaves_both_old_files(tmp_path, monkeypatch):
    json_file, csv_file = tmp_path / "top.json", tmp_path / "top.csv"
    json_file.write_bytes(b"old json")
    csv_file.write_bytes(b"old csv")
    calls = []

    def fsync_fails_on_the_second_file(fd):
        calls.append(fd)
        if len(calls) == 2:
            raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(atomic_files.os, "fsync", fsync_fails_on_the_second_file)
    with pytest.raises(OSError, match=r"^\[Errno 28\] No space left on device$"):
        replace_files({UPath(json_file): b"new json", UPath(csv_file): b"new csv"})
    # the JSON was fully staged, but nothing is renamed until both are: no mixed pair
    assert (json_file.read_bytes(), csv_file.read_bytes()) == (b"old json", b"old csv")
    assert listing(tmp_path) == ["top.csv", "top.json"]


# A writer that goes through write_atomically and stops for good once the new bytes are in its
# temporary file but before the rename: the worst moment to be killed.
KILLED_WRITER = """
import sys, time
from upath import UPath
from user_activity import atomic_files

def fsync_then_hang(fd):
    print("half-way", flush=True)
    time.sleep(600)

atomic_files.os.fsync = fsync_then_hang
atomic_files.write_atomically(UPath(sys.argv[1]), b"new report, never finished")
"""


def test_killed_writer_leaves_the_old_file_and_the_next_write_cleans_up(tmp_path):
    target = tmp_path / "report.csv"
    target.write_bytes(b"previous report")
    writer = subprocess.Popen(
        [sys.executable, "-c", KILLED_WRITER, str(target)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert read_line(writer) == "half-way\n"
        os.kill(writer.pid, signal.SIGKILL)
    finally:
        writer.kill()
        writer.wait(timeout=30)
        writer.stdout.close()
    assert target.read_bytes() == b"previous report"
    # its temporary is left, hidden and under another name, never as report.csv
    stray = [name for name in listing(tmp_path) if name != "report.csv"]
    assert [name.startswith(f".report.csv.{HOST_PREFIX}{writer.pid}-") for name in stray] == [True]
    assert (tmp_path / stray[0]).read_bytes() == b"new report, never finished"
    # the next write of the file removes it
    write_atomically(UPath(target), b"next report")
    assert target.read_bytes() == b"next report"
    assert listing(tmp_path) == ["report.csv"]


def test_only_temporaries_of_dead_writers_are_removed(tmp_path):
    live = f".r.csv.{HOST_PREFIX}{os.getpid()}-abc"
    dead = f".r.csv.{HOST_PREFIX}{dead_pid()}-def"
    other_host = f".r.csv.tmp-elsewhere-{dead_pid()}-ghi"
    other_file = f".s.csv.{HOST_PREFIX}{dead_pid()}-jkl"
    for name in (live, dead, other_host, other_file):
        (tmp_path / name).write_bytes(b"x")
    assert remove_stale_temporaries(str(tmp_path), "r.csv") == [dead]
    assert listing(tmp_path) == sorted([live, other_host, other_file])


def test_stale_temporaries_go_even_when_the_file_is_unchanged(tmp_path):
    (tmp_path / "r.csv").write_bytes(b"same")
    stale = tmp_path / f".r.csv.{HOST_PREFIX}{dead_pid()}-xyz"
    stale.write_bytes(b"half")
    assert replace_files({UPath(tmp_path / "r.csv"): b"same"}) == {UPath(tmp_path / "r.csv"): False}
    assert listing(tmp_path) == ["r.csv"]


def test_memory_filesystem_is_written_and_compared_too():
    target = UPath("memory://atomic-test/data/r.json")
    target.parent.mkdir(parents=True, exist_ok=True)
    assert replace_files({target: b"[1]"}) == {target: True}
    assert replace_files({target: b"[1]"}) == {target: False}
    assert replace_files({target: b"[2]"}) == {target: True}
    assert target.read_bytes() == b"[2]"


# Another process (a second `dagster job execute`) holding the lock on the report pair.
LOCK_HOLDER = """
import sys, time
from pathlib import Path
from upath import UPath
from user_activity.atomic_files import exclusive

with exclusive(UPath(sys.argv[1]), timeout=10):
    print("locked", flush=True)
    time.sleep(float(sys.argv[2]))
    Path(sys.argv[1] + ".holder-done").touch()
"""


def hold_lock(path: Path, seconds: float) -> subprocess.Popen:
    holder = subprocess.Popen(
        [sys.executable, "-c", LOCK_HOLDER, str(path), str(seconds)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert read_line(holder) == "locked\n"
    return holder


def stop(process: subprocess.Popen) -> None:
    process.kill()
    process.wait(timeout=30)
    process.stdout.close()


def test_lock_held_by_another_process_times_out_with_a_clear_error(tmp_path):
    holder = hold_lock(tmp_path / "top.json", 60)
    try:
        with pytest.raises(LockTimeout) as error, exclusive(UPath(tmp_path / "top.json"), 0.3):
            pytest.fail("entered a lock that another process holds")
    finally:
        stop(holder)
    assert str(error.value).startswith(
        f"another process has been writing {tmp_path / 'top.json'} for more than 0.3s (lock file "
    )


def test_lock_waits_for_the_other_process_then_enters(tmp_path):
    holder = hold_lock(tmp_path / "top.json", 1.0)
    try:
        started = time.monotonic()
        with exclusive(UPath(tmp_path / "top.json"), 30):
            waited = time.monotonic() - started
            # entered only once the holder had finished its work under the lock
            assert (tmp_path / "top.json.holder-done").exists()
    finally:
        stop(holder)
    assert waited > 0.2
