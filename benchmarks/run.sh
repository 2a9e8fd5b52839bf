#!/usr/bin/env bash
# Benchmarks on PostgreSQL + Redis:
# `benchmarks/run.sh [book|risk|proposals|attribution|morning_pack|cache|pipelines|nav|backup|health|outage|dashboard|analytics|workspace]`
# (default: all).
# Each recreates the benchmark database, then prints its figures. The database is
# BENCH_DATABASE_URL (default postgresql://postgres@127.0.0.1:5432/pms_bench; its name must
# contain "bench"), the cache BENCH_REDIS_URL (default redis://127.0.0.1:6379/14). `cache`
# needs wrk (apt-get install wrk): without it, it exits 1 saying so, and so does this script,
# before the benchmarks after it. `BENCH_DI1=200` (book,
# risk): linear instruments only beside the same book with 200 of its 1,000 instruments DI1
# futures, and the ratio (issue 37).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/setup.sh
export DATABASE_URL=${BENCH_DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/pms_bench}
export REDIS_URL=${BENCH_REDIS_URL:-redis://127.0.0.1:6379/14}
export DEBUG=1
for name in ${@:-book risk proposals attribution morning_pack cache pipelines nav backup health outage dashboard analytics workspace}; do
  echo "== $name"
  .venv/bin/python benchmarks/recreate_db.py
  .venv/bin/python manage.py migrate --noinput -v0
  .venv/bin/python "benchmarks/bench_$name.py"
done
