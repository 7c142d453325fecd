"""IO managers that persist assets as JSON and CSV files under one data folder.

The file name comes from the asset's definition metadata (`json_file`, `csv_file`), so the files
keep the original script's names; without it, the asset key is the name. The CSV column order and
types come from the asset's `dagster/column_schema`, so a CSV read back has ints where it had ints.
The folder may be any universal_pathlib location (a local path, `memory://`, `s3://...`).
"""

from __future__ import annotations

import os
import tempfile
from typing import Any, ClassVar

import dagster as dg
from pydantic import Field
from upath import UPath

from user_activity.app_log import AppLog
from user_activity.file_formats import dump_csv, dump_json, load_csv, load_json

# mkstemp creates files readable by the owner only; give reports the usual umask-based mode.
_UMASK = os.umask(0)
os.umask(_UMASK)

# Column types in a TableSchema -> the Python type a CSV cell is converted to.
SCHEMA_TYPES: dict[str, type] = {"int": int, "string": str}


def _asset_metadata(context: dg.InputContext | dg.OutputContext) -> dict[str, Any]:
    output = context.upstream_output if isinstance(context, dg.InputContext) else context
    return dict(output.definition_metadata or {}) if output is not None else {}


def write_atomically(path: UPath, data: bytes) -> None:
    """Replaces `path` with `data` in one step: a crash leaves the old file, never half a file."""
    if path.protocol not in ("", "file", "local"):
        path.write_bytes(data)  # object stores publish an upload only once it is complete
        return
    local = os.fspath(path.path)
    fd, temporary = tempfile.mkstemp(dir=os.path.dirname(local), prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temporary, 0o666 & ~_UMASK)
        os.replace(temporary, local)
    except BaseException:
        os.unlink(temporary)
        raise


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

    def encode(self, context: dg.OutputContext, obj: Any) -> bytes:
        raise NotImplementedError

    def decode(self, context: dg.InputContext, data: bytes, source: str) -> Any:
        raise NotImplementedError

    def dump_to_path(self, context: dg.OutputContext, obj: Any, path: UPath) -> None:
        data = self.encode(context, obj)
        write_atomically(path, data)
        AppLog(context.run_id, context.asset_key.to_user_string()).info(
            "file_written", f"wrote {path} ({len(data)} bytes)", path=str(path), bytes=len(data)
        )

    def load_from_path(self, context: dg.InputContext, path: UPath) -> Any:
        return self.decode(context, path.read_bytes(), str(path))

    def write(self, context: dg.OutputContext, obj: Any) -> UPath:
        """Writes the file and returns its path, without adding output metadata."""
        path = self._get_path(context)
        self.make_directory(path.parent)
        self.dump_to_path(context, obj, path)
        return path


class JsonIOManager(RecordsIOManager):
    """JSON files: UTF-8, 2-space indent, non-ASCII kept, trailing newline, NaN refused."""

    extension: ClassVar[str] = ".json"
    file_metadata_key: ClassVar[str] = "json_file"

    def encode(self, context: dg.OutputContext, obj: Any) -> bytes:
        return dump_json(obj)

    def decode(self, context: dg.InputContext, data: bytes, source: str) -> Any:
        return load_json(data, source)


class CsvIOManager(RecordsIOManager):
    """CSV files with a header row, RFC 4180 quoting, typed back by the asset's column schema."""

    extension: ClassVar[str] = ".csv"
    file_metadata_key: ClassVar[str] = "csv_file"

    @staticmethod
    def _column_types(context: dg.InputContext | dg.OutputContext) -> dict[str, type]:
        schema = _asset_metadata(context).get("dagster/column_schema")
        if schema is None:
            raise ValueError(f"{context.asset_key.to_user_string()} has no dagster/column_schema")
        schema = getattr(schema, "schema", schema)  # a TableSchemaMetadataValue wraps the schema
        return {column.name: SCHEMA_TYPES[column.type] for column in schema.columns}

    def encode(self, context: dg.OutputContext, obj: Any) -> bytes:
        return dump_csv(obj, list(self._column_types(context)))

    def decode(self, context: dg.InputContext, data: bytes, source: str) -> Any:
        return load_csv(data, self._column_types(context), source)


class JsonAndCsvIOManager(dg.ConfigurableIOManager):
    """Writes the asset as both a JSON and a CSV file (one report, two formats); reads the JSON."""

    base_dir: str = Field(description="folder (or universal_pathlib URL) holding the files")

    def handle_output(self, context: dg.OutputContext, obj: Any) -> None:
        json_path = JsonIOManager(base_dir=self.base_dir).write(context, obj)
        csv_path = CsvIOManager(base_dir=self.base_dir).write(context, obj)
        context.add_output_metadata(
            {
                "path": dg.MetadataValue.path(str(json_path)),
                "csv_path": dg.MetadataValue.path(str(csv_path)),
            }
        )

    def load_input(self, context: dg.InputContext) -> Any:
        return JsonIOManager(base_dir=self.base_dir).load_input(context)
