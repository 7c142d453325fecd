"""IO managers that persist assets as JSON and CSV files under one data folder.

The file name comes from the asset's definition metadata (`json_file`, `csv_file`), so the files
keep the original script's names; without it, the asset key is the name. The CSV column order and
types come from the asset's `dagster/column_schema`, so a CSV read back has ints where it had ints.
The folder may be any universal_pathlib location (a local path, `memory://`, `s3://...`).
Files are replaced atomically and left alone when their bytes would not change (see
`atomic_files`); each materialization says which in its `unchanged` metadata. CSV text cells
that a spreadsheet would run as formulas are guarded on writing and unguarded on reading (see
`file_formats`), so an asset loaded from a CSV gets exactly the values that were stored.

A JSON file this process wrote or read is remembered with its value until the file changes, so
in-process steps that read the same upstream asset (post_counts and three check steps read
raw_posts) share one value instead of each parsing the file again. See `RecentValues`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, ClassVar

import dagster as dg
from pydantic import Field
from upath import UPath

from user_activity.app_log import AppLog
from user_activity.atomic_files import exclusive, file_stamp, replace_files
from user_activity.atomic_files import write_atomically as write_atomically  # re-exported
from user_activity.file_formats import dump_csv, dump_json, load_csv, load_json

# Materialization metadata: the IO manager's `output_settings()` the files were written with.
OUTPUT_SETTINGS = "output_settings"
# Column types in a TableSchema -> the Python type a CSV cell is converted to.
SCHEMA_TYPES: dict[str, type] = {"int": int, "string": str}


def _asset_metadata(context: dg.InputContext | dg.OutputContext) -> dict[str, Any]:
    output = context.upstream_output if isinstance(context, dg.InputContext) else context
    return dict(output.definition_metadata or {}) if output is not None else {}


def _run_id(context: dg.InputContext | dg.OutputContext) -> str | None:
    if isinstance(context, dg.OutputContext):
        return context.run_id
    try:
        return context.step_context.run_id
    except dg.DagsterInvariantViolationError:  # an InputContext built outside a run
        return None


@contextmanager
def _errors_logged(context: dg.InputContext | dg.OutputContext, action: str) -> Iterator[None]:
    """Writes a failure to read or write a file to app.log too, then lets it propagate.

    Dagster reports the step failure in its own log; app.log would otherwise miss errors that
    happen outside the asset's body (a full disk, a read-only folder, a corrupt upstream file).
    """
    try:
        yield
    except Exception as error:
        run_id = _run_id(context)
        asset = context.asset_key.to_user_string()
        AppLog(run_id, asset).error(
            "error",
            f"{action} {asset} failed: {type(error).__name__}: {error}",
            error=type(error).__name__,
        )
        raise


def _write_and_log(context: dg.OutputContext, files: Mapping[UPath, bytes]) -> dict[UPath, bool]:
    """Replaces the changed files and logs each one; returns path -> whether it was written."""
    written = replace_files(files)
    log = AppLog(context.run_id, context.asset_key.to_user_string())
    for path, data in files.items():
        if written[path]:
            log.info(
                "file_written", f"wrote {path} ({len(data)} bytes)", path=str(path), bytes=len(data)
            )
        else:
            log.info(
                "file_unchanged",
                f"kept {path}: content unchanged ({len(data)} bytes)",
                path=str(path),
                bytes=len(data),
            )
    return written


def _stamps(paths: Mapping[str, UPath]) -> dict[str, str]:
    """Metadata key -> the stamp of each local file written: a later run can tell from it that
    the file is still the one this materialization wrote (see `unchanged_refresh`)."""
    stamps = {key: file_stamp(path) for key, path in paths.items()}
    return {key: stamp for key, stamp in stamps.items() if stamp is not None}


class RecentValues:
    """The last value written to or read from each local file, while the file is unchanged.

    A value is handed out only while the file still has the stamp (size, mtime, ctime, inode:
    `file_stamp`) it had when the value was stored, so a file replaced or edited by anyone is
    read again. The value is shared, not copied: the pipeline's steps never mutate their inputs.
    Only values that decoding the file would give back exactly belong here (JSON records do).
    """

    def __init__(self) -> None:
        self._values: dict[str, tuple[str, Any]] = {}

    def remember(self, path: UPath, value: Any) -> None:
        stamp = file_stamp(path)
        if stamp is None:  # object storage: its files are not remembered
            self._values.pop(str(path), None)
        else:
            self._values[str(path)] = (stamp, value)

    def get(self, path: UPath) -> tuple[bool, Any]:
        """(True, value) if `path` is unchanged since `value` was remembered, else (False, None)."""
        entry = self._values.get(str(path))
        if entry is None or entry[0] != file_stamp(path):
            return False, None
        return True, entry[1]


class RecordsIOManager(dg.ConfigurableIOManager, dg.UPathIOManager):
    """Base: one file per asset in `base_dir`, encoded by the subclass."""

    base_dir: str = Field(description="folder (or universal_pathlib URL) holding the files")
    extension: ClassVar[str]
    file_metadata_key: ClassVar[str]

    @property
    def _base_path(self) -> UPath:
        return UPath(self.base_dir)

    def get_asset_relative_path(self, context: dg.InputContext | dg.OutputContext) -> UPath:
        name = _asset_metadata(context).get(self.file_metadata_key)
        if name is None:
            return UPath(*context.asset_key.path)
        if not name.endswith(self.extension):
            raise ValueError(f"{self.file_metadata_key} {name!r} must end with {self.extension}")
        return UPath(name[: -len(self.extension)])

    def output_settings(self) -> dict[str, Any]:
        """The settings that decide where the files go and what bytes they hold."""
        return {"base_dir": self.base_dir}

    def encode(self, context: dg.OutputContext, obj: Any) -> bytes:
        raise NotImplementedError

    def decode(self, context: dg.InputContext, data: bytes, source: str) -> Any:
        raise NotImplementedError

    # An unpartitioned asset (all of ours) is written and read here rather than by
    # UPathIOManager, which does the same plus a debug message per file ("Writing file at",
    # "Loading file from"): each is a row in the instance's event log (about 10 ms with SQLite),
    # 17 per real-data run, and says nothing that the HANDLED_OUTPUT / LOADED_INPUT events and
    # app.log's file lines do not. Partitioned assets still take UPathIOManager's way.
    def handle_output(self, context: dg.OutputContext, obj: Any) -> None:
        with _errors_logged(context, "writing"):
            if context.has_asset_partitions:
                super().handle_output(context, obj)
                return
            path = self._get_path(context)
            self.make_directory(path.parent)
            self.dump_to_path(context, obj, path)
            context.add_output_metadata(
                {
                    "path": dg.MetadataValue.path(str(path)),
                    OUTPUT_SETTINGS: dg.MetadataValue.json(self.output_settings()),
                }
            )

    def load_input(self, context: dg.InputContext) -> Any:
        with _errors_logged(context, "loading"):
            if context.has_asset_key and context.has_asset_partitions:
                return super().load_input(context)
            return self.load_from_path(context, self._get_path(context))

    def dump_to_path(self, context: dg.OutputContext, obj: Any, path: UPath) -> None:
        written = _write_and_log(context, {path: self.encode(context, obj)})
        context.add_output_metadata(
            {"unchanged": not written[path], **_stamps({"file_stamp": path})}
        )

    def load_from_path(self, context: dg.InputContext, path: UPath) -> Any:
        return self.decode(context, path.read_bytes(), str(path))

    def encoded_file(self, context: dg.OutputContext, obj: Any) -> tuple[UPath, bytes]:
        """Where the asset's file goes (its folder created) and its bytes, without writing it."""
        path = self._get_path(context)
        self.make_directory(path.parent)
        return path, self.encode(context, obj)


class JsonIOManager(RecordsIOManager):
    """JSON files: UTF-8, 2-space indent, non-ASCII kept, trailing newline, NaN refused."""

    extension: ClassVar[str] = ".json"
    file_metadata_key: ClassVar[str] = "json_file"

    # one per process: the IO manager object itself is rebuilt for every step
    recent: ClassVar[RecentValues] = RecentValues()

    def encode(self, context: dg.OutputContext, obj: Any) -> bytes:
        return dump_json(obj)

    def decode(self, context: dg.InputContext, data: bytes, source: str) -> Any:
        return load_json(data, source)

    def dump_to_path(self, context: dg.OutputContext, obj: Any, path: UPath) -> None:
        super().dump_to_path(context, obj, path)
        self.recent.remember(path, obj)

    def load_from_path(self, context: dg.InputContext, path: UPath) -> Any:
        known, value = self.recent.get(path)
        if not known:
            value = super().load_from_path(context, path)
            self.recent.remember(path, value)
        return value


class CsvIOManager(RecordsIOManager):
    """CSV files with a header row, RFC 4180 quoting, typed back by the asset's column schema."""

    extension: ClassVar[str] = ".csv"
    file_metadata_key: ClassVar[str] = "csv_file"
    bom: bool = Field(default=False, description="start the file with a UTF-8 byte-order mark")

    @staticmethod
    def _column_types(context: dg.InputContext | dg.OutputContext) -> dict[str, type]:
        schema = _asset_metadata(context).get("dagster/column_schema")
        if schema is None:
            raise ValueError(f"{context.asset_key.to_user_string()} has no dagster/column_schema")
        schema = getattr(schema, "schema", schema)  # a TableSchemaMetadataValue wraps the schema
        return {column.name: SCHEMA_TYPES[column.type] for column in schema.columns}

    def output_settings(self) -> dict[str, Any]:
        return {**super().output_settings(), "bom": self.bom}

    def encode(self, context: dg.OutputContext, obj: Any) -> bytes:
        return dump_csv(obj, self._column_types(context), bom=self.bom)

    def decode(self, context: dg.InputContext, data: bytes, source: str) -> Any:
        return load_csv(data, self._column_types(context), source)


class JsonAndCsvIOManager(dg.ConfigurableIOManager):
    """Writes the asset as both a JSON and a CSV file (one report, two formats); reads the JSON.

    The pair is written under a lock and staged before either is renamed, so two overlapping runs
    never leave the JSON of one beside the CSV of the other, and a failed write leaves both old
    files.
    """

    base_dir: str = Field(description="folder (or universal_pathlib URL) holding the files")
    csv_bom: bool = Field(default=False, description="start the CSV with a UTF-8 byte-order mark")
    lock_timeout: float = Field(
        default=120.0, description="seconds to wait for another run to finish writing the pair"
    )

    def output_settings(self) -> dict[str, Any]:
        """The settings that decide where the files go and what bytes they hold."""
        return {"base_dir": self.base_dir, "csv_bom": self.csv_bom}

    def handle_output(self, context: dg.OutputContext, obj: Any) -> None:
        with _errors_logged(context, "writing"):
            self._write_pair(context, obj)

    def _write_pair(self, context: dg.OutputContext, obj: Any) -> None:
        json_path, json_data = JsonIOManager(base_dir=self.base_dir).encoded_file(context, obj)
        csv_io = CsvIOManager(base_dir=self.base_dir, bom=self.csv_bom)
        csv_path, csv_data = csv_io.encoded_file(context, obj)
        with exclusive(json_path, self.lock_timeout):
            written = _write_and_log(context, {json_path: json_data, csv_path: csv_data})
        context.add_output_metadata(
            {
                "path": dg.MetadataValue.path(str(json_path)),
                "csv_path": dg.MetadataValue.path(str(csv_path)),
                OUTPUT_SETTINGS: dg.MetadataValue.json(self.output_settings()),
                "unchanged": not written[json_path],
                "csv_unchanged": not written[csv_path],
                **_stamps({"file_stamp": json_path, "csv_file_stamp": csv_path}),
            }
        )

    def load_input(self, context: dg.InputContext) -> Any:
        return JsonIOManager(base_dir=self.base_dir).load_input(context)
