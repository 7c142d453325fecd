"""user_activity: a Dagster code location that turns an API's users and posts into reports."""

from user_activity.settings import load_env_file

__version__ = "0.1.0"

# Every entry point imports this package first (CLI, webserver and daemon code servers, run
# workers, tests), so the project's .env applies wherever the process was started from.
load_env_file()
