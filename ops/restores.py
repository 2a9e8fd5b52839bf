"""Restoring a backup that `ops.backups.backup_read` has checked against its manifest.

On PostgreSQL the live database is never restored in place: a restore in place needs every
other session out for its whole length, and a superuser reconnects through any connection
limit, so under load it waited on their locks and rolled back. Instead the backup is
restored into a new database beside the live one (`<name>_restore_<UTC time>`, in one
transaction), its row counts are checked against the manifest there, and only then are the
names swapped in one short step: the live database stops taking connections (every role,
superusers too), its sessions are ended, and in one transaction it is renamed
`<name>_old_<UTC time>` and the new one takes its name. Until that transaction commits the
live database is untouched; a failure at any step before it drops the new database and lets
sessions in again. The old one is then dropped, or kept under its dated name (`keep_old`).

On SQLite the backup is copied over the live file with the online backup API (all pages or
none); the counts are compared afterwards.
"""

import datetime as dt
import os
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from django.db import DEFAULT_DB_ALIAS, connection, connections
from psycopg import sql

from ops.backups import Backup, BackupError, Say, postgres_tool_args, row_counts, tool
from pms_site import cache

# How long the swap keeps trying to rename the live database while ended sessions go away
# (each rename itself waits up to 5 s for them).
SWAP_SECONDS = 15.0
APPLICATION_NAME = "pms restore"
# Settings whose value is a list PostgreSQL stores already quoted ("$user", public).
LIST_SETTINGS = {"search_path", "temp_tablespaces", "local_preload_libraries"}


@dataclass(frozen=True)
class Restored:
    differences: dict[str, tuple[int, int]]  # {table: (in the manifest, found)}
    kept_as: str | None = None  # the database as it was, kept under this name (PostgreSQL)


def backup_restore(
    backup: Backup, say: Say = print, *, terminate_sessions: bool = False, keep_old: bool = False
) -> Restored:
    """Restore a checked backup; see the module's docstring. On PostgreSQL it refuses while
    other sessions are connected (naming them) unless `terminate_sessions`, and a row count
    that differs from the manifest is refused before the swap."""
    archive = backup.folder / backup.manifest["archive"]
    expected = backup.manifest["tables"]
    if connection.vendor == "postgresql":
        # Counted before the swap (the servers write into the restored database at once).
        try:
            kept_as = _restore_postgres(
                archive, expected, say, terminate=terminate_sessions, keep=keep_old
            )
        except psycopg.Error as error:  # e.g. a privilege the role lacks
            raise BackupError(f"PostgreSQL refused: {str(error).strip()}.") from None
        restored = Restored({}, kept_as)
    else:
        _restore_sqlite(archive, say)
        say("comparing row counts with the manifest …")
        restored = Restored(_differences(expected, row_counts()))
    # Every cached answer describes the database as it was: all data sets go stale at once.
    cache.invalidate(cache.ALL_DATASETS)
    return restored


def _differences(expected: dict[str, int], found: dict[str, int]) -> dict[str, tuple[int, int]]:
    return {
        table: (expected.get(table, 0), found.get(table, 0))
        for table in sorted(set(expected) | set(found))
        if expected.get(table, 0) != found.get(table, 0)
    }


def _restore_sqlite(archive: Path, say: Say) -> None:
    try:
        source = sqlite3.connect(f"file:{archive}?mode=ro", uri=True)
        try:
            if source.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
                raise sqlite3.DatabaseError("integrity check failed")
            connection.ensure_connection()
            say("SQLite online restore (one step: all pages or none) …")
            source.backup(connection.connection)
        finally:
            source.close()
    except sqlite3.DatabaseError as error:
        raise BackupError(f"{archive}: not a sound SQLite database ({error}).") from None


# --- PostgreSQL ------------------------------------------------------------------------------


def _restore_postgres(
    archive: Path, expected: dict[str, int], say: Say, *, terminate: bool, keep: bool
) -> str | None:
    """Restore beside the live database, check, swap; answer the old one's name if kept."""
    if connection.in_atomic_block:
        raise BackupError("A restore must run outside a transaction.")
    name = connection.settings_dict["NAME"]
    items = _archive_items(archive)
    connection.close()  # this process's own session must not hold the live database
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d_%H%M%S")
    new, old = _dated(name, "restore", stamp), _dated(name, "old", stamp)
    with _maintenance(name) as admin:
        _check_privileges(admin, name)
        sessions = _sessions(admin, name)
        if sessions and not terminate:
            raise BackupError(_refusal(sessions))
        say(f"creating {new} beside {name} …")
        _create_like(admin, new, name)
    try:
        _pg_restore(archive, new, items, say)
        say(f"counting rows in {new} …")
        differences = _differences(expected, _counts_in(new))
        if differences:
            raise BackupError(
                "the restored rows differ from the manifest: "
                + ", ".join(f"{t} {e} expected, {f} found" for t, (e, f) in differences.items())
                + "."
            )
        with _maintenance(name) as admin:
            _swap(admin, name, new, old, terminate=terminate, say=say)
    except BaseException:
        with _maintenance(name) as admin:
            _alter(admin, "DROP DATABASE IF EXISTS {} WITH (FORCE)", new)
        raise
    return _after_swap(name, old, keep, say)


def _id(name: str) -> sql.Identifier:
    return sql.Identifier(name)


def _alter(admin: psycopg.Connection[Any], statement: str, *databases: str) -> None:
    """Run `statement` with the names of `databases` quoted into its `{}`."""
    admin.execute(sql.SQL(statement).format(*map(_id, databases)))


def _dated(name: str, tag: str, stamp: str) -> str:
    """`<name>_<tag>_<stamp>`, the name cut to PostgreSQL's 63 bytes for identifiers."""
    suffix = f"_{tag}_{stamp}"
    return name.encode()[: 63 - len(suffix)].decode(errors="ignore") + suffix


@contextmanager
def _maintenance(name: str) -> Iterator[psycopg.Connection[Any]]:
    """An autocommit session on the server's maintenance database (`postgres`; `template1`
    when the application's database is itself named `postgres`)."""
    with _connect("template1" if name == "postgres" else "postgres") as admin:
        yield admin


def _connect(dbname: str) -> psycopg.Connection[Any]:
    """A session as the application's role, with its settings (host, port, password,
    options), on `dbname`."""
    params = connections[DEFAULT_DB_ALIAS].get_connection_params()
    for django_only in ("cursor_factory", "context", "prepare_threshold"):
        params.pop(django_only, None)
    params.update(dbname=dbname, application_name=APPLICATION_NAME)
    try:
        return psycopg.connect(**params, autocommit=True)
    except psycopg.OperationalError as error:
        raise BackupError(f"cannot connect to the database {dbname}: {error}") from None


def _check_privileges(admin: psycopg.Connection[Any], name: str) -> None:
    """The role must create databases and own (or be a member of the owner of) this one."""
    row = admin.execute(
        "SELECT r.rolname, r.rolsuper, r.rolcreatedb, pg_has_role(d.datdba, 'MEMBER'), "
        "pg_get_userbyid(d.datdba) FROM pg_roles r, pg_database d "
        "WHERE r.rolname = current_user AND d.datname = %s",
        [name],
    ).fetchone()
    if row is None:
        raise BackupError(f"the database {name} does not exist: create it first (createdb).")
    role, superuser, createdb, owns, owner = row
    if superuser:
        return
    if not createdb:
        raise BackupError(
            f"the role {role} cannot create databases, and the restore builds the backup in "
            f"a new database beside {name}: as a superuser, run `ALTER ROLE {role} CREATEDB`, "
            "or restore as a superuser."
        )
    if not owns:
        raise BackupError(
            f"the role {role} does not own the database {name} (its owner is {owner}): "
            f"restore as {owner}, or as a superuser."
        )


def _sessions(admin: psycopg.Connection[Any], name: str) -> list[tuple[int, str]]:
    """The client sessions on database `name`: (pid, "pid user@address application since").
    A role that is not a superuser sees another role's session without its type, address
    or start (NULL): it is listed all the same (background workers have no user)."""
    rows = admin.execute(
        "SELECT pid, usename, coalesce(host(client_addr), 'local'), application_name, "
        "coalesce(to_char(backend_start, 'HH24:MI:SS'), '?') FROM pg_stat_activity "
        "WHERE datname = %s AND pid <> pg_backend_pid() AND usesysid IS NOT NULL "
        "AND coalesce(backend_type, 'client backend') = 'client backend' ORDER BY pid",
        [name],
    ).fetchall()
    return [
        (pid, f"pid {pid} {user}@{address}{f' {app}' if app else ''} since {since}")
        for pid, user, address, app, since in rows
    ]


def _refusal(sessions: list[tuple[int, str]]) -> str:
    return (
        f"{len(sessions)} other session(s) are connected to the database: "
        + "; ".join(described for _, described in sessions)
        + ". Stop the web servers and the cluster, or pass --terminate-sessions to end them "
        "(and keep new ones out) at the swap."
    )


def _create_like(admin: psycopg.Connection[Any], new: str, name: str) -> None:
    """Create `new` empty (from template0) with the owner, encoding, locale, connection
    limit, privileges and settings of the database `name`."""
    (db,) = admin.execute(
        "SELECT to_jsonb(d) || jsonb_build_object('owner', pg_get_userbyid(d.datdba), "
        "'encoding_name', pg_encoding_to_char(d.encoding)) FROM pg_database d "
        "WHERE datname = %s",
        [name],
    ).fetchone() or (None,)
    if db is None:
        raise BackupError(f"the database {name} does not exist: create it first (createdb).")
    statement = sql.SQL(
        "CREATE DATABASE {} TEMPLATE template0 OWNER {} ENCODING {} LC_COLLATE {} LC_CTYPE {} "
        "CONNECTION LIMIT {}"
    ).format(
        _id(new),
        _id(db["owner"]),
        sql.Literal(db["encoding_name"]),
        sql.Literal(db["datcollate"]),
        sql.Literal(db["datctype"]),
        sql.Literal(db["datconnlimit"]),
    )
    if db.get("datlocprovider") == "i":  # PostgreSQL 15+: the ICU locale (datlocale from 17)
        icu = db.get("daticulocale") or db.get("datlocale")
        statement += sql.SQL(" LOCALE_PROVIDER icu ICU_LOCALE {}").format(sql.Literal(icu))
    admin.execute(statement)
    _copy_grants(admin, new, name)
    _copy_settings(admin, new, name)


def _copy_grants(admin: psycopg.Connection[Any], new: str, name: str) -> None:
    """The database-level privileges (CONNECT, TEMPORARY, CREATE) of `name` on `new`."""
    grants = admin.execute(
        "SELECT coalesce(pg_get_userbyid(nullif(a.grantee, 0)), ''), a.privilege_type, "
        "a.is_grantable FROM pg_database d, aclexplode(d.datacl) a WHERE d.datname = %s",
        [name],
    ).fetchall()
    if not grants:
        return  # the defaults: nothing was granted or revoked
    admin.execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(_id(new)))
    for grantee, privilege, grantable in grants:
        admin.execute(
            sql.SQL("GRANT {} ON DATABASE {} TO {}{}").format(
                sql.SQL(privilege),
                _id(new),
                _id(grantee) if grantee else sql.SQL("PUBLIC"),
                sql.SQL(" WITH GRANT OPTION" if grantable else ""),
            )
        )


def _copy_settings(admin: psycopg.Connection[Any], new: str, name: str) -> None:
    """`ALTER DATABASE name SET …` (and `ALTER ROLE … IN DATABASE name SET …`) on `new`."""
    rows = admin.execute(
        "SELECT coalesce(pg_get_userbyid(nullif(s.setrole, 0)), ''), unnest(s.setconfig) "
        "FROM pg_db_role_setting s JOIN pg_database d ON d.oid = s.setdatabase "
        "WHERE d.datname = %s",
        [name],
    ).fetchall()
    for role, setting in rows:
        key, _, value = setting.partition("=")
        target = sql.SQL("DATABASE {}").format(_id(new))
        if role:
            target = sql.SQL("ROLE {} IN ").format(_id(role)) + target
        # A list setting is stored as it was written (quoted names); any other is one value.
        shown = sql.SQL(value) if key in LIST_SETTINGS else sql.Literal(value)
        admin.execute(sql.SQL("ALTER {} SET {} = {}").format(target, _id(key), shown))


def _archive_items(archive: Path) -> int:
    """The entries of the archive's table of contents (read whole: a damaged one fails)."""
    listing = subprocess.run(
        [tool("pg_restore"), "--list", str(archive)], capture_output=True, text=True
    )
    if listing.returncode != 0:
        raise BackupError(f"pg_restore --list failed: {listing.stderr.strip()}")
    return sum(1 for line in listing.stdout.splitlines() if line and not line.startswith(";"))


def _pg_restore(archive: Path, dbname: str, items: int, say: Say) -> None:
    """pg_restore into the new database in one transaction, saying how far it is every 2 s."""
    args, env = postgres_tool_args(dbname)
    command = [tool("pg_restore"), "--single-transaction", "--no-owner", "--verbose", *args]
    say(f"pg_restore --single-transaction --no-owner into {dbname} ({items} items) …")
    process = subprocess.Popen(
        [*command, str(archive)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **env, "PGAPPNAME": APPLICATION_NAME},
    )
    done, said, messages = 0, time.monotonic(), []
    assert process.stderr is not None
    for line in process.stderr:
        text = line.removeprefix("pg_restore: ").strip()
        if text.startswith(("creating ", "processing ", "executing ")):
            done += 1
        else:
            messages.append(text)
        if time.monotonic() - said >= 2:
            say(f"  {done}/{items} items: {text[:80]}")
            said = time.monotonic()
    if process.wait() != 0:
        detail = "; ".join(m for m in messages if not m.startswith("connecting"))[-800:]
        raise BackupError(f"pg_restore failed (exit {process.returncode}): {detail}")
    say(f"  {done}/{items} items restored in one transaction")


def _counts_in(dbname: str) -> dict[str, int]:
    """Row counts of every table of `dbname`, listed as the manifest's were (Django's
    introspection), through a connection of its own."""
    default = connections[DEFAULT_DB_ALIAS]
    wrapper = type(default)({**default.settings_dict, "NAME": dbname}, alias="restore")
    try:
        return row_counts(wrapper)
    finally:
        wrapper.close()


def _swap(
    admin: psycopg.Connection[Any], name: str, new: str, old: str, *, terminate: bool, say: Say
) -> None:
    """The short step: the live database `name` takes no more connections, whatever the
    role; its sessions are ended; then, in one transaction, `name` becomes `old` and `new`
    becomes `name`. Any failure lets sessions into `name` again, untouched."""
    started = time.monotonic()
    say(f"swapping: {name} takes no new connections (any role) …")
    _alter(admin, "ALTER DATABASE {} WITH ALLOW_CONNECTIONS false", name)
    try:
        while True:
            sessions = _sessions(admin, name)
            if sessions and not terminate:
                raise BackupError(_refusal(sessions))
            if sessions:
                _end(admin, sessions, say)
            try:
                with admin.transaction():
                    _alter(admin, "ALTER DATABASE {} RENAME TO {}", name, old)
                    _alter(admin, "ALTER DATABASE {} RENAME TO {}", new, name)
                break
            except psycopg.errors.ObjectInUse as error:
                if time.monotonic() - started > SWAP_SECONDS:
                    raise BackupError(
                        f"{name} still had sessions after {SWAP_SECONDS:.0f} s ({error}); "
                        "nothing was swapped."
                    ) from None
    except BaseException:
        _alter(admin, "ALTER DATABASE {} WITH ALLOW_CONNECTIONS true", name)
        raise
    say(f"swapped in {time.monotonic() - started:.1f} s: {name} is the restored database")


def _end(admin: psycopg.Connection[Any], sessions: list[tuple[int, str]], say: Say) -> None:
    """End every session in `sessions`; one the role may not end (a superuser's, for a role
    that is not one) is named in a BackupError."""
    refused = []
    for pid, described in sessions:
        try:
            admin.execute("SELECT pg_terminate_backend(%s)", [pid])
        except psycopg.errors.InsufficientPrivilege:
            refused.append(described)
    if refused:
        raise BackupError(
            f"this role may not end {'; '.join(refused)}: restore as a superuser, or grant "
            "this role the roles of those sessions (deploy/postgres/roles.sql)."
        )
    say(f"ended {len(sessions)} other session(s); new ones kept out until the swap …")


def _after_swap(name: str, old: str, keep: bool, say: Say) -> str | None:
    """Drop the database as it was, or keep it under its dated name (open to connections);
    a failed drop is said, not raised: the restore itself is done."""
    with _maintenance(name) as admin:
        if keep:
            _alter(admin, "ALTER DATABASE {} WITH ALLOW_CONNECTIONS true", old)
            return old
        try:
            _alter(admin, "DROP DATABASE {} WITH (FORCE)", old)
        except psycopg.Error as error:
            say(f"could not drop {old}, the database as it was ({error}): drop it by hand")
            return old
    say(f"dropped {old}, the database as it was")
    return None
