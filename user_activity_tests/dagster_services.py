"""Real Dagster processes for tests: start them in their own session, talk GraphQL, stop them.

Each process is started with `start_new_session=True`, so it and everything it spawns (code
servers, run workers) share one session id; stopping signals the whole process group and then
looks for any process left in that session, so a test can assert that nothing was orphaned.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import requests

BIN = Path(sys.executable).parent
T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(what: str, probe: Callable[[], T | None], timeout: float, every: float = 0.5) -> T:
    """Calls `probe` until it returns something other than None, or fails after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value is not None:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"gave up after {timeout}s waiting for {what}")
        time.sleep(every)


class Service:
    """One long-running command in its own session, its output in a log file."""

    def __init__(self, name: str, command: list[str], env: Mapping[str, str], cwd: Path):
        self.name = name
        self.log_path = cwd / f"{name}.out"
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            command,
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def session_members(self) -> list[int]:
        """Pids still alive in this service's session (the process and all it started)."""
        return processes_in_session(self.process.pid)

    def stop(self, timeout: float = 20) -> list[int]:
        """SIGTERM to the group, SIGKILL after `timeout` s; returns the pids that survived both."""
        for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 10)):
            for pid in self.session_members() or [self.process.pid]:
                # children may have moved to a group of their own; signal each group we see
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(os.getpgid(pid), sig)
            try:
                self.process.wait(timeout=wait)
            except subprocess.TimeoutExpired:
                continue
            deadline = time.monotonic() + wait
            while self.session_members() and time.monotonic() < deadline:
                time.sleep(0.2)
            if not self.session_members():
                break
        self._log.close()
        return self.session_members()


def processes_in_session(session_id: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # fields after the ")" that closes the command name: state ppid pgrp session ...
        fields = stat.rsplit(")", 1)[1].split()
        if fields[0] != "Z" and int(fields[3]) == session_id:
            found.append(int(entry.name))
    return found


class GraphQL:
    """The webserver's GraphQL endpoint, which the UI itself uses."""

    def __init__(self, base_url: str):
        self.base_url = base_url

    def __call__(self, query: str, **variables: Any) -> dict[str, Any]:
        response = requests.post(
            f"{self.base_url}/graphql",
            json={"query": query, "variables": variables},
            timeout=30,
        )
        response.raise_for_status()
        body = response.json()
        assert "errors" not in body, body["errors"]
        return body["data"]

    def is_up(self) -> bool | None:
        try:
            return requests.get(f"{self.base_url}/server_info", timeout=2).ok or None
        except requests.ConnectionError:
            return None


LOCATION_STATUS = """
query LocationStatus {
  workspaceOrError {
    __typename
    ... on Workspace {
      locationEntries {
        name
        loadStatus
        locationOrLoadError {
          __typename
          ... on RepositoryLocation { repositories { name } }
          ... on PythonError { message errorChain { error { message } } }
        }
      }
    }
  }
}
"""

# The mutation the UI's "Materialize all" button sends (LaunchPipelineExecution).
LAUNCH_RUN = """
mutation LaunchPipelineExecution($executionParams: ExecutionParams!) {
  launchPipelineExecution(executionParams: $executionParams) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on PythonError { message stack }
    ... on InvalidSubsetError { message }
    ... on RunConfigValidationInvalid { errors { message } }
  }
}
"""

RUN_STATUS = """
query RunStatus($runId: ID!) {
  runOrError(runId: $runId) {
    __typename
    ... on Run { runId status tags { key value } }
  }
}
"""

RUNS_WITH_TAG = """
query RunsWithTag($key: String!, $value: String!) {
  runsOrError(filter: {tags: [{key: $key, value: $value}]}) {
    ... on Runs { results { runId status } }
  }
}
"""

RELOAD_LOCATION = """
mutation ReloadLocation($location: String!) {
  reloadRepositoryLocation(repositoryLocationName: $location) {
    __typename
    ... on WorkspaceLocationEntry { loadStatus }
    ... on PythonError { message }
  }
}
"""


def location_entry(gql: GraphQL, name: str) -> dict[str, Any] | None:
    """The workspace entry of location `name` once it has finished loading (or failing)."""
    data = gql(LOCATION_STATUS)["workspaceOrError"]
    for entry in data.get("locationEntries", []):
        if entry["name"] == name and entry["loadStatus"] == "LOADED":
            return entry
    return None


def run_status(gql: GraphQL, run_id: str) -> str:
    return gql(RUN_STATUS, runId=run_id)["runOrError"]["status"]


FINISHED = {"SUCCESS", "FAILURE", "CANCELED"}
