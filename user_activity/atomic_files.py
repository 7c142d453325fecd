"""Replacing files so that a reader only ever sees a whole old or a whole new version.

Local files are written to a hidden temporary name in the same folder (`.<name>.tmp-<host>-<pid>-
<random>`), flushed and fsynced, then renamed over the old file (an atomic step on POSIX), and the
folder is fsynced so the rename survives a power cut. A process killed mid-write leaves only its
hidden temporary, never a partial file under the final name; the next write of that file removes
the temporaries of writers on this host that are no longer alive (a live writer's one is left
alone, so two overlapping runs never delete each other's work). Object stores (s3://, gs://, ...)
publish an upload only once it is complete, so they get a plain write.

A file whose bytes are already the ones to write is not rewritten (its mtime stays). Several files
written together (a report in two formats) are all staged before the first rename, so a failure
while writing leaves all the old files; `exclusive` serializes such groups between processes.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import socket
import tempfile
from collections.abc import Iterator, Mapping

import filelock
from upath import UPath

# mkstemp creates files readable by the owner only; give reports the usual umask-based mode.
_UMASK = os.umask(0)
os.umask(_UMASK)
_HOST = socket.gethostname().replace(os.sep, "_")


class LockTimeout(TimeoutError):
    """Another process kept the lock on a group of files for longer than allowed."""


def is_local(path: UPath) -> bool:
    return path.protocol in ("", "file", "local")


def file_stamp(path: UPath) -> str | None:
    """Size, mtime, ctime and inode of a local file, which any rewrite or edit changes (ctime
    even when the mtime is set back); None for a missing file or one in object storage (whose
    stamps this does not read)."""
    if not is_local(path):
        return None
    try:
        stat = os.stat(os.fspath(path.path))
    except OSError:
        return None
    return f"{stat.st_size}-{stat.st_mtime_ns}-{stat.st_ctime_ns}-{stat.st_ino}"


def _temporary_prefix(name: str) -> str:
    return f".{name}.tmp-{_HOST}-"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # alive, owned by another user
    return True


def remove_stale_temporaries(folder: str, name: str) -> list[str]:
    """Deletes temporaries of `name` left in `folder` by dead writers on this host; returns them."""
    if os.name != "posix":  # os.kill(pid, 0) only probes on POSIX
        return []
    prefix = _temporary_prefix(name)
    removed = []
    with contextlib.suppress(FileNotFoundError):
        for entry in os.listdir(folder):
            pid = entry[len(prefix) :].split("-", 1)[0]
            if entry.startswith(prefix) and pid.isdigit() and not _pid_alive(int(pid)):
                with contextlib.suppress(FileNotFoundError):  # another writer removed it first
                    os.unlink(os.path.join(folder, entry))
                    removed.append(entry)
    return removed


def _stage(local: str, data: bytes) -> str:
    """Writes `data` beside `local` under a temporary name, durably; returns that name."""
    folder, name = os.path.split(local)
    fd, temporary = tempfile.mkstemp(dir=folder, prefix=f"{_temporary_prefix(name)}{os.getpid()}-")
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temporary, 0o666 & ~_UMASK)
    except BaseException:
        os.unlink(temporary)
        raise
    return temporary


def _fsync_folder(folder: str) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomically(path: UPath, data: bytes) -> None:
    """Replaces `path` with `data` in one step: a crash leaves the old file, never half a file."""
    replace_files({path: data}, skip_unchanged=False)


def has_bytes(path: UPath, data: bytes) -> bool:
    try:
        return path.read_bytes() == data
    except FileNotFoundError:
        return False


def replace_files(files: Mapping[UPath, bytes], skip_unchanged: bool = True) -> dict[UPath, bool]:
    """Writes every file whose content differs; returns path -> whether it was written.

    Temporaries that dead writers left beside a local file are removed, written or not.
    """
    for path in files:
        if is_local(path):
            remove_stale_temporaries(*os.path.split(os.fspath(path.path)))
    written = {path: not (skip_unchanged and has_bytes(path, data)) for path, data in files.items()}
    local = [(os.fspath(p.path), files[p]) for p in files if written[p] and is_local(p)]
    staged: list[tuple[str, str]] = []
    try:
        for target, data in local:
            staged.append((_stage(target, data), target))
        while staged:
            temporary, target = staged[0]
            os.replace(temporary, target)
            staged.pop(0)
    finally:
        for temporary, _ in staged:  # a failure before the renames: no file was replaced
            os.unlink(temporary)
    for folder in sorted({os.path.dirname(target) for target, _ in local}):
        _fsync_folder(folder)
    for path, data in files.items():
        if written[path] and not is_local(path):
            path.write_bytes(data)  # object stores publish an upload only once it is complete
    return written


@contextlib.contextmanager
def exclusive(path: UPath, timeout: float) -> Iterator[None]:
    """Holds a lock named after `path` that processes on this host take before writing it.

    The lock file lives in the system temp folder, not beside the data, so the data folder holds
    only the reports and the lock works for object-store paths too (between processes of one host;
    between hosts, Dagster's run queue limit applies, see the README).
    """
    digest = hashlib.sha256(str(path).encode()).hexdigest()[:24]
    lock_path = os.path.join(tempfile.gettempdir(), f"user_activity-{digest}.lock")
    lock = filelock.FileLock(lock_path, timeout=timeout, mode=0o666 & ~_UMASK)
    try:
        lock.acquire()
    except filelock.Timeout:
        raise LockTimeout(
            f"another process has been writing {path} for more than {timeout}s "
            f"(lock file {lock_path})"
        ) from None
    try:
        yield
    finally:
        lock.release()
