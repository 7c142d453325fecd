"""Shared fixtures: the real snapshot, a loopback API serving it, and a clean env per test."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

# Tests never read the developer's own project .env; set before the package is first imported.
os.environ["USER_ACTIVITY_ENV_FILE"] = os.devnull

from user_activity.settings import DEFAULTS
from user_activity_tests.fake_api import FakeApi

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "jsonplaceholder"
SNAPSHOT = Path(__file__).resolve().parents[1] / "user_activity" / "snapshot"


def _real_data_dir() -> Path:
    # The shared folder is the source of truth beside the checkout; the bundled copy is the same.
    return SHARED_DATA if (SHARED_DATA / "users.json").exists() else SNAPSHOT


REAL_DATA = _real_data_dir()


def load_real() -> dict[str, list[dict]]:
    return {
        name: json.loads((REAL_DATA / f"{name}.json").read_text(encoding="utf-8"))
        for name in ("users", "posts")
    }


@pytest.fixture(scope="session")
def real_data() -> dict[str, list[dict]]:
    return load_real()


@pytest.fixture(scope="session")
def api_server() -> Iterator[FakeApi]:
    server = FakeApi(load_real()).start()
    yield server
    server.stop()


@pytest.fixture
def api(api_server: FakeApi) -> Iterator[FakeApi]:
    """The loopback API, reset to the real data with no scripted responses."""
    api_server.reset(load_real())
    yield api_server
    api_server.reset(load_real())


@pytest.fixture(autouse=True)
def project_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every USER_ACTIVITY_* setting at its default, with data and logs in the test's folder."""
    for name in DEFAULTS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("USER_ACTIVITY_ENV_FILE", os.devnull)
    monkeypatch.setenv("USER_ACTIVITY_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("USER_ACTIVITY_LOG_DIR", str(tmp_path / "logs"))
    return tmp_path
