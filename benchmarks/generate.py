"""Synthetic JSONPlaceholder-shaped users and posts at any size, from a fixed seed.

The records have the real service's fields and nesting (users with `address.geo` and `company`,
posts with `userId`, `id`, `title`, `body`) and similar text lengths, so the bytes per record are
close to the real ones. What the real data lacks and a real product has:
- skewed activity: post counts follow a Zipf-like law, so a few users write most posts;
- ties: the two most active users have the same count (the ranking must share rank 1), and the
  long tail is full of equal counts;
- about 5% of users have no posts (they must appear with 0 in the reports);
- some names are non-ASCII (UTF-8 must survive end to end) and some company names hold a comma
  or a quote (the CSV must quote them);
- posts come in id order, but their authors are interleaved, not grouped.

`python -m benchmarks.generate --posts 1000000 OUT` writes OUT/users.json and OUT/posts.json
(2-space JSON, non-ASCII kept, trailing newline: the layout of the real files).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import shutil
from pathlib import Path
from typing import Any

SEED = 7
POSTS_PER_USER = 100  # 10,000 users for 1,000,000 posts
ZERO_POST_SHARE = 0.05

# fmt: off
WORDS = (
    "sunt", "aut", "facere", "repellat", "provident", "occaecati", "excepturi", "optio",
    "reprehenderit", "qui", "est", "esse", "ea", "molestias", "quasi", "exercitationem", "eum",
    "et", "iusto", "sed", "quo", "iure", "nesciunt", "quas", "odio", "dolorem", "dolor", "beatae",
    "magnam", "facilis", "autem", "quia", "suscipit", "recusandae", "consequuntur", "expedita",
    "cum", "rerum", "tempore", "vitae", "sequi", "sint", "nihil", "porro", "vel", "ut", "non",
    "debitis", "possimus", "neque", "nisi", "nulla",
)
FIRST_NAMES = (
    "Leanne", "Ervin", "Clementine", "Patricia", "Chelsey", "Dennis", "Kurtis", "Nicholas",
    "Glenna", "Clementina",
)
LAST_NAMES = (
    "Graham", "Howell", "Bauch", "Lebsack", "Dietrich", "Schulist", "Weissnat", "Runolfsdottir",
    "Reichert", "DuBuque", "O'Conner",
)
# one name in NON_ASCII_SHARE takes its parts from here
NON_ASCII_FIRST = ("José", "Zoë", "Søren", "Łukasz", "Chloé", "Jürgen", "Renée", "李", "Владимир")
NON_ASCII_LAST = ("Müller", "Ångström", "Nuñez", "Çelik", "Straße", "雷", "Иванов")
NON_ASCII_SHARE = 0.1
COMPANY_SUFFIXES = ("Group", "LLC", "and Sons", "Inc", 'Holdings "Prime"')
CITIES = (
    "Gwenborough", "Wisokyburgh", "McKenziehaven", "South Elvis", "Roscoeview", "Howemouth",
    "Aliyaview",
)
# fmt: on


def _words(rng: random.Random, low: int, high: int) -> str:
    return " ".join(rng.choices(WORDS, k=rng.randint(low, high)))


def make_user(rng: random.Random, user_id: int) -> dict[str, Any]:
    non_ascii = rng.random() < NON_ASCII_SHARE
    first = rng.choice(NON_ASCII_FIRST if non_ascii else FIRST_NAMES)
    last = rng.choice(NON_ASCII_LAST if non_ascii else LAST_NAMES)
    partner = rng.choice(LAST_NAMES)
    company = (
        f"{last}, {partner} and {rng.choice(LAST_NAMES)}"  # a comma: the CSV must quote it
        if user_id % 7 == 0
        else f"{last}-{partner} {rng.choice(COMPANY_SUFFIXES)}"
    )
    return {
        "id": user_id,
        "name": f"{first} {last}",
        "username": f"{first}.{last}{user_id}",
        "email": f"{first}.{last}{user_id}@example.org".lower(),
        "address": {
            "street": f"{rng.choice(LAST_NAMES)} Light",
            "suite": f"Apt. {rng.randint(1, 999)}",
            "city": rng.choice(CITIES),
            "zipcode": f"{rng.randint(10000, 99999)}-{rng.randint(1000, 9999)}",
            "geo": {
                "lat": f"{rng.uniform(-90, 90):.4f}",
                "lng": f"{rng.uniform(-180, 180):.4f}",
            },
        },
        "phone": f"1-{rng.randint(200, 999)}-{rng.randint(200, 999)}-{rng.randint(1000, 9999)}",
        "website": f"{last.lower()}{user_id}.example.org",
        "company": {
            "name": company,
            "catchPhrase": _words(rng, 3, 5),
            "bs": _words(rng, 3, 4),
        },
    }


def post_counts(rng: random.Random, users: int, posts: int) -> list[int]:
    """How many posts each user (by position) writes: Zipf-like, ~5% zeros, a tie at the top."""
    if users < 3:
        raise ValueError(f"need at least 3 users, got {users}")
    silent = set(rng.sample(range(users), max(1, int(users * ZERO_POST_SHARE))))
    order = [u for u in range(users) if u not in silent]
    rng.shuffle(order)  # who is most active is not tied to the id
    weights = [1 / (rank + 1) ** 0.8 for rank in range(len(order))]
    scale = posts / sum(weights)
    counts = [0] * users
    for user, weight in zip(order, weights, strict=True):
        counts[user] = int(weight * scale)
    top, second = order[0], order[1]
    counts[top] = counts[second]  # the two most active users are tied
    # what rounding and the tie left over goes to the quiet end, one post each
    remainder = posts - sum(counts)
    for index in range(remainder):
        counts[order[len(order) - 1 - index % (len(order) - 2)]] += 1
    return counts


def generate(posts: int, users: int | None = None, seed: int = SEED) -> dict[str, list[dict]]:
    """`users` (default posts / 100, at least 10) users and exactly `posts` posts."""
    users = users if users is not None else max(10, posts // POSTS_PER_USER)
    rng = random.Random(seed)
    user_records = [make_user(rng, user_id) for user_id in range(1, users + 1)]
    authors = [
        user_id
        for user_id, count in enumerate(post_counts(rng, users, posts), start=1)
        for _ in range(count)
    ]
    rng.shuffle(authors)
    post_records = [
        {
            "userId": author,
            "id": post_id,
            "title": _words(rng, 2, 9),
            "body": "\n".join(_words(rng, 5, 9) for _ in range(4)),
        }
        for post_id, author in enumerate(authors, start=1)
    ]
    return {"users": user_records, "posts": post_records}


def write_dataset(folder: Path, collections: dict[str, list[dict]]) -> None:
    """`{name}.json` per collection, laid out like the real files."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, records in collections.items():
        text = json.dumps(records, indent=2, ensure_ascii=False) + "\n"
        (folder / f"{name}.json").write_text(text, encoding="utf-8")


def fingerprint() -> str:
    """Changes whenever this generator does: part of a cached dataset's folder name."""
    return hashlib.sha1(Path(__file__).read_bytes()).hexdigest()[:8]


def dataset(folder: Path, posts: int, users: int | None = None, seed: int = SEED) -> Path:
    """A generated dataset in `folder`, written only when it is not there yet (a cache).

    It is written to a temporary folder and renamed, so an interrupted run leaves no half
    dataset that a later run would take for complete.
    """
    if not folder.exists():
        partial = folder.with_name(folder.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        write_dataset(partial, generate(posts, users, seed))
        partial.rename(folder)
    return folder


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--posts", type=int, required=True)
    parser.add_argument("--users", type=int, default=None, help="default: posts / 100, >= 10")
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args(argv)
    write_dataset(args.folder, generate(args.posts, args.users, args.seed))


if __name__ == "__main__":
    main()
