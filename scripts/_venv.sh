# Sourced by the other scripts: the project's virtualenv in .venv, installed from pyproject.toml.
# It does not change the current folder, so relative paths given to the scripts (`-c my.yaml`)
# mean what they say.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-python3}"
if [ ! -x "$ROOT/.venv/bin/python" ]; then
  "$PYTHON" -m venv "$ROOT/.venv"
fi
# Quiet when everything is already installed; re-run after pyproject.toml changes.
SPEC="$ROOT"
if [ -n "${EXTRAS:-}" ]; then SPEC="$ROOT[$EXTRAS]"; fi
"$ROOT/.venv/bin/python" -m pip install --quiet --disable-pip-version-check -e "$SPEC"
export PATH="$ROOT/.venv/bin:$PATH"
# A persistent local Dagster instance (run history, schedules) unless DAGSTER_HOME is set;
# Dagster wants it absolute, so a relative one is taken from the current folder.
export DAGSTER_HOME="${DAGSTER_HOME:-$ROOT/.dagster_home}"
mkdir -p "$DAGSTER_HOME"
DAGSTER_HOME="$(cd "$DAGSTER_HOME" && pwd)"
# The project's instance settings (run queue and pool limits) apply to that local instance.
if [ "$DAGSTER_HOME" = "$ROOT/.dagster_home" ] && [ ! -e "$DAGSTER_HOME/dagster.yaml" ]; then
  ln -s ../dagster.yaml "$DAGSTER_HOME/dagster.yaml"
fi
