#!/usr/bin/env bash
# Two checkouts' benchmarks side by side, on the same machine, one after the other:
# `bash benchmarks/compare.sh OTHER_CHECKOUT [book cache pipelines …]` runs each named
# benchmark (benchmarks/run.sh's names; default: book cache pipelines) in OTHER_CHECKOUT,
# e.g. a worktree of an earlier commit (`git worktree add ../pms-before <commit>`), then
# in this one, and prints both, each under its commit.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [ $# -lt 1 ] || [ ! -f "$1/benchmarks/run.sh" ]; then
    echo "usage: bash benchmarks/compare.sh OTHER_CHECKOUT [benchmark …]" >&2
    exit 2
fi
other=$(cd "$1" && pwd)
shift
for name in ${@:-book cache pipelines}; do
    for side in "$other" "$PWD"; do
        echo "=== $name: $(git -C "$side" log -1 --format='%h %s' | cut -c1-80)"
        bash "$side/benchmarks/run.sh" "$name"
    done
done
