"""Backup and restore on the risk tests' book (tests/fixtures/risk_book.py), on SQLite and on
PostgreSQL: every table comes back as it was (rows and content), a damaged archive or an
unconfirmed restore changes nothing, and the cache forgets what it held."""

import hashlib
import io
import json
import os
import re
import stat
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from ops import backups
from portfolio import services
from portfolio.models import Price, Strategy
from tests.conftest import TODAY

pytestmark = pytest.mark.django_db(transaction=True)  # pg_dump sees committed rows only


def table_state() -> dict[str, tuple[int, str]]:
    """Every table's row count and a hash of its rows' content (in a fixed order)."""
    state = {}
    with connection.cursor() as cursor:
        for table in sorted(connection.introspection.table_names(cursor)):
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")
            rows = sorted(repr(row) for row in cursor.fetchall())
            state[table] = (len(rows), hashlib.sha256("\n".join(rows).encode()).hexdigest())
    return state


def make_backup(tmp_path: Path) -> Path:
    out = io.StringIO()
    call_command("backup", "--output-dir", str(tmp_path), stdout=out)
    [folder] = tmp_path.glob("pms-*")
    assert "counting rows" in out.getvalue() and str(folder) in out.getvalue()
    return folder


def change_the_fund() -> None:
    """A trade booked (new rows in the ledger, the positions, the audit), a price
    corrected, a strategy and a day of prices deleted."""
    services.trades_book(
        requests=[
            services.TradeRequest(
                instrument="INDJ24",
                strategy="MACRO",
                quantity=Decimal("5"),
                price=Decimal("101000"),
                trade_date=TODAY,
            )
        ],
        actor="test",
        source="api",
    )
    Price.objects.filter(instrument__symbol="ESH4", date=TODAY).update(price=Decimal("4000"))
    Strategy.objects.create(code="NEW", name="New")
    Price.objects.filter(date=TODAY, instrument__symbol="USDBRL").delete()


def test_the_manifest_describes_the_archive(book, tmp_path):
    folder = make_backup(tmp_path)
    manifest = json.loads((folder / "manifest.json").read_text())
    archive = folder / manifest["archive"]
    assert manifest["sha256"] == hashlib.sha256(archive.read_bytes()).hexdigest()
    assert manifest["size"] == archive.stat().st_size
    assert manifest["database"] == connection.vendor
    assert manifest["tables"] == {table: n for table, (n, _) in table_state().items()}
    assert manifest["tables"]["portfolio_trade"] == 5
    assert manifest["tables"]["portfolio_price"] == 4 * 21
    assert "0001_groups" in manifest["migrations"]["pms_site"]
    assert manifest["app_version"]


def test_a_backup_is_readable_by_its_owner_only(book, tmp_path):
    """It holds password hashes and tokens: under the usual umask (022), which would make
    the folder 0755 and the files 0644, the folder is 0700 and each file 0600."""
    previous = os.umask(0o022)
    try:
        folder = make_backup(tmp_path)
    finally:
        os.umask(previous)
    archive = "pms.dump" if connection.vendor == "postgresql" else "pms.sqlite3"
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert {path.name: stat.S_IMODE(path.stat().st_mode) for path in folder.iterdir()} == {
        archive: 0o600,
        "manifest.json": 0o600,
    }


def test_restore_brings_back_every_row(book, tmp_path, api_client_for):
    viewer = api_client_for("viewer")
    before_book = viewer.get("/api/book/").json()
    folder = make_backup(tmp_path)
    before = table_state()  # the viewer's token is in the backup too

    change_the_fund()
    assert viewer.get("/api/book/").json()["totals"] != before_book["totals"]
    changed = table_state()
    assert changed != before
    assert changed["portfolio_trade"][0] == 6 and changed["portfolio_price"][0] == 4 * 21 - 1

    out = io.StringIO()
    call_command("restore", str(folder), "--yes", stdout=out)
    assert "row counts as in the manifest" in out.getvalue()
    assert table_state() == before
    # The cache held the changed book: the restore made it stale (and wrote the book through).
    assert viewer.get("/api/book/").json()["totals"] == before_book["totals"]


def damage(folder: Path, *, manifest_too: bool) -> None:
    """Cut the archive to half; with `manifest_too`, rewrite the manifest to match it
    (so that only the restore itself can find the damage)."""
    manifest_file = folder / "manifest.json"
    manifest = json.loads(manifest_file.read_text())
    archive = folder / manifest["archive"]
    data = archive.read_bytes()
    archive.write_bytes(data[: len(data) // 2])
    if manifest_too:
        manifest["size"] = archive.stat().st_size
        manifest["sha256"] = hashlib.sha256(archive.read_bytes()).hexdigest()
        manifest_file.write_text(json.dumps(manifest))


@pytest.mark.parametrize("manifest_too", [False, True], ids=["checksum", "restore"])
def test_a_truncated_archive_changes_nothing(book, tmp_path, manifest_too):
    folder = make_backup(tmp_path)
    change_the_fund()
    changed = table_state()
    damage(folder, manifest_too=manifest_too)
    with pytest.raises(CommandError) as refused:
        call_command("restore", str(folder), "--yes", stdout=io.StringIO())
    if manifest_too:  # found by pg_restore or SQLite, in the one transaction
        assert "database was left as it was" in str(refused.value)
    else:  # found before anything is touched
        assert "truncated or altered" in str(refused.value)
    assert table_state() == changed


def test_no_confirmation_no_restore(book, tmp_path, monkeypatch):
    folder = make_backup(tmp_path)
    change_the_fund()
    changed = table_state()

    monkeypatch.setattr("sys.stdin", io.StringIO("restore\n"))  # not a terminal
    with pytest.raises(CommandError, match="confirm at a terminal, or pass --yes"):
        call_command("restore", str(folder), stdout=io.StringIO())

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr("sys.stdin", Terminal("no\n"))
    with pytest.raises(CommandError, match="Not confirmed: nothing was changed"):
        call_command("restore", str(folder), stdout=io.StringIO())
    assert table_state() == changed


def test_bad_paths_are_refused(db, tmp_path):
    with pytest.raises(CommandError, match=r"no manifest\.json"):
        call_command("restore", str(tmp_path), "--yes")
    (tmp_path / "manifest.json").write_text("{not json")
    with pytest.raises(CommandError, match=r"manifest\.json: not a backup manifest"):
        call_command("restore", str(tmp_path), "--yes")


@pytest.mark.postgres
def test_backup_without_pg_dump_fails_and_keeps_nothing(db, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(CommandError, match="pg_dump was not found on PATH"):
        call_command("backup", "--output-dir", str(tmp_path / "out"), stdout=io.StringIO())
    assert list((tmp_path / "out").iterdir()) == []


def test_latest_backup(book, tmp_path):
    assert backups.latest_backup(tmp_path) is None
    folder = make_backup(tmp_path)
    found = backups.latest_backup(tmp_path)
    assert found is not None and found[0] == folder


def databases_like(pattern: str) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE %s ORDER BY datname", [pattern]
        )
        return [name for (name,) in cursor.fetchall()]


@pytest.mark.postgres
def test_a_damage_only_pg_restore_finds_leaves_the_live_database(book, tmp_path):
    """The table of contents reads, the data does not: pg_restore fails in the new database,
    which is dropped; the live one was never touched and takes connections."""
    folder = make_backup(tmp_path)
    change_the_fund()
    changed = table_state()
    name = connection.settings_dict["NAME"]
    manifest_file = folder / "manifest.json"
    manifest = json.loads(manifest_file.read_text())
    archive = folder / manifest["archive"]
    archive.write_bytes(archive.read_bytes()[:-40])  # the last table's data cut short
    manifest.update(size=archive.stat().st_size, sha256=backups.sha256(archive))
    manifest_file.write_text(json.dumps(manifest))

    out = io.StringIO()
    with pytest.raises(CommandError, match=r"pg_restore failed .* left as it was") as refused:
        call_command("restore", str(folder), "--yes", stdout=out)
    assert "end of file" in str(refused.value)
    assert f"creating {name}_restore_" in out.getvalue()  # it got as far as the new database
    assert databases_like(f"{name}\\_%") == []
    assert table_state() == changed
    with connection.cursor() as cursor:
        cursor.execute("SELECT datallowconn FROM pg_database WHERE datname = %s", [name])
        assert cursor.fetchone() == (True,)


@pytest.mark.postgres
def test_keep_old_keeps_the_database_as_it_was_under_a_dated_name(book, tmp_path):
    folder = make_backup(tmp_path)
    before = table_state()
    change_the_fund()
    name = connection.settings_dict["NAME"]
    out = io.StringIO()
    call_command("restore", str(folder), "--yes", "--keep-old", stdout=out)
    [kept] = databases_like(f"{name}\\_old\\_%")
    try:
        assert re.fullmatch(rf"{name}_old_20240315_1800\d\d", kept)  # the tests' clock, UTC
        assert f"kept as {kept}" in out.getvalue()
        assert table_state() == before
        connection.close()
        original = connection.settings_dict["NAME"]
        connection.settings_dict["NAME"] = kept
        try:  # the changed fund, open to connections for a look
            assert table_state()["portfolio_trade"][0] == 6
        finally:
            connection.close()
            connection.settings_dict["NAME"] = original
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f'DROP DATABASE "{kept}"')
    # Without --keep-old the database as it was is dropped once the swap is done.
    out = io.StringIO()
    call_command("restore", str(folder), "--yes", stdout=out)
    assert "dropped " in out.getvalue() and databases_like(f"{name}\\_%") == []


class FullDiskSQLite:
    """The database connection as the SQLite backup sees it, on a disk that is full."""

    vendor = "sqlite"
    in_atomic_block = False

    def ensure_connection(self) -> None:
        pass

    class connection:
        @staticmethod
        def backup(target: Any) -> None:
            import sqlite3

            raise sqlite3.OperationalError("database or disk is full")


def test_a_full_disk_is_the_commands_error_and_keeps_nothing(db, tmp_path, monkeypatch):
    """The backup's disk fills up (as on a 64 KiB tmpfs): the command says so, exit 1, and
    no half-written folder is left to be mistaken for a backup."""
    monkeypatch.setattr(backups, "connection", FullDiskSQLite())
    with pytest.raises(CommandError, match=r"Backup failed, nothing kept: .*disk is full"):
        call_command("backup", "--output-dir", str(tmp_path), stdout=io.StringIO())
    assert list(tmp_path.iterdir()) == []


def test_sigterm_or_sighup_stops_a_restore_through_its_clean_up():
    """A `kill` or a closed terminal during a restore is an interrupt that runs the
    restore's clean-up (new database dropped, connections allowed again), not a death
    between the two steps of the swap that leaves the live database refusing everyone."""
    import os
    import signal

    from ops.management.commands.restore import stopped_by_signals_as_interrupts

    for sig in (signal.SIGTERM, signal.SIGHUP):
        before = signal.getsignal(sig)
        with pytest.raises(KeyboardInterrupt, match=sig.name), stopped_by_signals_as_interrupts():
            os.kill(os.getpid(), sig)
        assert signal.getsignal(sig) == before
