"""The JSON IO manager's memory of file values: shared while the file is unchanged, never after."""

import os

from upath import UPath

from user_activity.io_managers import RecentValues


def test_a_value_is_shared_while_its_file_is_unchanged(tmp_path):
    path = UPath(tmp_path / "posts.json")
    path.write_bytes(b"[1]\n")
    recent = RecentValues()
    value = [1]
    recent.remember(path, value)
    known, again = recent.get(path)
    assert known and again is value


def test_a_replaced_or_edited_file_is_read_again(tmp_path):
    path = UPath(tmp_path / "posts.json")
    path.write_bytes(b"[1]\n")
    recent = RecentValues()
    recent.remember(path, [1])
    os.replace(_write(tmp_path / "new", b"[2]\n"), path.path)  # same size, another inode
    assert recent.get(path) == (False, None)
    recent.remember(path, [2])
    path.write_bytes(b"[3, 4]\n")  # same inode, other size and mtime
    assert recent.get(path) == (False, None)


def test_a_missing_or_remote_file_is_not_remembered(tmp_path):
    recent = RecentValues()
    missing = UPath(tmp_path / "gone.json")
    recent.remember(missing, [1])
    assert recent.get(missing) == (False, None)
    remote = UPath("memory://bucket/posts.json")
    remote.write_bytes(b"[1]\n")
    recent.remember(remote, [1])
    assert recent.get(remote) == (False, None)


def _write(path, data):
    path.write_bytes(data)
    return path


def test_an_edit_of_the_same_size_with_the_mtime_set_back_is_read_again(tmp_path):
    path = UPath(tmp_path / "posts.json")
    path.write_bytes(b"[1]\n")
    before = os.stat(path.path)
    recent = RecentValues()
    recent.remember(path, [1])
    path.write_bytes(b"[2]\n")  # same inode, same size
    os.utime(path.path, ns=(before.st_atime_ns, before.st_mtime_ns))  # the ctime still moves
    assert recent.get(path) == (False, None)
