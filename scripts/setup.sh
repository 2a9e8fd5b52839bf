#!/usr/bin/env bash
# Creates .venv with Python 3.11 and installs the project with its dev tools, once per
# change of pyproject.toml. Sourced by serve.sh and test.sh.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null || PYTHON=python3
if [ ! -x .venv/bin/python ]; then
    echo "Creating .venv with $("$PYTHON" --version) …"
    "$PYTHON" -m venv .venv
fi
stamp=.venv/.pms-installed
wanted=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
    echo "Installing dependencies …"
    .venv/bin/python -m pip install --quiet --upgrade pip
    .venv/bin/python -m pip install --quiet -e '.[dev]'
    echo "$wanted" > "$stamp"
fi
