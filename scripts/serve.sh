#!/usr/bin/env bash
# Sets everything up on the embedded defaults (SQLite, local-memory cache, ORM broker),
# loads the demo fund once, prints the logins, starts the cluster and serves
# http://127.0.0.1:8000.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/setup.sh
.venv/bin/python manage.py migrate --noinput
.venv/bin/python manage.py load_demo --if-empty
.venv/bin/python manage.py setup_schedules
# The django-q2 cluster beside the server (pipelines on schedule, the heartbeat /health/
# reads); stopped with it.
.venv/bin/python manage.py qcluster &
cluster=$!
trap 'kill "$cluster" 2>/dev/null; wait "$cluster" 2>/dev/null' EXIT
address=${PMS_ADDRESS:-127.0.0.1:8000}
echo "Admin: http://$address/admin/   API docs: http://$address/api/docs/   Health: http://$address/health/"
.venv/bin/python manage.py runserver "$address"
