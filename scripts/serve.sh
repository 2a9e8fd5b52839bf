#!/usr/bin/env bash
# Sets everything up on the embedded defaults (SQLite, a shared file cache, ORM broker),
# loads the demo fund once, prints the logins (their password is kept in var/demo-password),
# starts the cluster and serves with gunicorn, as production does (pms_site/gunicorn.conf.py;
# the static files by WhiteNoise), on PMS_BIND (host:port, default 127.0.0.1:8000) with
# PMS_WEB_WORKERS workers (default 2 here), e.g. `PMS_BIND=127.0.0.1:8010 bash scripts/serve.sh`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/setup.sh
# The database, the cache and the demo password hold password hashes, sessions and token
# digests: readable by their owner only.
umask 077
var=${PMS_VAR_DIR:-var}
mkdir -p "$var" && chmod go-rwx "$var"
# The demo's settings (a development key, local hosts): DEBUG is off unless set.
export DEBUG=${DEBUG:-1}
.venv/bin/python manage.py migrate --noinput
.venv/bin/python manage.py load_demo --if-empty
.venv/bin/python manage.py setup_schedules
# The django-q2 cluster beside the server (pipelines on schedule, the heartbeat /health/
# reads). Ctrl-C, SIGTERM or the server's end stops both: the cluster within
# PMS_CLUSTER_STOP_SECONDS, even with a pipeline running.
export PMS_BIND=${PMS_BIND:-127.0.0.1:8000} PMS_WEB_WORKERS=${PMS_WEB_WORKERS:-2}
address=$PMS_BIND
.venv/bin/python manage.py qcluster &
cluster=$!
# The workers' request counters meet in one folder, emptied at each start (/metrics).
metrics="$var/metrics"
rm -rf "$metrics" && mkdir -p "$metrics"
PROMETHEUS_MULTIPROC_DIR="$metrics" .venv/bin/gunicorn -c pms_site/gunicorn.conf.py pms_site.wsgi &
server=$!
stop() {
    trap - TERM INT EXIT
    kill "$server" "$cluster" 2>/dev/null || true
    wait "$server" "$cluster" 2>/dev/null || true
}
trap 'stop; exit 0' TERM INT
trap stop EXIT
echo "Admin: http://$address/admin/   API docs: http://$address/api/docs/   Health: http://$address/health/"
wait "$server"
