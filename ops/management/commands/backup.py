"""Back up the database into a timestamped folder with a manifest."""

import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from ops.backups import BackupError, backup_create


class Command(BaseCommand):
    help = (
        "Back up the database (PostgreSQL: pg_dump -Fc; SQLite: online backup) into "
        "<output-dir>/pms-<UTC time>/ with manifest.json (row counts, SHA-256, migrations, "
        "version)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--output-dir", type=Path, default=None, help="Default: PMS_BACKUP_DIR."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        output = options["output_dir"] or Path(settings.PMS_BACKUP_DIR)
        started = time.perf_counter()

        def say(message: str) -> None:
            self.stdout.write(f"  {message}")
            self.stdout.flush()

        self.stdout.write(f"Backing up into {output} …")
        try:
            backup = backup_create(output, say)
        except (BackupError, OSError) as error:
            raise CommandError(f"Backup failed, nothing kept: {error}") from None
        manifest, seconds = backup.manifest, time.perf_counter() - started
        rows = sum(manifest["tables"].values())
        self.stdout.write(
            self.style.SUCCESS(
                f"{backup.folder} ({manifest['size']:,} bytes, {len(manifest['tables'])} tables, "
                f"{rows:,} rows) in {seconds:.1f} s"
            )
        )
