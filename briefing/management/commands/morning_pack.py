"""Generate the morning pack for a business date, and optionally email it."""

import datetime as dt
import time
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from briefing import services
from core.formatting import money


class Command(BaseCommand):
    help = (
        "Generate the morning pack of a business date (default: today, or the next business "
        "day) from the previous close; --send emails it to PMS_MORNING_PACK_RECIPIENTS."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--date", type=dt.date.fromisoformat, help="YYYY-MM-DD")
        parser.add_argument("--send", action="store_true", help="Email it once stored.")
        parser.add_argument("--actor", default="morning_pack")

    def handle(self, *args: Any, **options: Any) -> None:
        started = time.perf_counter()
        self.stdout.write("Gathering the morning pack …")
        try:
            if options["send"]:
                services.recipients()  # refused before anything is stored
            pack = services.morning_pack_generate(date=options["date"], actor=options["actor"])
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from None
        if options["send"]:  # stored (committed): sent now, so that it says to whom
            services.morning_pack_send(pack=pack, actor=options["actor"])
        headline = pack.sections["headline"]
        issues = pack.sections["data_quality"]["issues"]
        self.stdout.write(
            self.style.SUCCESS(
                f"Morning pack {pack.date} (close of {pack.data_date}) in "
                f"{time.perf_counter() - started:.1f} s: NAV {money(headline['nav'])}, "
                f"{len(pack.sections['proposals'])} proposals pending"
                + (f"; sent to {pack.sent_to}" if options["send"] else "")
            )
        )
        for issue in issues:
            self.stdout.write(self.style.WARNING(f"  ! {issue}"))
