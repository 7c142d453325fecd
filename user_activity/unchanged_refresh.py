"""Whether a refresh that found nothing new upstream has anything left to rebuild.

When every page of both raw collections answers 304, the raw step normally yields no output and
Dagster skips every step after it: the reports on disk are already the ones this data gives. That
is only true when the instance's latest materializations say so, which this module checks:

- each raw asset's latest data version is the one the fetch cache holds;
- each downstream asset was last built from the latest version of each of its inputs, with its
  current code version (Dagster records both as tags of every materialization);
- top_users was last built with this run's top_n and include_ties;
- each was written by an IO manager with this run's output settings (data folder, CSV BOM);
- every file those materializations wrote is still the file they wrote (size, mtime, ctime,
  inode: see `atomic_files.file_stamp`; files in object storage have no stamp, so they are
  always rebuilt).

Anything else (a first run, a failed or partial earlier run, a deleted or edited report, another
top_n or data folder, a new code version) gives the reason to rebuild, and the run goes on as
usual. A code change that keeps the assets' `code_version` is not seen: bump it, or run with
cache policy force.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import dagster as dg
from upath import UPath

from user_activity.atomic_files import file_stamp
from user_activity.io_managers import OUTPUT_SETTINGS

DATA_VERSION = "dagster/data_version"
CODE_VERSION = "dagster/code_version"
INPUT_VERSION = "dagster/input_data_version/"
# metadata key of a written file's path -> metadata key of its stamp (io_managers)
FILE_KEYS = {"path": "file_stamp", "csv_path": "csv_file_stamp"}


def _latest(instance: dg.DagsterInstance, asset: str) -> dg.AssetMaterialization | None:
    event = instance.get_latest_materialization_event(dg.AssetKey(asset))
    return event.asset_materialization if event is not None else None


def _changed_file(materialization: dg.AssetMaterialization) -> str | None:
    metadata = {key: value.value for key, value in materialization.metadata.items()}
    for path_key, stamp_key in FILE_KEYS.items():
        if path_key in metadata:
            path = str(metadata[path_key])
            if metadata.get(stamp_key) is None or file_stamp(UPath(path)) != metadata[stamp_key]:
                return path
    return None


def rebuild_reason(
    instance: dg.DagsterInstance,
    raw_versions: Mapping[str, str],
    downstream: Sequence[dg.AssetSpec],
    top_users_settings: Mapping[str, Any],
    output_settings: Mapping[str, Mapping[str, Any]],
) -> str | None:
    """Why the run must rebuild although the raw data is unchanged; None when nothing must.

    `raw_versions`: raw asset -> the data version fetched; `downstream`: the specs of every asset
    built from them; `top_users_settings`: the top_users metadata this run would record;
    `output_settings`: asset -> the `output_settings()` of the IO manager that writes it now.
    """
    latest: dict[str, dg.AssetMaterialization] = {}
    for asset, version in raw_versions.items():
        materialization = _latest(instance, asset)
        if materialization is None:
            return f"{asset} has no materialization yet"
        if materialization.tags.get(DATA_VERSION) != version:
            return f"{asset}'s latest materialization is not the cached data"
        latest[asset] = materialization
    for spec in downstream:
        asset = spec.key.to_user_string()
        materialization = _latest(instance, asset)
        if materialization is None:
            return f"{asset} has no materialization yet"
        tags = materialization.tags
        if tags.get(CODE_VERSION) != spec.code_version:
            return f"{asset}'s code version changed"
        for dep in spec.deps:
            name = dep.asset_key.to_user_string()
            upstream = latest.get(name) or _latest(instance, name)
            if upstream is None or tags.get(INPUT_VERSION + name) != upstream.tags.get(
                DATA_VERSION
            ):
                return f"{asset} was not built from the latest {name}"
        latest[asset] = materialization
    report = latest.get("top_users")
    if report is not None:
        wanted = dict(top_users_settings)
        recorded = {key: report.metadata[key].value for key in wanted if key in report.metadata}
        if recorded != wanted:
            return (
                f"top_users was built with {_settings(recorded)}, "
                f"this run asks for {_settings(wanted)}"
            )
    for asset, materialization in latest.items():
        recorded = materialization.metadata.get(OUTPUT_SETTINGS)
        wanted = dict(output_settings[asset])
        if recorded is None or recorded.value != wanted:
            was = _settings(recorded.value) if recorded is not None else "unknown settings"
            return f"{asset} was written with {was}, this run writes it with {_settings(wanted)}"
        path = _changed_file(materialization)
        if path is not None:
            return f"{path} is not the file {asset}'s latest materialization wrote"
    return None


def _settings(values: Mapping[str, Any]) -> str:
    return ", ".join(f"{key} {value}" for key, value in values.items()) or "no settings"
