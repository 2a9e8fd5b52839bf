"""Restore a backup written by `manage.py backup`, after checking it."""

import contextlib
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ops.backups import BackupError, backup_read, unapplied_migrations
from ops.restores import backup_restore


@contextlib.contextmanager
def stopped_by_signals_as_interrupts() -> Iterator[None]:
    """SIGTERM and SIGHUP (a closed terminal) stop the restore as Ctrl-C does: through its
    clean-up, which drops the new database and lets the live one take connections again,
    rather than killing the process between the two steps of the swap."""

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt(signal.Signals(signum).name)

    previous = {sig: signal.signal(sig, interrupt) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


class Command(BaseCommand):
    help = (
        "Restore the database from a backup folder: the archive is checked against its "
        "manifest first, restored in one transaction and every table's row count compared "
        "with the manifest. On PostgreSQL it is restored into a new database beside the "
        "live one and checked there, then the names are swapped in one short step. It "
        "refuses while other sessions are connected: stop the web servers and the cluster, "
        "or pass --terminate-sessions."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", type=Path, help="The backup folder (or its manifest.json).")
        parser.add_argument("--yes", action="store_true", help="Do not ask for confirmation.")
        parser.add_argument(
            "--terminate-sessions",
            action="store_true",
            help="PostgreSQL: at the swap, end the other sessions on the database, whatever "
            "their role, and keep new ones out until the restored database takes its name.",
        )
        parser.add_argument(
            "--keep-old",
            action="store_true",
            help="PostgreSQL: keep the database as it was under <name>_old_<UTC time> "
            "instead of dropping it.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        started = time.perf_counter()
        try:
            backup = backup_read(options["path"])
        except (BackupError, OSError, ValueError) as error:
            raise CommandError(str(error)) from None
        manifest = backup.manifest
        self.stdout.write(
            f"Backup {backup.folder.name}: taken {manifest['created_at']}, version "
            f"{manifest['app_version']}, {sum(manifest['tables'].values()):,} rows; archive "
            "checked against its manifest."
        )
        if not options["yes"]:
            self.confirm()

        def say(message: str) -> None:
            self.stdout.write(f"  {message}")
            self.stdout.flush()

        try:
            with stopped_by_signals_as_interrupts():
                restored = backup_restore(
                    backup,
                    say,
                    terminate_sessions=options["terminate_sessions"],
                    keep_old=options["keep_old"],
                )
        except BackupError as error:
            raise CommandError(f"{error} The database was left as it was.") from None
        except KeyboardInterrupt as stop:
            raise CommandError(
                f"Stopped ({stop or 'Ctrl-C'}): the restore's clean-up ran (the new database "
                "dropped unless the swap had finished; the live one taking connections)."
            ) from None
        if restored.differences:
            raise CommandError(
                "Restored, but row counts differ from the manifest: "
                + ", ".join(
                    f"{t} {e} expected, {f} found" for t, (e, f) in restored.differences.items()
                )
            )
        self.report(manifest, restored.kept_as, time.perf_counter() - started)

    def confirm(self) -> None:
        if not sys.stdin.isatty():
            raise CommandError(
                "Restoring replaces the whole database: confirm at a terminal, or pass --yes."
            )
        answer = input("Replace the current database with this backup? Type 'restore': ")
        if answer.strip() != "restore":
            raise CommandError("Not confirmed: nothing was changed.")

    def report(self, manifest: dict[str, Any], kept_as: str | None, seconds: float) -> None:
        pending = unapplied_migrations()
        if pending:
            self.stdout.write(
                self.style.WARNING(
                    f"The backup predates {len(pending)} migration(s) of this code "
                    f"({', '.join(pending[:5])}{' …' if len(pending) > 5 else ''}): "
                    "run `manage.py migrate` before starting the servers."
                )
            )
        if kept_as:
            self.stdout.write(
                f"The database as it was is kept as {kept_as}: drop it once it is no longer "
                f'needed (DROP DATABASE "{kept_as}").'
            )
        self.stdout.write(
            self.style.SUCCESS(
                f"Restored {len(manifest['tables'])} tables, row counts as in the manifest, in "
                f"{seconds:.1f} s."
            )
        )
