"""The least work target 2 asks of any implementation, without Dagster: a lower bound.

It pages through both collections the way the job does (one requests Session, `_page`/`_limit`
or `_start`/`_limit` at USER_ACTIVITY_PAGE_SIZE), parses each page with orjson, writes users.json
and posts.json with orjson (the same bytes as the job) and counts posts per user. Nothing else:
no validation, no retries, no cache, no fsync, no reports. `floor + minimal` is what the job
cannot go below at a size, so it tells whether a time target is reachable at all.

`python -m benchmarks.minimal API_URL OUT_DIR`
"""

import argparse
import os
from collections import Counter
from operator import itemgetter

import orjson
import requests


def fetch(session: requests.Session, url: str, page_size: int, paging: str) -> list[dict]:
    if not page_size:
        response = session.get(url, timeout=(5, 60))
        response.raise_for_status()
        return orjson.loads(response.content)
    records: list[dict] = []
    while True:
        start = len(records)
        query = {"_page": start // page_size + 1} if paging == "page" else {"_start": start}
        response = session.get(url, params={**query, "_limit": page_size}, timeout=(5, 60))
        response.raise_for_status()
        page = orjson.loads(response.content)
        records += page
        if len(page) < page_size:
            return records


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("api_url")
    parser.add_argument("out_dir")
    args = parser.parse_args(argv)
    page_size = int(os.environ.get("USER_ACTIVITY_PAGE_SIZE") or 0)
    paging = os.environ.get("USER_ACTIVITY_PAGING", "page")
    os.makedirs(args.out_dir, exist_ok=True)
    with requests.Session() as session:
        for name in ("users", "posts"):
            records = fetch(session, f"{args.api_url.rstrip('/')}/{name}", page_size, paging)
            with open(os.path.join(args.out_dir, f"{name}.json"), "wb") as file:
                file.write(orjson.dumps(records, option=orjson.OPT_INDENT_2) + b"\n")
    print(f"{len(Counter(map(itemgetter('userId'), records)))} authors")


if __name__ == "__main__":
    main()
