"""Asset checks: the quality rules of `quality.py` wired to the assets.

Blocking checks (severity ERROR) stop the assets downstream of the one they check and fail the
run, so bad input never reaches a report. Warnings (severity WARN) never block. A check runs
right after its asset, in the same run, so it sees the materialization just written; the data
files of the checked asset itself are already on disk by then (Dagster checks run after the
asset), only what is built from them is held back.

Each rule is one entry of a table below (name, severity, description, the assets it reads, the
verdict), and the rules of one asset run together in one step, a `@dg.multi_asset_check`: every
step and every input it loads costs Dagster rows in the instance's event log whatever the step
does, and twelve single-check steps were half of a real-data run's step time. Each check keeps
its own key, description, blocking flag and severity, its own result in the UI and its own
app.log lines, and can still be run alone from the UI (`can_subset`).

`posts_by_known_users` is a step of its own. Dagster holds a step back when an input's blocking
checks fail (and a failed step holds back all of its outputs): it reads `raw_users`, so a failed
`raw_users` check must stop it, but in `raw_posts`' step it would stop `post_ids_unique` with
it, and `post_counts` after that.
"""

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import dagster as dg

from user_activity import quality
from user_activity.app_log import logged_step
from user_activity.assets import FIELDS_KEY

ERROR = dg.AssetCheckSeverity.ERROR
WARN = dg.AssetCheckSeverity.WARN


@dataclass(frozen=True)
class Rule:
    """One asset check: blocking when its severity is ERROR. `verdict` gets the step's context
    and the values of the assets in `reads`, in that order."""

    name: str
    severity: dg.AssetCheckSeverity
    description: str
    reads: tuple[str, ...]
    verdict: Callable[..., quality.Verdict]

    def spec(self, asset: str) -> dg.AssetCheckSpec:
        return dg.AssetCheckSpec(
            self.name,
            asset=asset,
            description=self.description,
            blocking=self.severity == ERROR,
            additional_deps=[name for name in self.reads if name != asset],
        )


def _result(
    context: dg.AssetCheckExecutionContext, asset: str, rule: Rule, values: dict[str, Any]
) -> dg.AssetCheckResult:
    """Evaluates a rule inside a logged step and reports it as that check's result."""
    severity = rule.severity
    with logged_step(context.run.run_id, asset, context.log, check=rule.name) as log:
        verdict = rule.verdict(context, *(values[name] for name in rule.reads))
        outcome = "passed" if verdict.passed else f"failed ({severity.value})"
        level = logging.INFO
        if not verdict.passed:
            level = logging.ERROR if severity == ERROR else logging.WARNING
        # A pass goes to app.log only: Dagster's own check evaluation event already shows it
        # (each log message is one more row in the instance's event log).
        log.event(
            level,
            "check_result",
            f"{asset} check {rule.name} {outcome}: {verdict.message}",
            to_dagster=not verdict.passed,
            passed=verdict.passed,
            severity=severity.value,
            **verdict.metadata,
        )
    return dg.AssetCheckResult(
        asset_key=asset,
        check_name=rule.name,
        passed=verdict.passed,
        severity=severity,
        description=verdict.message,
        metadata=verdict.metadata,
    )


def asset_checks(name: str, asset: str, rules: tuple[Rule, ...]) -> dg.AssetChecksDefinition:
    """One step that runs the selected `rules` of `asset`, each reported as its own check."""
    reads = sorted({read for rule in rules for read in rule.reads})

    @dg.multi_asset_check(
        name=name,
        specs=[rule.spec(asset) for rule in rules],
        can_subset=True,
        ins={read: dg.AssetIn(read) for read in reads},
    )
    def _checks(context: dg.AssetCheckExecutionContext, **values: Any) -> Iterator:
        # A rule that cannot be judged (an exception, not a failed verdict) fails the step, as
        # its own step did before, but only after the other rules have reported.
        errors = []
        for rule in rules:
            if dg.AssetCheckKey(dg.AssetKey(asset), rule.name) not in (
                context.selected_asset_check_keys
            ):
                continue
            try:
                result = _result(context, asset, rule, values)
            except Exception as error:
                errors.append(error)
                continue
            yield result
        if errors:
            raise errors[0]

    return _checks


def _latest_metadata(
    context: dg.AssetCheckExecutionContext, asset: str, records: int
) -> list[dict]:
    """Metadata of the checked asset's latest `records` materializations, newest first."""
    found = context.instance.fetch_materializations(dg.AssetKey(asset), limit=records).records
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
    latest = _latest_metadata(context, f"raw_{collection}", 2)
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
    latest = _latest_metadata(context, "top_users", 1)
    if not latest or "top_n" not in latest[0] or "include_ties" not in latest[0]:
        raise dg.Failure(
            "top_users: the latest materialization records no top_n/include_ties: "
            "materialize it again"
        )
    return latest[0]["top_n"], latest[0]["include_ties"]


RAW_USERS_RULES = (
    Rule(
        "users_not_empty",
        ERROR,
        "The API returned at least one user.",
        reads=("raw_users",),
        verdict=lambda _, users: quality.not_empty(users, "users"),
    ),
    Rule(
        "user_ids_unique",
        ERROR,
        "Every user has an id of its own.",
        reads=("raw_users",),
        verdict=lambda _, users: quality.ids_unique(users, "users"),
    ),
    Rule(
        "users_schema_unchanged",
        WARN,
        "Warns when users gained or lost fields since the last run.",
        reads=(),
        verdict=lambda context: _drift(context, "users"),
    ),
)

RAW_POSTS_RULES = (
    Rule(
        "post_ids_unique",
        ERROR,
        "Every post has an id of its own.",
        reads=("raw_posts",),
        verdict=lambda _, posts: quality.ids_unique(posts, "posts"),
    ),
    Rule(
        "posts_schema_unchanged",
        WARN,
        "Warns when posts gained or lost fields since the last run.",
        reads=(),
        verdict=lambda context: _drift(context, "posts"),
    ),
)

# Its own step: it reads raw_users too, so it waits for (and is held back by) raw_users' checks.
POSTS_BY_KNOWN_USERS_RULES = (
    Rule(
        "posts_by_known_users",
        WARN,
        "Warns about posts whose userId matches no user (left out of the reports).",
        reads=("raw_posts", "raw_users"),
        verdict=lambda _, posts, users: quality.posts_by_known_users(users, posts),
    ),
)

USER_ACTIVITY_RULES = (
    Rule(
        "one_row_per_user",
        ERROR,
        "Exactly one row for each user in raw_users.",
        reads=("user_activity", "raw_users"),
        verdict=lambda _, report, users: quality.one_row_per_user(report, users),
    ),
    Rule(
        "every_post_counted",
        ERROR,
        "sum(posts_count) + posts by unknown users == number of posts in raw_posts.",
        reads=("user_activity", "raw_users", "raw_posts"),
        verdict=lambda _, report, users, posts: quality.every_post_counted(report, users, posts),
    ),
)

TOP_USERS_RULES = (
    Rule(
        "top_users_size_matches_top_n",
        ERROR,
        "top_n rows (fewer if there are fewer users), or more with include_ties.",
        reads=("top_users", "user_activity"),
        verdict=lambda context, top, report: quality.top_size(
            top, report, *_top_users_settings(context)
        ),
    ),
    Rule(
        "top_users_ordered",
        ERROR,
        "Most posts first, then lowest user_id, each user once.",
        reads=("top_users",),
        verdict=lambda _, top: quality.top_ordered(top),
    ),
    Rule(
        "top_users_ranks_consistent",
        ERROR,
        "Each rank is 1 + the number of users with strictly more posts.",
        reads=("top_users", "user_activity"),
        verdict=lambda _, top, report: quality.top_ranks_consistent(top, report),
    ),
    Rule(
        "top_users_cut_keeps_ties",
        WARN,
        "Warns when the cut at top_n leaves out users tied with the last one listed.",
        reads=("user_activity",),
        verdict=lambda context, report: quality.cut_keeps_ties(
            report, *_top_users_settings(context)
        ),
    ),
)

raw_users_checks = asset_checks("raw_users_checks", "raw_users", RAW_USERS_RULES)
raw_posts_checks = asset_checks("raw_posts_checks", "raw_posts", RAW_POSTS_RULES)
posts_by_known_users = asset_checks("posts_by_known_users", "raw_posts", POSTS_BY_KNOWN_USERS_RULES)
user_activity_checks = asset_checks("user_activity_checks", "user_activity", USER_ACTIVITY_RULES)
top_users_checks = asset_checks("top_users_checks", "top_users", TOP_USERS_RULES)
