"""The plain script the pipeline replaces, as the benchmark's reference.

What the original did, in the obvious way: one GET per collection with requests, the standard
`json` module, a dict to count posts per user, the `csv` module for the reports. It writes the
same six files, with the same names and bytes, as `user_activity_job` (the benchmark checks it).

`python -m benchmarks.reference API_URL OUT_DIR [--top-n 5]`
"""

import argparse
import csv
import json
import os
import sys

import requests

COLUMNS = ["user_id", "name", "username", "email", "city", "company", "posts_count"]


def write_json(path, value):
    with open(path, "w", encoding="utf-8") as file:
        json.dump(value, file, ensure_ascii=False, indent=2)
        file.write("\n")


def write_csv(path, rows, columns):
    with open(path, "w", encoding="utf-8", newline="") as file:
        writer = csv.writer(file, lineterminator="\r\n")
        writer.writerow(columns)
        for row in rows:
            writer.writerow([row[column] for column in columns])


def main(argv=None):
    parser = argparse.ArgumentParser(description="the original users/posts report script")
    parser.add_argument("api_url")
    parser.add_argument("out_dir")
    parser.add_argument("--top-n", type=int, default=5)
    args = parser.parse_args(argv)
    os.makedirs(args.out_dir, exist_ok=True)

    def out(name):
        return os.path.join(args.out_dir, name)

    collections = {}
    for name in ("users", "posts"):
        response = requests.get(f"{args.api_url.rstrip('/')}/{name}", timeout=(5, 30))
        response.raise_for_status()
        collections[name] = response.json()
        write_json(out(f"{name}.json"), collections[name])
    users, posts = collections["users"], collections["posts"]

    counts = {}
    for post in posts:
        counts[post["userId"]] = counts.get(post["userId"], 0) + 1
    write_json(
        out("post_counts.json"),
        [{"user_id": uid, "posts_count": counts[uid]} for uid in sorted(counts)],
    )

    activity = []
    for user in sorted(users, key=lambda u: u["id"]):
        activity.append(
            {
                "user_id": user["id"],
                "name": user["name"],
                "username": user["username"],
                "email": user["email"],
                "city": user["address"]["city"],
                "company": user["company"]["name"],
                "posts_count": counts.get(user["id"], 0),
            }
        )
    write_csv(out("report_posts_users_list.csv"), activity, COLUMNS)

    ranked = sorted(activity, key=lambda row: (-row["posts_count"], row["user_id"]))
    top = []
    for position, row in enumerate(ranked[: args.top_n]):
        # competition rank: tied users share the rank of the first of them
        tied = position and row["posts_count"] == top[-1]["posts_count"]
        top.append({"rank": top[-1]["rank"] if tied else position + 1, **row})
    write_json(out("user_activity.json"), top)
    write_csv(out("report_user_activity.csv"), top, ["rank", *COLUMNS])
    return 0


if __name__ == "__main__":
    sys.exit(main())
