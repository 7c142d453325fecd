"""The floor: the cheapest job `dagster job execute` can run, in the pipeline's configuration.

One asset that returns a constant, in a job with the same executor as `user_activity_job`
(in-process) and run against the same kind of instance (the benchmark's persistent SQLite
DAGSTER_HOME). What `user_activity_job` costs beyond this is the project's own.

`dagster job execute -m benchmarks.floor -j floor_job`
"""

import dagster as dg


@dg.asset
def constant() -> int:
    """A value that costs nothing to compute."""
    return 1


floor_job = dg.define_asset_job(
    name="floor_job",
    selection=dg.AssetSelection.all(),
    executor_def=dg.multi_or_in_process_executor,
    config={"execution": {"config": {"in_process": {}}}},
)

defs = dg.Definitions(assets=[constant], jobs=[floor_job])
