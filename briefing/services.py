"""Writes of the morning pack: generate (replacing the date's pack) and send by email."""

import datetime as dt

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.utils import timezone

from core.calendar import (
    is_business_day,
    next_business_day,
    on_or_after,
    previous_business_day,
    today,
)
from portfolio.services import audit_record

from . import render
from .models import MorningPack
from .selectors import Sections


def pack_date(day: dt.date | None = None) -> dt.date:
    """The business date a pack is for: `day`, or today, or the next business day."""
    day = day or today()
    return on_or_after(day)


@transaction.atomic
def morning_pack_generate(
    *, date: dt.date | None = None, actor: str, send: bool = False
) -> MorningPack:
    """Gather every section for business date `date` (default: today, or the next business
    day) from the close before it, and store it, replacing that date's pack. With `send`,
    it is emailed once the transaction commits."""
    if date is not None and not is_business_day(date):
        raise ValidationError({"date": [f"{date} is not a business day."]})
    date = pack_date(date)
    if date > next_business_day(today()):
        raise ValidationError({"date": [f"{date} is after the next business day."]})
    if send:
        recipients()  # refuse now, not after the commit
    data_date = previous_business_day(date)
    pack, _ = MorningPack.objects.update_or_create(
        date=date,
        defaults={
            "data_date": data_date,
            "sections": Sections(date, data_date).all(),
            "generated_at": timezone.now(),
            "generated_by": actor,
        },
    )
    audit_record(actor=actor, action="morningpack.generate", obj=pack, after={"date": date})
    if send:
        transaction.on_commit(lambda: morning_pack_send(pack=pack, actor=actor))
    return pack


def recipients() -> list[str]:
    addresses = list(settings.PMS_MORNING_PACK_RECIPIENTS)
    if not addresses:
        raise ValidationError(
            {"detail": ["No recipients: set PMS_MORNING_PACK_RECIPIENTS (comma-separated)."]}
        )
    return addresses


def morning_pack_send(*, pack: MorningPack, actor: str) -> int:
    """Email the pack (HTML with a plain-text part) to PMS_MORNING_PACK_RECIPIENTS."""
    to = recipients()
    message = EmailMultiAlternatives(
        subject=render.subject(pack),
        body=render.text(pack),
        to=to,
    )
    message.attach_alternative(render.html(pack), "text/html")
    sent = message.send()
    MorningPack.objects.filter(pk=pack.pk).update(sent_at=timezone.now(), sent_to=", ".join(to))
    audit_record(actor=actor, action="morningpack.send", obj=pack, after={"to": to})
    return sent
