"""Asset checks: the quality rules of `quality.py` wired to the assets.

Blocking checks (severity ERROR) stop the assets downstream of the one they check and fail the
run, so bad input never reaches a report. Warnings (severity WARN) never block. A check runs
right after its asset, in the same run, so it sees the materialization just written; the data
files of the checked asset itself are already on disk by then (Dagster checks run after the
asset), only what is built from them is held back.
"""

import logging
from collections.abc import Callable

import dagster as dg

from user_activity import quality
from user_activity.app_log import logged_step
from user_activity.assets import FIELDS_KEY, Records, top_users, user_activity

raw_users = dg.AssetKey("raw_users")
raw_posts = dg.AssetKey("raw_posts")

ERROR = dg.AssetCheckSeverity.ERROR
WARN = dg.AssetCheckSeverity.WARN


def _result(
    context: dg.AssetCheckExecutionContext,
    severity: dg.AssetCheckSeverity,
    rule: Callable[[], quality.Verdict],
) -> dg.AssetCheckResult:
    """Evaluates a rule inside a logged step and reports it as this check's result."""
    spec = context.check_specs[0]
    asset = spec.asset_key.to_user_string()
    with logged_step(context.run.run_id, asset, context.log, check=spec.name) as log:
        verdict = rule()
        outcome = "passed" if verdict.passed else f"failed ({severity.value})"
        level = logging.INFO
        if not verdict.passed:
            level = logging.ERROR if severity == ERROR else logging.WARNING
        log.event(
            level,
            "check_result",
            f"{asset} check {spec.name} {outcome}: {verdict.message}",
            passed=verdict.passed,
            severity=severity.value,
            **verdict.metadata,
        )
    return dg.AssetCheckResult(
        passed=verdict.passed,
        severity=severity,
        description=verdict.message,
        metadata=verdict.metadata,
    )


def _latest_metadata(context: dg.AssetCheckExecutionContext, records: int) -> list[dict]:
    """Metadata of the checked asset's latest `records` materializations, newest first."""
    asset_key = context.check_specs[0].asset_key
    found = context.instance.fetch_materializations(asset_key, limit=records).records
    return [
        {key: value.value for key, value in record.asset_materialization.metadata.items()}
        for record in found
    ]


def _drift(context: dg.AssetCheckExecutionContext, collection: str) -> quality.Verdict:
    # The field set of each materialization is stored as its own metadata, so the previous one
    # comes from the instance's event log: it survives restarts, works whichever way the run was
    # launched, and shows in the UI beside the check. The check runs right after the asset in the
    # same run, so the newest materialization is the one being checked.
    # A materialization made before field sets were recorded counts as none: a warning check
    # should not fail a run over missing history.
    latest = _latest_metadata(context, 2)
    if not latest or FIELDS_KEY not in latest[0]:
        return quality.Verdict(
            True,
            f"{collection}: the latest materialization records no field set; the next one will",
            {"fields": 0, "fields_added": [], "fields_removed": []},
        )
    previous = latest[1].get(FIELDS_KEY) if len(latest) > 1 else None
    return quality.schema_drift(collection, previous, latest[0][FIELDS_KEY])


def _top_users_settings(context: dg.AssetCheckExecutionContext) -> tuple[int, bool]:
    """The top_n and include_ties that produced the latest top_users, from its metadata: the
    check may run in another run than the asset (from the UI), so run config cannot tell."""
    latest = _latest_metadata(context, 1)
    if not latest or "top_n" not in latest[0] or "include_ties" not in latest[0]:
        raise dg.Failure(
            "top_users: the latest materialization records no top_n/include_ties: "
            "materialize it again"
        )
    return latest[0]["top_n"], latest[0]["include_ties"]


# Inputs some checks read besides the asset they check.
_RAW_USERS_IN = {"raw_users": dg.AssetIn("raw_users")}
_USER_ACTIVITY_IN = {"user_activity": dg.AssetIn("user_activity")}


@dg.asset_check(asset=raw_users, blocking=True, description="The API returned at least one user.")
def users_not_empty(context: dg.AssetCheckExecutionContext, raw_users: Records):
    return _result(context, ERROR, lambda: quality.not_empty(raw_users, "users"))


@dg.asset_check(asset=raw_users, blocking=True, description="Every user has an id of its own.")
def user_ids_unique(context: dg.AssetCheckExecutionContext, raw_users: Records):
    return _result(context, ERROR, lambda: quality.ids_unique(raw_users, "users"))


@dg.asset_check(
    asset=raw_users, description="Warns when users gained or lost fields since the last run."
)
def users_schema_unchanged(context: dg.AssetCheckExecutionContext):
    return _result(context, WARN, lambda: _drift(context, "users"))


@dg.asset_check(asset=raw_posts, blocking=True, description="Every post has an id of its own.")
def post_ids_unique(context: dg.AssetCheckExecutionContext, raw_posts: Records):
    return _result(context, ERROR, lambda: quality.ids_unique(raw_posts, "posts"))


@dg.asset_check(
    asset=raw_posts,
    additional_ins=_RAW_USERS_IN,
    description="Warns about posts whose userId matches no user (left out of the reports).",
)
def posts_by_known_users(
    context: dg.AssetCheckExecutionContext, raw_posts: Records, raw_users: Records
):
    return _result(context, WARN, lambda: quality.posts_by_known_users(raw_users, raw_posts))


@dg.asset_check(
    asset=raw_posts, description="Warns when posts gained or lost fields since the last run."
)
def posts_schema_unchanged(context: dg.AssetCheckExecutionContext):
    return _result(context, WARN, lambda: _drift(context, "posts"))


@dg.asset_check(
    asset=user_activity,
    blocking=True,
    additional_ins=_RAW_USERS_IN,
    description="Exactly one row for each user in raw_users.",
)
def one_row_per_user(
    context: dg.AssetCheckExecutionContext, user_activity: Records, raw_users: Records
):
    return _result(context, ERROR, lambda: quality.one_row_per_user(user_activity, raw_users))


@dg.asset_check(
    asset=user_activity,
    blocking=True,
    additional_ins={**_RAW_USERS_IN, "raw_posts": dg.AssetIn("raw_posts")},
    description="sum(posts_count) + posts by unknown users == number of posts in raw_posts.",
)
def every_post_counted(
    context: dg.AssetCheckExecutionContext,
    user_activity: Records,
    raw_users: Records,
    raw_posts: Records,
):
    return _result(
        context, ERROR, lambda: quality.every_post_counted(user_activity, raw_users, raw_posts)
    )


@dg.asset_check(
    asset=top_users,
    blocking=True,
    additional_ins=_USER_ACTIVITY_IN,
    description="top_n rows (fewer if there are fewer users), or more with include_ties.",
)
def top_users_size_matches_top_n(
    context: dg.AssetCheckExecutionContext, top_users: Records, user_activity: Records
):
    return _result(
        context,
        ERROR,
        lambda: quality.top_size(top_users, user_activity, *_top_users_settings(context)),
    )


@dg.asset_check(
    asset=top_users,
    blocking=True,
    description="Most posts first, then lowest user_id, each user once.",
)
def top_users_ordered(context: dg.AssetCheckExecutionContext, top_users: Records):
    return _result(context, ERROR, lambda: quality.top_ordered(top_users))


@dg.asset_check(
    asset=top_users,
    blocking=True,
    additional_ins=_USER_ACTIVITY_IN,
    description="Each rank is 1 + the number of users with strictly more posts.",
)
def top_users_ranks_consistent(
    context: dg.AssetCheckExecutionContext, top_users: Records, user_activity: Records
):
    return _result(context, ERROR, lambda: quality.top_ranks_consistent(top_users, user_activity))


@dg.asset_check(
    asset=top_users,
    additional_ins=_USER_ACTIVITY_IN,
    description="Warns when the cut at top_n leaves out users tied with the last one listed.",
)
def top_users_cut_keeps_ties(context: dg.AssetCheckExecutionContext, user_activity: Records):
    return _result(
        context, WARN, lambda: quality.cut_keeps_ties(user_activity, *_top_users_settings(context))
    )
