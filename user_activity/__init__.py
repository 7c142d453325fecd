"""user_activity: a Dagster code location that turns an API's users and posts into reports."""

__version__ = "0.1.0"
