#!/usr/bin/env bash
# Runs the test suite with pytest (set DATABASE_URL / REDIS_URL for the real services).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/setup.sh
# The tests' own file cache (the embedded default), apart from a server's under var/.
PMS_CACHE_DIR=${PMS_CACHE_DIR:-$(mktemp -d)}
export PMS_CACHE_DIR
exec .venv/bin/python -m pytest "$@"
