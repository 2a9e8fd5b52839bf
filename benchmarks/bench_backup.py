"""Backup and restore of a fund with 100,000 positions and their history, on PostgreSQL:
1,000 instruments × 100 strategies, a year of prices, the trade ledger and its audit,
BENCH_SNAPSHOT_DAYS (default 20: a month) days of position snapshots. Prints the time of each;
the restore's is the recovery-time figure of docs/DR_PLAYBOOK.md. Run through
benchmarks/run.sh."""

import io
import json
import os
import tempfile
import time
from decimal import Decimal
from pathlib import Path

from bench_pipelines import book_every_instrument
from bench_risk import AS_OF, load_market
from django.core.management import call_command
from django.db import connection

from core.calendar import business_days_ending
from portfolio.models import Position
from portfolio.services import snapshots_build

STRATEGIES = 100
DAYS = int(os.environ.get("BENCH_SNAPSHOT_DAYS", "20"))


def step(label: str, started: float) -> None:
    print(f"  {label}: {time.perf_counter() - started:.1f} s", flush=True)


def load_fund() -> None:
    started = time.perf_counter()
    instruments = load_market()
    step("1,000 instruments × 261 days of prices", started)
    days = business_days_ending(AS_OF, DAYS)
    started = time.perf_counter()
    book_every_instrument(instruments, STRATEGIES, days[0], capital=Decimal("5e10"))
    step(f"{Position.objects.count():,} positions booked", started)
    started = time.perf_counter()
    snapshots_build(start=days[0], end=days[-1], actor="bench")
    step(f"{DAYS} days of snapshots", started)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def main() -> None:
    assert connection.vendor == "postgresql", "the benchmark measures pg_dump and pg_restore"
    print(f"loading the fund into {connection.settings_dict['NAME']} …", flush=True)
    load_fund()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_size_pretty(pg_database_size(current_database()))")
        size = cursor.fetchone()[0]
    with tempfile.TemporaryDirectory() as directory:
        started = time.perf_counter()
        call_command("backup", "--output-dir", directory, stdout=io.StringIO())
        backup_seconds = time.perf_counter() - started
        [folder] = Path(directory).glob("pms-*")
        archive = next(folder.glob("pms.dump"))
        out = io.StringIO()
        started = time.perf_counter()
        call_command("restore", str(folder), "--yes", stdout=out)
        restore_seconds = time.perf_counter() - started
        assert "row counts as in the manifest" in out.getvalue(), out.getvalue()
        manifest = (folder / "manifest.json").read_text()
        rows = sum(json.loads(manifest)["tables"].values())
        print(f"database {size}, {rows:,} rows; archive {archive.stat().st_size / 2**20:.1f} MiB")
        for label, seconds in (
            ("backup  (pg_dump -Fc, row counts, SHA-256)", backup_seconds),
            ("restore (archive check, pg_restore in one transaction, counts)", restore_seconds),
        ):
            print(f"  {label:<64} {seconds:6.1f} s")


if __name__ == "__main__":
    main()
