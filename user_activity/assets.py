"""The asset graph: raw_users, raw_posts -> post_counts -> user_activity -> top_users."""

import logging
from typing import Any

import dagster as dg
import pydantic

from user_activity.app_log import AppLog, logged_step
from user_activity.io_managers import CsvIOManager, JsonAndCsvIOManager, JsonIOManager
from user_activity.quality import field_paths
from user_activity.resources import ApiError, Fetched, JsonPlaceholderResource, RetryNote
from user_activity.settings import CACHE_POLICIES, default_top_n
from user_activity.transform import (
    POST_COUNT_COLUMNS,
    TOP_USERS_COLUMNS,
    USER_ACTIVITY_COLUMNS,
    activity_stats,
    count_posts,
    join_activity,
    rank_top_users,
)
from user_activity.unchanged_refresh import rebuild_reason

GROUP = "user_activity"
OWNERS = ["team:data-engineering"]
# Materialization metadata of the raw assets: the sorted field paths of the collection. The
# schema-drift checks compare it with the previous materialization's (see checks.py).
FIELDS_KEY = "fields"

COLUMN_DESCRIPTIONS = {
    "rank": "competition rank: 1 + the number of users with strictly more posts",
    "user_id": "the user's id in the API",
    "name": "full name",
    "username": "login name",
    "email": "e-mail address",
    "city": "address.city, empty when the API gives none",
    "company": "company.name, empty when the API gives none",
    "posts_count": "number of posts whose userId is this user",
}
_SCHEMA_TYPE_NAMES = {int: "int", str: "string"}
# A list of JSON records, as asset inputs declare it (check inputs are untyped). `Any` to Dagster:
# an input annotated `list[dict[str, Any]]` is type-checked element by element and value by value
# (17 s of a 1,000,000-post run). The records were validated when fetched (`api_records`).
Records = Any


def table_schema(columns: dict[str, type]) -> dg.TableSchema:
    return dg.TableSchema(
        columns=[
            dg.TableColumn(name, _SCHEMA_TYPE_NAMES[kind], description=COLUMN_DESCRIPTIONS[name])
            for name, kind in columns.items()
        ]
    )


def markdown_table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += [
        "| " + " | ".join(str(row[c]).replace("|", "\\|") for c in columns) + " |" for row in rows
    ]
    return "\n".join(lines)


class TopUsersConfig(dg.Config):
    top_n: int = pydantic.Field(
        default=default_top_n(),
        ge=1,
        description="how many users to rank (default USER_ACTIVITY_TOP_N, else 5)",
    )
    include_ties: bool = pydantic.Field(
        default=False, description="extend the list to every user tied with the N-th"
    )


def top_users_config(context: dg.AssetExecutionContext) -> TopUsersConfig:
    """This run's top_users config; fails on an invalid one before anything is downloaded.

    Dagster checks a Config's constraints (top_n >= 1) only when top_users itself runs, which is
    after the fetches; the raw assets call this first so a typo costs no download.
    """
    config = context.run.run_config.get("ops", {}).get("top_users", {}).get("config") or {}
    try:
        return TopUsersConfig(**config)
    except pydantic.ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc']))} {e['msg'].lower()} (got {e['input']!r})"
            for e in error.errors()
        )
        raise dg.Failure(f"Invalid run config for top_users: {problems}") from None


class RawFetchConfig(dg.Config):
    # A str, not a Literal: Dagster's config system cannot express Literal types.
    cache_policy: str | None = pydantic.Field(
        default=None,
        description="refresh (conditional request), force (ignore the cached validators) or "
        "cache-only (no network); default: the api resource's, from USER_ACTIVITY_CACHE_POLICY",
    )


def _fetch(
    context: dg.AssetExecutionContext,
    api: JsonPlaceholderResource,
    config: RawFetchConfig,
    asset: str,
    collection: str,
) -> Fetched:
    with logged_step(context.run.run_id, asset, context.log) as log:
        top_users_config(context)
        if config.cache_policy is not None and config.cache_policy not in CACHE_POLICIES:
            raise dg.Failure(
                "Invalid run config for raw_collections: cache_policy must be one of "
                f"{', '.join(CACHE_POLICIES)}, got {config.cache_policy!r}"
            )

        def log_retry(note: RetryNote) -> None:
            log.event(
                logging.WARNING,
                "retry",
                f"GET {note.url}: {note.problem}; retry {note.attempt} in {note.delay}s",
                url=note.url,
                attempt=note.attempt,
                delay=note.delay,
            )

        try:
            fetched = api.fetch(
                collection,
                config.cache_policy,  # type: ignore[arg-type]
                log_retry,
                # may come after this block, when the records of a 304 refresh are read
                lambda message: AppLog(context.run.run_id, asset, context.log).event(
                    logging.WARNING, "cache_unusable", message
                ),
            )
        except ApiError as error:
            # a Failure shows its message in the UI without a stack trace to dig through
            raise dg.Failure(str(error)) from None
        log.info(
            "fetch",
            _describe_fetch(fetched),
            url=fetched.url,
            status=fetched.status,
            rows=fetched.rows,
            bytes=fetched.bytes,
            seconds=fetched.seconds,
            source=fetched.source,
            pages=fetched.pages,
            data_version=fetched.data_version,
        )
    return fetched


def _read_records(context: dg.AssetExecutionContext, asset: str, fetched: Fetched) -> None:
    """Reads the records of a 304 refresh from the fetch cache (or downloads them again when the
    cache lost them), so that every collection is in hand before any file is written."""
    try:
        _ = fetched.records
    except ApiError as error:
        message = f"{asset}: {error}"
        AppLog(context.run.run_id, asset, context.log).error("error", message, error="ApiError")
        raise dg.Failure(str(error)) from None


def _raw_result(asset: str, fetched: Fetched) -> dg.MaterializeResult:
    records = fetched.records
    metadata: dict[str, Any] = {
        "dagster/row_count": len(records),
        "url": dg.MetadataValue.url(fetched.url),
        "bytes": fetched.bytes,
        "seconds": fetched.seconds,
        "source": fetched.source,
        "pages": fetched.pages,
        "requests": fetched.requests,
        "retries": fetched.retries,
        FIELDS_KEY: dg.MetadataValue.json(field_paths(records)),
    }
    if fetched.status is not None:
        metadata["status"] = fetched.status
    return dg.MaterializeResult(
        asset_key=asset,
        value=records,
        metadata=metadata,
        # from the content, so a 304 or an identical response leaves downstream assets fresh
        data_version=dg.DataVersion(fetched.data_version),
    )


def _describe_fetch(fetched: Fetched) -> str:
    rows = fetched.rows
    if fetched.source == "cache":
        return f"read {rows} records from the cache {fetched.url} (cache-only)"
    if fetched.source == "folder":
        return f"read {fetched.url}: {rows} records, {fetched.bytes} bytes in {fetched.seconds}s"
    pages = f" in {fetched.pages} pages" if fetched.pages > 1 else ""
    if fetched.source == "not modified":
        return (
            f"GET {fetched.url}: status 304 (not modified){pages}, {rows} records from the "
            f"cache in {fetched.seconds}s"
        )
    cached = f" ({fetched.not_modified} pages not modified)" if fetched.not_modified else ""
    return (
        f"GET {fetched.url}: status {fetched.status}, {rows} records{pages}{cached}, "
        f"{fetched.bytes} bytes in {fetched.seconds}s"
    )


RAW_KINDS = {"python", "json"}


RAW_ASSETS = {"raw_users": "users", "raw_posts": "posts"}  # asset -> API collection


def _raw_out(collection: str, description: str) -> dg.AssetOut:
    return dg.AssetOut(
        group_name=GROUP,
        io_manager_key="json_io_manager",
        metadata={"json_file": f"{collection}.json"},
        kinds=RAW_KINDS,
        owners=OWNERS,
        code_version="1",
        description=description,
        is_required=False,  # either collection can be refreshed alone
    )


@dg.multi_asset(
    outs={
        "raw_users": _raw_out(
            "users", "The API's `/users` collection as received: one JSON object per user."
        ),
        "raw_posts": _raw_out(
            "posts",
            "The API's `/posts` collection as received: one JSON object per post, with its "
            "`userId`.",
        ),
    },
    can_subset=True,
)
def raw_collections(
    context: dg.AssetExecutionContext,
    api: JsonPlaceholderResource,
    config: RawFetchConfig,
    # read only for where and how they would write the files now (an unchanged refresh)
    json_io_manager: dg.ResourceParam[JsonIOManager],
    csv_io_manager: dg.ResourceParam[CsvIOManager],
    report_io_manager: dg.ResourceParam[JsonAndCsvIOManager],
):
    """Both raw collections, fetched and validated before either file is written.

    One step rather than one per collection, so that a failed fetch of either leaves users.json
    and posts.json exactly as they were (the reports are downstream and are skipped anyway).
    When every page was a 304 and the reports on disk were built from exactly this data, it
    yields nothing, so Dagster skips the rest of the run (see `unchanged_refresh`).
    """
    selected = {key.to_user_string() for key in context.selected_asset_keys}
    fetched = {
        asset: _fetch(context, api, config, asset, collection)
        for asset, collection in RAW_ASSETS.items()
        if asset in selected
    }
    if all(result.unchanged for result in fetched.values()):
        reason = rebuild_reason(
            context.instance,
            {asset: result.data_version for asset, result in fetched.items()},
            [spec for definition in DOWNSTREAM for spec in definition.specs],
            top_users_config(context).model_dump(),
            _output_settings(
                {
                    "json_io_manager": json_io_manager,
                    "csv_io_manager": csv_io_manager,
                    "report_io_manager": report_io_manager,
                }
            ),
        )
        log = AppLog(context.run.run_id, "raw_collections", context.log)
        if reason is None:
            log.info(
                "unchanged",
                f"{' and '.join(RAW_ASSETS[a] for a in fetched)} not modified and every report "
                "was built from them: nothing to rebuild, the steps after this one are skipped "
                "(cache policy force rebuilds)",
            )
            return
        log.info("rebuild", f"not modified upstream, but {reason}: rebuilding", reason=reason)
    for asset, result in fetched.items():
        _read_records(context, asset, result)
    for asset, result in fetched.items():
        yield _raw_result(asset, result)


def _output_settings(managers: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Asset -> the output settings of the IO manager that writes it in this run."""
    return {
        key.to_user_string(): managers[
            definition.get_io_manager_key_for_asset_key(key)
        ].output_settings()
        for definition in (raw_collections, *DOWNSTREAM)
        for key in definition.keys
    }


@dg.asset(
    group_name=GROUP,
    io_manager_key="json_io_manager",
    metadata={
        "json_file": "post_counts.json",
        "dagster/column_schema": table_schema(POST_COUNT_COLUMNS),
    },
    kinds={"python", "json"},
    owners=OWNERS,
    code_version="1",
)
def post_counts(context: dg.AssetExecutionContext, raw_posts: Records) -> dg.MaterializeResult:
    """Posts per author: one `{user_id, posts_count}` per distinct `userId`, sorted by user_id."""
    with logged_step(context.run.run_id, "post_counts", context.log) as log:
        counts = count_posts(raw_posts)
        log.info("counted", f"{len(raw_posts)} posts by {len(counts)} authors", rows=len(counts))
    return dg.MaterializeResult(
        value=counts,
        metadata={
            "dagster/row_count": len(counts),
            "dagster/column_schema": table_schema(POST_COUNT_COLUMNS),
        },
    )


@dg.asset(
    group_name=GROUP,
    io_manager_key="csv_io_manager",
    metadata={
        "csv_file": "report_posts_users_list.csv",
        "dagster/column_schema": table_schema(USER_ACTIVITY_COLUMNS),
    },
    kinds={"python", "csv"},
    owners=OWNERS,
    code_version="1",
)
def user_activity(
    context: dg.AssetExecutionContext,
    raw_users: Records,
    post_counts: Records,
) -> dg.MaterializeResult:
    """Every user with their post count (0 when none), sorted by user_id.

    Posts whose `userId` matches no user are left out, counted and logged.
    """
    with logged_step(context.run.run_id, "user_activity", context.log) as log:
        activity = join_activity(raw_users, post_counts)
        if activity.orphan_posts:
            log.event(
                30,  # WARNING
                "orphan_posts",
                f"{activity.orphan_posts} posts by {len(activity.orphan_user_ids)} unknown "
                f"userIds left out: {activity.orphan_user_ids[:10]}",
                orphan_posts=activity.orphan_posts,
                orphan_user_ids=activity.orphan_user_ids[:10],
            )
    return dg.MaterializeResult(
        value=activity.rows,
        metadata={
            "dagster/row_count": len(activity.rows),
            "dagster/column_schema": table_schema(USER_ACTIVITY_COLUMNS),
            **activity_stats(activity.rows),
            "orphan_posts": activity.orphan_posts,
            "orphan_user_ids": dg.MetadataValue.json(activity.orphan_user_ids),
        },
    )


@dg.asset(
    group_name=GROUP,
    io_manager_key="report_io_manager",
    metadata={
        "json_file": "user_activity.json",
        "csv_file": "report_user_activity.csv",
        "dagster/column_schema": table_schema(TOP_USERS_COLUMNS),
    },
    kinds={"python", "json", "csv"},
    owners=OWNERS,
    code_version="1",
    pool="user_activity_reports",  # one top_users step at a time per instance (dagster.yaml)
)
def top_users(
    context: dg.AssetExecutionContext,
    config: TopUsersConfig,
    user_activity: Records,
) -> dg.MaterializeResult:
    """The `top_n` most active users, most posts first, then lowest user_id, with their rank."""
    with logged_step(context.run.run_id, "top_users", context.log) as log:
        top = rank_top_users(user_activity, config.top_n, config.include_ties)
        log.info(
            "ranked",
            f"top {config.top_n} of {len(user_activity)} users: {len(top)} rows",
            rows=len(top),
            top_n=config.top_n,
            include_ties=config.include_ties,
        )
    return dg.MaterializeResult(
        value=top,
        metadata={
            "dagster/row_count": len(top),
            "dagster/column_schema": table_schema(TOP_USERS_COLUMNS),
            # the top_users checks (and an unchanged refresh) read these: what the list is of
            **config.model_dump(),
            "preview": dg.MetadataValue.md(markdown_table(top, list(TOP_USERS_COLUMNS))),
        },
    )


# The assets built from the raw ones: what an unchanged refresh must find up to date.
DOWNSTREAM = (post_counts, user_activity, top_users)
