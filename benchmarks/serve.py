"""The benchmark's API: a folder of users.json/posts.json served on 127.0.0.1 like the live service.

It is the tests' loopback imitation of json-server (`user_activity_tests.fake_api.FakeApi`: paging
with `_page`/`_limit` or `_start`/`_limit`, `X-Total-Count`, `Link`, 2-space JSON, weak ETag and
304, gzip) in memoizing mode, run in a process of its own so that its work never counts against a
contender's CPU or memory. Before it says it is ready it builds and gzips every response the
contenders will ask for (the whole collections, and every page at the given page size), so each
request is a copy from memory.

`python -m benchmarks.serve FOLDER [--page-size N] [--paging page|offset]` prints `ready <url>`
and serves until its standard input closes (or SIGTERM).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path
from types import TracebackType

from user_activity.file_formats import loads
from user_activity_tests.fake_api import FakeApi

COLLECTIONS = ("users", "posts")
# requests asks for gzip by default, so the gzipped bodies are what gets sent
CLIENT_HEADERS = {"accept-encoding": "gzip, deflate"}


def load_collections(folder: Path) -> dict[str, list[dict]]:
    # the project's loads: orjson where it gives json's values (fast), json beyond orjson's limits
    return {name: loads((folder / f"{name}.json").read_bytes()) for name in COLLECTIONS}


def warm(api: FakeApi, page_size: int | None, paging: str = "page") -> None:
    """Builds and gzips each response a contender can ask for, before anyone asks.

    That is each whole collection (the reference script, the pipeline without paging) and each
    page at `page_size` in the `paging` style, `page` (`_page`/`_limit`) or `offset`
    (`_start`/`_limit`). Then only the gzipped bodies are kept (the records and plain bodies
    would hold ~2 GB per million posts beside the contenders): other requests get a 404.
    """
    queries: list[tuple[str, dict[str, list[str]]]] = []
    for name, records in api.collections.items():
        path = f"/{name}"
        queries.append((path, {}))
        if page_size:
            pages = -(-len(records) // page_size) + 1  # one past the end: the empty page
            for page in range(1, pages + 1):
                limit = [str(page_size)]
                if paging == "page":
                    queries.append((path, {"_page": [str(page)], "_limit": limit}))
                else:
                    start = [str((page - 1) * page_size)]
                    queries.append((path, {"_start": start, "_limit": limit}))
    for path, query in queries:
        api.respond(path, query, CLIENT_HEADERS)
        # one plain body at a time: at 10M posts all of them would not fit beside the records
        api.keep_gzipped_only()
    api.forget_records()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--page-size", type=int, default=None)
    parser.add_argument("--paging", choices=("page", "offset"), default="page")
    args = parser.parse_args(argv)
    api = FakeApi(load_collections(args.folder), memoize=True).start()
    warm(api, args.page_size, args.paging)
    print(f"ready {api.url}", flush=True)
    try:
        sys.stdin.read()  # the parent closes our stdin (or dies) to stop us
    finally:
        api.stop()


class ServerProcess:
    """`with ServerProcess(folder, page_size) as url:` serves `folder` from a child process."""

    def __init__(self, folder: Path, page_size: int | None = None, paging: str = "page"):
        self.command = [sys.executable, "-m", "benchmarks.serve", str(folder)]
        if page_size:
            self.command += ["--page-size", str(page_size), "--paging", paging]
        self.process: subprocess.Popen[str] | None = None

    def __enter__(self) -> str:
        project = Path(__file__).resolve().parent.parent
        self.process = subprocess.Popen(
            self.command, cwd=project, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        assert self.process.stdout is not None
        # a crash closes stdout, which ends this wait with an empty line
        line = self.process.stdout.readline()
        if not line.startswith("ready "):
            self.__exit__(None, None, None)
            raise RuntimeError(f"benchmark server did not start: {line!r}")
        return line.split()[1]

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self.process is None:
            return
        if self.process.stdin:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        if self.process.stdout:
            self.process.stdout.close()
        self.process = None


if __name__ == "__main__":
    main()
