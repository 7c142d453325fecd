"""The data folder on object storage: S3 through moto's S3 server on 127.0.0.1, and memory://."""

import time
from collections.abc import Iterator

import boto3
import pytest
import s3fs
from moto.server import ThreadedMotoServer
from upath import UPath

from user_activity_tests.expected import OUTPUT_FILES, data_listing
from user_activity_tests.test_assets import run_job
from user_activity_tests.test_outputs import materialization_metadata

BUCKET = "user-activity-reports"
PREFIX = "team/daily"
CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "test-key-id",
    "AWS_SECRET_ACCESS_KEY": "test-secret",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@pytest.fixture(scope="module")
def s3_url() -> Iterator[str]:
    """moto's S3-protocol server (werkzeug, real HTTP) on a free loopback port."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3(s3_url, monkeypatch):
    """A fresh bucket; credentials and endpoint from env vars, as a deployment would set them."""
    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_url)
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_CONFIG_FILE"):
        monkeypatch.delenv(name, raising=False)
    s3fs.S3FileSystem.clear_instance_cache()  # a cached client would keep an old endpoint
    client = boto3.client("s3", endpoint_url=s3_url)
    client.create_bucket(Bucket=BUCKET)
    yield client
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET):
        for item in page.get("Contents", []):
            client.delete_object(Bucket=BUCKET, Key=item["Key"])
    client.delete_bucket(Bucket=BUCKET)
    s3fs.S3FileSystem.clear_instance_cache()


def bucket_files(client) -> dict[str, bytes]:
    """name -> bytes of the data files under PREFIX."""
    keys = [item["Key"] for item in client.list_objects_v2(Bucket=BUCKET).get("Contents", [])]
    names = data_listing(key.removeprefix(f"{PREFIX}/") for key in keys)
    return {
        name: client.get_object(Bucket=BUCKET, Key=f"{PREFIX}/{name}")["Body"].read()
        for name in names
    }


def last_modified(client) -> dict[str, object]:
    """name -> LastModified of the report files under PREFIX."""
    items = client.list_objects_v2(Bucket=BUCKET)["Contents"]
    times = {item["Key"].removeprefix(f"{PREFIX}/"): item["LastModified"] for item in items}
    return {name: times[name] for name in data_listing(times)}


def test_job_writes_the_same_files_to_s3_as_to_disk(api, project_env, monkeypatch, s3):
    local, _ = run_job(api.url, monkeypatch)
    assert local.success
    on_disk = {name: (project_env / "data" / name).read_bytes() for name in OUTPUT_FILES}

    monkeypatch.setenv("USER_ACTIVITY_DATA_DIR", f"s3://{BUCKET}/{PREFIX}")
    result, instance = run_job(api.url, monkeypatch)
    assert result.success
    assert bucket_files(s3) == on_disk
    assert materialization_metadata(instance, "top_users")["csv_path"] == (
        f"s3://{BUCKET}/{PREFIX}/report_user_activity.csv"
    )

    # a second run compares with the objects and uploads nothing
    modified = last_modified(s3)
    assert sorted(modified) == OUTPUT_FILES
    time.sleep(1.1)  # LastModified has whole seconds: a rewrite now would show
    again, instance = run_job(api.url, monkeypatch)
    assert again.success
    assert materialization_metadata(instance, "user_activity")["unchanged"] is True
    assert materialization_metadata(instance, "top_users")["csv_unchanged"] is True
    assert last_modified(s3) == modified


def test_job_runs_on_the_memory_filesystem(api, monkeypatch):
    monkeypatch.setenv("USER_ACTIVITY_DATA_DIR", "memory://user-activity-test/data")
    result, _ = run_job(api.url, monkeypatch)
    assert result.success
    folder = UPath("memory://user-activity-test/data")
    assert data_listing(p.name for p in folder.iterdir()) == OUTPUT_FILES
    assert (folder / "report_user_activity.csv").read_bytes().startswith(b"rank,user_id,name,")
