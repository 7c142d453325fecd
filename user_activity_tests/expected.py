"""Expected values, written out by hand: the real JSONPlaceholder data and a small made-up set."""

REAL_PROFILES = [
    (1, "Leanne Graham", "Bret", "Sincere@april.biz", "Gwenborough", "Romaguera-Crona"),
    (2, "Ervin Howell", "Antonette", "Shanna@melissa.tv", "Wisokyburgh", "Deckow-Crist"),
    (
        3,
        "Clementine Bauch",
        "Samantha",
        "Nathan@yesenia.net",
        "McKenziehaven",
        "Romaguera-Jacobson",
    ),
    (
        4,
        "Patricia Lebsack",
        "Karianne",
        "Julianne.OConner@kory.org",
        "South Elvis",
        "Robel-Corkery",
    ),
    (5, "Chelsey Dietrich", "Kamren", "Lucio_Hettinger@annie.ca", "Roscoeview", "Keebler LLC"),
    (
        6,
        "Mrs. Dennis Schulist",
        "Leopoldo_Corkery",
        "Karley_Dach@jasper.info",
        "South Christy",
        "Considine-Lockman",
    ),
    (7, "Kurtis Weissnat", "Elwyn.Skiles", "Telly.Hoeger@billy.biz", "Howemouth", "Johns Group"),
    (
        8,
        "Nicholas Runolfsdottir V",
        "Maxime_Nienow",
        "Sherwood@rosamond.me",
        "Aliyaview",
        "Abernathy Group",
    ),
    (
        9,
        "Glenna Reichert",
        "Delphine",
        "Chaim_McDermott@dana.io",
        "Bartholomebury",
        "Yost and Sons",
    ),
    (
        10,
        "Clementina DuBuque",
        "Moriah.Stanton",
        "Rey.Padberg@karina.biz",
        "Lebsackbury",
        "Hoeger LLC",
    ),
]
FIELDS = ["user_id", "name", "username", "email", "city", "company"]

# Every real user wrote exactly 10 of the 100 posts.
REAL_POST_COUNTS = [{"user_id": uid, "posts_count": 10} for uid in range(1, 11)]
REAL_USER_ACTIVITY = [
    {**dict(zip(FIELDS, p, strict=True)), "posts_count": 10} for p in REAL_PROFILES
]
# One ten-way tie: the first five by user_id, all sharing rank 1.
REAL_TOP_USERS = [{"rank": 1, **row} for row in REAL_USER_ACTIVITY[:5]]

REAL_TOP_USERS_CSV = (
    "rank,user_id,name,username,email,city,company,posts_count\r\n"
    "1,1,Leanne Graham,Bret,Sincere@april.biz,Gwenborough,Romaguera-Crona,10\r\n"
    "1,2,Ervin Howell,Antonette,Shanna@melissa.tv,Wisokyburgh,Deckow-Crist,10\r\n"
    "1,3,Clementine Bauch,Samantha,Nathan@yesenia.net,McKenziehaven,Romaguera-Jacobson,10\r\n"
    "1,4,Patricia Lebsack,Karianne,Julianne.OConner@kory.org,South Elvis,Robel-Corkery,10\r\n"
    "1,5,Chelsey Dietrich,Kamren,Lucio_Hettinger@annie.ca,Roscoeview,Keebler LLC,10\r\n"
)
REAL_USER_ACTIVITY_CSV = (
    "user_id,name,username,email,city,company,posts_count\r\n"
    "1,Leanne Graham,Bret,Sincere@april.biz,Gwenborough,Romaguera-Crona,10\r\n"
    "2,Ervin Howell,Antonette,Shanna@melissa.tv,Wisokyburgh,Deckow-Crist,10\r\n"
    "3,Clementine Bauch,Samantha,Nathan@yesenia.net,McKenziehaven,Romaguera-Jacobson,10\r\n"
    "4,Patricia Lebsack,Karianne,Julianne.OConner@kory.org,South Elvis,Robel-Corkery,10\r\n"
    "5,Chelsey Dietrich,Kamren,Lucio_Hettinger@annie.ca,Roscoeview,Keebler LLC,10\r\n"
    "6,Mrs. Dennis Schulist,Leopoldo_Corkery,Karley_Dach@jasper.info,South Christy,"
    "Considine-Lockman,10\r\n"
    "7,Kurtis Weissnat,Elwyn.Skiles,Telly.Hoeger@billy.biz,Howemouth,Johns Group,10\r\n"
    "8,Nicholas Runolfsdottir V,Maxime_Nienow,Sherwood@rosamond.me,Aliyaview,Abernathy Group,10\r\n"
    "9,Glenna Reichert,Delphine,Chaim_McDermott@dana.io,Bartholomebury,Yost and Sons,10\r\n"
    "10,Clementina DuBuque,Moriah.Stanton,Rey.Padberg@karina.biz,Lebsackbury,Hoeger LLC,10\r\n"
)

# A small set made to exercise the edges: unequal counts with a tie at the top (users 1 and 3),
# a user without address or company (2), a user with no post (4), non-ASCII and CSV-special
# characters (3), and two posts by user 99, who does not exist (orphans).
SMALL_USERS = [
    {
        "id": 3,
        "name": "Émile Zola",
        "username": "emile",
        "email": "emile@example.fr",
        "address": {"city": "Paris, FR"},
        "company": {"name": 'The "Quoted" Co'},
    },
    {
        "id": 1,
        "name": "Ada Lovelace",
        "username": "ada",
        "email": "ada@example.org",
        "address": {"city": "London"},
        "company": {"name": "Analytical Engines"},
    },
    {"id": 2, "name": "Bob", "username": "bob", "email": "bob@example.com"},
    {
        "id": 4,
        "name": "Dee",
        "username": "dee",
        "email": "dee@example.com",
        "address": {"city": "Oslo"},
        "company": {"name": "Fjord"},
    },
]
SMALL_POSTS = [
    {"userId": uid, "id": pid, "title": f"post {pid}", "body": "text"}
    for pid, uid in enumerate([1, 3, 1, 2, 99, 3, 1, 3, 99], start=1)
]
SMALL_POST_COUNTS = [
    {"user_id": 1, "posts_count": 3},
    {"user_id": 2, "posts_count": 1},
    {"user_id": 3, "posts_count": 3},
    {"user_id": 99, "posts_count": 2},
]
SMALL_USER_ACTIVITY = [
    {
        "user_id": 1,
        "name": "Ada Lovelace",
        "username": "ada",
        "email": "ada@example.org",
        "city": "London",
        "company": "Analytical Engines",
        "posts_count": 3,
    },
    {
        "user_id": 2,
        "name": "Bob",
        "username": "bob",
        "email": "bob@example.com",
        "city": "",
        "company": "",
        "posts_count": 1,
    },
    {
        "user_id": 3,
        "name": "Émile Zola",
        "username": "emile",
        "email": "emile@example.fr",
        "city": "Paris, FR",
        "company": 'The "Quoted" Co',
        "posts_count": 3,
    },
    {
        "user_id": 4,
        "name": "Dee",
        "username": "dee",
        "email": "dee@example.com",
        "city": "Oslo",
        "company": "Fjord",
        "posts_count": 0,
    },
]
SMALL_USER_ACTIVITY_CSV = (
    "user_id,name,username,email,city,company,posts_count\r\n"
    "1,Ada Lovelace,ada,ada@example.org,London,Analytical Engines,3\r\n"
    "2,Bob,bob,bob@example.com,,,1\r\n"
    '3,Émile Zola,emile,emile@example.fr,"Paris, FR","The ""Quoted"" Co",3\r\n'
    "4,Dee,dee,dee@example.com,Oslo,Fjord,0\r\n"
)


def small_top(*ranked: tuple[int, int]) -> list[dict]:
    """Top-users rows for (rank, user_id) pairs of the small set."""
    by_id = {row["user_id"]: row for row in SMALL_USER_ACTIVITY}
    return [{"rank": rank, **by_id[uid]} for rank, uid in ranked]


# asset -> (blocking checks, warning checks)
CHECKS = {
    "raw_users": (["user_ids_unique", "users_not_empty"], ["users_schema_unchanged"]),
    "raw_posts": (["post_ids_unique"], ["posts_by_known_users", "posts_schema_unchanged"]),
    "user_activity": (["every_post_counted", "one_row_per_user"], []),
    "top_users": (
        ["top_users_ordered", "top_users_ranks_consistent", "top_users_size_matches_top_n"],
        ["top_users_cut_keeps_ties"],
    ),
}
# (asset, check) of every step of the job; check is None for the asset's own step
STEPS = sorted(
    [(asset, None) for asset in CHECKS]
    + [(asset, name) for asset, (blocking, warn) in CHECKS.items() for name in blocking + warn]
    + [("post_counts", None)],
    key=str,
)
# Every file the job writes, sorted by name.
OUTPUT_FILES = [
    "post_counts.json",
    "posts.json",
    "report_posts_users_list.csv",
    "report_user_activity.csv",
    "user_activity.json",
    "users.json",
]

# A folder the API resource may keep inside the data dir (the fetch cache of issue 3): not a
# report, so listings of the data dir leave it out.
FETCH_CACHE = ".cache"


def data_listing(names) -> list[str]:
    """The sorted names in a data dir listing, the fetch cache's folder and files left out."""
    return sorted(n for n in names if n != FETCH_CACHE and not n.startswith(f"{FETCH_CACHE}/"))
