# Sourced by the other scripts: the project's virtualenv in .venv, installed from pyproject.toml.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
# Quiet when everything is already installed; re-run after pyproject.toml changes.
SPEC="."
if [ -n "${EXTRAS:-}" ]; then SPEC=".[$EXTRAS]"; fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e "$SPEC"
export PATH="$ROOT/.venv/bin:$PATH"
# A persistent local Dagster instance (run history, schedules) unless DAGSTER_HOME is set.
export DAGSTER_HOME="${DAGSTER_HOME:-$ROOT/.dagster_home}"
mkdir -p "$DAGSTER_HOME"
# The project's instance settings (run queue and pool limits) apply to that local instance.
if [ "$DAGSTER_HOME" = "$ROOT/.dagster_home" ] && [ ! -e "$DAGSTER_HOME/dagster.yaml" ]; then
  ln -s ../dagster.yaml "$DAGSTER_HOME/dagster.yaml"
fi
