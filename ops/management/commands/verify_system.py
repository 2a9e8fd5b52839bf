"""Check every component of the running system; exit 0 only when none fails."""

import json
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from ops.verification import FAIL, WARN, verify


class Command(BaseCommand):
    help = (
        "Check settings, database and migrations, cache and tiers, schedules and the "
        "cluster, the last pipeline runs, each domain service on the live data, the API "
        "routes and schema, the admin, the docs and the last backup. Exit 1 if any fails."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="Print the results as JSON.")

    def handle(self, *args: Any, **options: Any) -> None:
        as_json = options["json"]

        def progress(component: str, check: str) -> None:
            if not as_json and self.stderr.isatty():
                self.stderr.write(f"  checking {component}: {check} …", ending="\r")
                self.stderr.flush()

        results = verify(progress)
        failed = [r for r in results if r.status == FAIL]
        warned = [r for r in results if r.status == WARN]
        if as_json:
            self.stdout.write(
                json.dumps({"ok": not failed, "checks": [r.as_dict() for r in results]}, indent=2)
            )
        else:
            if self.stderr.isatty():
                self.stderr.write(" " * 60, ending="\r")
            self._table(results)
            summary = (
                f"verify_system: {len(results) - len(failed) - len(warned)} ok, "
                f"{len(warned)} warnings, {len(failed)} failing"
            )
            style = self.style.ERROR if failed else self.style.SUCCESS
            self.stdout.write(style(summary))
        if failed:
            sys.exit(1)

    def _table(self, results: list[Any]) -> None:
        styles = {"ok": self.style.SUCCESS, WARN: self.style.WARNING, FAIL: self.style.ERROR}
        width = max(len(r.check) for r in results)
        component = None
        for r in results:
            if r.component != component:
                component = r.component
                self.stdout.write(self.style.MIGRATE_HEADING(component))
            status = styles[r.status](f"{r.status.upper():<4}")
            self.stdout.write(f"  {r.check:<{width}}  {status}  {r.detail}  ({r.ms:.0f} ms)")
