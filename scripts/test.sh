#!/usr/bin/env bash
# Runs the test suite with pytest (set DATABASE_URL / REDIS_URL for the real services).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/setup.sh
# The development settings (a development key, local hosts; DEBUG is off unless set):
# pytest-django still runs the tests with DEBUG off, as production.
export DEBUG=${DEBUG:-1}
# The tests' own file cache (the embedded default), apart from a server's under var/.
PMS_CACHE_DIR=${PMS_CACHE_DIR:-$(mktemp -d)}
export PMS_CACHE_DIR
# The slow tests (the schema fuzz runs, the demo loads) run in CI (`CI` set), or when the
# caller chooses the tests by marker itself (`-m slow` runs only them).
select=(-m "not slow")
for arg in "$@"; do
    case $arg in -m | -m*) select=() ;; esac
done
if [ -n "${CI:-}" ]; then
    select=()
fi
exec .venv/bin/python -m pytest "${select[@]}" "$@"
