#!/usr/bin/env bash
# Runs the test suite with pytest (set DATABASE_URL / REDIS_URL for the real services).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/setup.sh
exec .venv/bin/python -m pytest "$@"
