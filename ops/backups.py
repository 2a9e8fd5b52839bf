"""Backups of the database and their restoration, checked against a manifest.

A backup is a folder `pms-<UTC time>/` holding the archive (`pg_dump -Fc` on PostgreSQL,
SQLite's online backup elsewhere) and `manifest.json`: the archive's SHA-256 and size,
the row count of every table, the applied migrations and the application's version. The
counts are taken in the same snapshot as the dump, so they match it exactly. A backup holds
secrets (password hashes, tokens): the folder is 0700 and its files 0600, whatever the umask.

`backup_read` checks a backup's archive against its manifest before a restore touches
anything (the restore itself: `ops.restores`).
"""

import datetime as dt
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

from django.db import connection, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.recorder import MigrationRecorder

MANIFEST = "manifest.json"
Say = Callable[[str], None]


class BackupError(Exception):
    """Why a backup or a restore cannot go on, in words an operator can act on."""


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def row_counts(database: BaseDatabaseWrapper = connection) -> dict[str, int]:
    """Rows of every table of `database`, read in its current transaction."""
    with database.cursor() as cursor:
        tables = database.introspection.table_names(cursor)
        return _count(cursor, [database.ops.quote_name(table) for table in tables], tables)


def _count(cursor: Any, quoted: list[str], tables: list[str]) -> dict[str, int]:
    """Row counts of `tables` in one statement (`quoted`: their names quoted for SQL)."""
    if not tables:
        return {}
    cursor.execute(
        " UNION ALL ".join(f"SELECT {i}, COUNT(*) FROM {q}" for i, q in enumerate(quoted))
    )
    return {tables[i]: n for i, n in sorted(cursor.fetchall())}


def applied_migrations() -> dict[str, list[str]]:
    applied: dict[str, list[str]] = {}
    for app, name in sorted(MigrationRecorder(connection).applied_migrations()):
        applied.setdefault(app, []).append(name)
    return applied


def postgres_tool_args(dbname: str | None = None) -> tuple[list[str], dict[str, str]]:
    """libpq arguments of a PostgreSQL client tool for the default database (or for
    `dbname` on its server, as its role), and its password's env."""
    db: dict[str, Any] = connection.settings_dict
    args = ["--dbname", dbname or db["NAME"]]
    for flag, key in (("--host", "HOST"), ("--port", "PORT"), ("--username", "USER")):
        if db.get(key):
            args += [flag, str(db[key])]
    env = {"PGPASSWORD": db["PASSWORD"]} if db.get("PASSWORD") else {}
    return args, env


def tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise BackupError(
            f"{name} was not found on PATH: install the PostgreSQL client tools "
            f"(Debian: postgresql-client) matching the server's version."
        )
    return path


def _run(command: list[str], env: dict[str, str]) -> None:
    """Run a PostgreSQL client tool; its error output becomes the BackupError's message."""
    done = subprocess.run(command, capture_output=True, text=True, env={**os.environ, **env})
    if done.returncode != 0:
        raise BackupError(
            f"{Path(command[0]).name} failed (exit {done.returncode}): "
            f"{done.stderr.strip() or done.stdout.strip()}"
        )


@dataclass(frozen=True)
class Backup:
    folder: Path
    manifest: dict[str, Any]


def backup_create(output_dir: Path, say: Say = print) -> Backup:
    """Write a backup folder under `output_dir`; see the module's docstring."""
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    folder = output_dir / f"pms-{stamp}"
    output_dir.mkdir(parents=True, exist_ok=True)
    folder.mkdir(mode=0o700)
    try:
        folder.chmod(0o700)  # mkdir's mode is cut by the umask; this is exact
        if connection.vendor == "postgresql":
            archive = folder / "pms.dump"
            counts = _dump_postgres(archive, say)
        elif connection.vendor == "sqlite":
            archive = folder / "pms.sqlite3"
            counts = _dump_sqlite(archive, say)
        else:
            raise BackupError(f"No backup method for a {connection.vendor} database.")
        say(f"checksum of {archive.name} ({archive.stat().st_size:,} bytes) …")
        manifest = {
            "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "app_version": version("pms"),
            "database": connection.vendor,
            "archive": archive.name,
            "size": archive.stat().st_size,
            "sha256": sha256(archive),
            "migrations": applied_migrations(),
            "tables": counts,
        }
        _private_file(folder / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)  # no half-written backup left behind
        raise
    return Backup(folder, manifest)


def _private_file(path: Path) -> Path:
    """Create `path` empty and readable by its owner only, for a tool to write into: pg_dump
    and SQLite keep the mode of a file that exists, where they would create one 0644."""
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    path.chmod(0o600)  # exact, whatever the umask took from the mode above
    return path


def _dump_postgres(archive: Path, say: Say) -> dict[str, int]:
    pg_dump = tool("pg_dump")
    args, env = postgres_tool_args()
    # One snapshot for the counts and the dump: the manifest describes the archive exactly.
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        cursor.execute("SELECT pg_export_snapshot()")
        snapshot = cursor.fetchone()[0]
        say("counting rows …")
        counts = row_counts()
        say(f"pg_dump -Fc of {len(counts)} tables …")
        _private_file(archive)
        _run(
            [pg_dump, "-Fc", "--no-owner", f"--snapshot={snapshot}", *args, "-f", str(archive)], env
        )
    return counts


def _dump_sqlite(archive: Path, say: Say) -> dict[str, int]:
    if connection.in_atomic_block:  # SQLite's backup would wait for ever on our own lock
        raise BackupError("A SQLite backup must run outside a transaction.")
    connection.ensure_connection()
    say("SQLite online backup …")
    target = sqlite3.connect(_private_file(archive))
    try:
        try:
            connection.connection.backup(target)  # a consistent copy, taken in one step
        except sqlite3.Error as error:  # e.g. "database or disk is full"
            raise BackupError(f"the SQLite copy into {archive} failed: {error}") from None
        say("counting rows in the copy …")
        # The tables Django's introspection lists, so that a restore compares like with like.
        tables = [
            name
            for (name,) in target.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' "
                "AND name != 'sqlite_sequence' ORDER BY name"
            )
        ]
        return _count(target.cursor(), [f'"{name}"' for name in tables], tables)
    finally:
        target.close()


# --- Restore ---------------------------------------------------------------------------------


def backup_read(path: Path) -> Backup:
    """The backup at `path` (its folder or its manifest), its archive checked against the
    manifest: a truncated or altered archive is refused here, before anything is touched."""
    folder = path.parent if path.name == MANIFEST else path
    manifest_file = folder / MANIFEST
    if not manifest_file.is_file():
        raise BackupError(f"{folder}: no {MANIFEST}; give the folder `backup` wrote.")
    try:
        manifest = json.loads(manifest_file.read_text())
        missing = {"archive", "size", "sha256", "tables", "database"} - set(manifest)
    except (ValueError, TypeError) as error:
        raise BackupError(f"{manifest_file}: not a backup manifest ({error}).") from None
    if missing:
        raise BackupError(
            f"{manifest_file}: not a backup manifest (no {', '.join(sorted(missing))})."
        )
    archive = folder / manifest["archive"]
    if not archive.is_file():
        raise BackupError(f"{archive}: missing.")
    if archive.stat().st_size != manifest["size"] or sha256(archive) != manifest["sha256"]:
        raise BackupError(
            f"{archive}: its size or SHA-256 differs from the manifest: the archive is "
            "truncated or altered. Nothing was restored; use another backup."
        )
    if manifest["database"] != connection.vendor:
        raise BackupError(
            f"A {manifest['database']} backup cannot be restored into {connection.vendor}."
        )
    return Backup(folder, manifest)


def unapplied_migrations() -> list[str]:
    """Migrations of the code that the database has not applied ("app.name")."""
    executor = MigrationExecutor(connection)
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    return [f"{migration.app_label}.{migration.name}" for migration, _ in plan]


def latest_backup(directory: Path) -> tuple[Path, dt.datetime] | None:
    """The newest backup folder under `directory` and its creation time, if any."""
    newest: tuple[Path, dt.datetime] | None = None
    for manifest_file in directory.glob(f"pms-*/{MANIFEST}"):
        try:
            created = dt.datetime.fromisoformat(json.loads(manifest_file.read_text())["created_at"])
        except (ValueError, KeyError):
            continue
        if newest is None or created > newest[1]:
            newest = (manifest_file.parent, created)
    return newest
