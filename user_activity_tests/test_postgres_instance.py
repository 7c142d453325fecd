"""deploy/dagster.yaml against a real PostgreSQL server: runs, events and schedules land there.

The job runs through the CLI with that file as the instance; the test reads the run, its
materializations and the schedule's state back through Dagster and with plain SQL.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import dagster as dg
import psycopg2
import pytest
from dagster._core.instance.ref import InstanceRef
from dagster._core.scheduler.instigation import InstigatorStatus

from user_activity.settings import PROJECT_ROOT
from user_activity_tests.dagster_services import free_port
from user_activity_tests.postgres_server import (
    INSTALL_HINT,
    Cluster,
    PostgresServer,
    server_binaries,
)
from user_activity_tests.test_cli import DAGSTER, cli_env, run_cli

ASSETS = ["post_counts", "raw_posts", "raw_users", "top_users", "user_activity"]


@pytest.fixture(scope="module")
def postgres():
    bin_dir = server_binaries()
    if bin_dir is None:
        pytest.fail(INSTALL_HINT)
    cluster = Cluster(bin_dir, free_port())
    server = PostgresServer("127.0.0.1", cluster.port, "dagster", "s3cret-for-tests", "dagster")
    try:
        cluster.start(server.user, server.password)
        conn = psycopg2.connect(**_connect_args(server, "postgres"))
        conn.autocommit = True  # CREATE DATABASE cannot run in a transaction
        try:
            conn.cursor().execute(f"CREATE DATABASE {server.db_name}")
        finally:
            conn.close()
        yield server
    except subprocess.CalledProcessError as error:
        pytest.fail(f"{error.cmd} failed: {error.stderr}\n{cluster.log()}")
    finally:
        cluster.stop()


def _connect_args(server: PostgresServer, db_name: str) -> dict:
    return dict(
        host=server.host,
        port=server.port,
        user=server.user,
        password=server.password,
        dbname=db_name,
        connect_timeout=10,
    )


@pytest.fixture(scope="module")
def postgres_run(postgres, api_server, tmp_path_factory):
    api_server.reset()
    workdir = tmp_path_factory.mktemp("postgres_instance")
    env = cli_env(workdir, api_server.url) | postgres.env()
    shutil.copy(PROJECT_ROOT / "deploy" / "dagster.yaml", Path(env["DAGSTER_HOME"]))
    completed = run_cli(workdir, api_server.url, env=env)
    stopped = subprocess.run(
        [DAGSTER, "schedule", "stop", "user_activity_daily", "-m", "user_activity.definitions"],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return workdir, env, completed, stopped


@pytest.fixture
def instance(postgres_run, monkeypatch):
    for name, value in postgres_run[1].items():
        if name.startswith("DAGSTER_PG_"):
            monkeypatch.setenv(name, value)
    with dg.DagsterInstance.from_ref(InstanceRef.from_dir(postgres_run[1]["DAGSTER_HOME"])) as inst:
        yield inst


def test_job_runs_on_the_postgres_instance(postgres_run):
    completed = postgres_run[2]
    assert completed.returncode == 0, completed.stderr[-3000:]


def test_instance_storages_are_postgres(instance):
    assert type(instance.run_storage).__name__ == "PostgresRunStorage"
    assert type(instance.event_log_storage).__name__ == "PostgresEventLogStorage"
    assert type(instance.schedule_storage).__name__ == "PostgresScheduleStorage"


def test_run_and_materializations_read_back_from_postgres(instance, postgres):
    runs = instance.get_runs()
    assert [(r.job_name, r.status) for r in runs] == [
        ("user_activity_job", dg.DagsterRunStatus.SUCCESS)
    ]
    run_id = runs[0].run_id
    for name in ASSETS:
        event = instance.get_latest_materialization_event(dg.AssetKey(name))
        assert event is not None and event.run_id == run_id, name
    # the same facts with plain SQL, so nothing can come from a local file
    with psycopg2.connect(**_connect_args(postgres, postgres.db_name)) as conn:
        cursor = conn.cursor()
        cursor.execute("SELECT run_id, pipeline_name, status FROM runs")
        assert cursor.fetchall() == [(run_id, "user_activity_job", "SUCCESS")]
        cursor.execute(
            "SELECT asset_key FROM event_logs"
            " WHERE run_id = %s AND dagster_event_type = 'ASSET_MATERIALIZATION'"
            " ORDER BY asset_key",
            (run_id,),
        )
        assert [row[0] for row in cursor.fetchall()] == [f'["{name}"]' for name in ASSETS]
    conn.close()


def test_schedule_state_is_stored_in_postgres(postgres_run, instance):
    stopped = postgres_run[3]
    assert stopped.returncode == 0, stopped.stderr[-3000:]
    states = instance.all_instigator_state()
    assert [(s.name, s.status) for s in states] == [
        ("user_activity_daily", InstigatorStatus.STOPPED)
    ]
