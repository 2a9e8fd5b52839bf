"""Writes of the morning pack: generate (replacing the date's pack) and send by email."""

import datetime as dt
from email.mime.image import MIMEImage
from typing import TYPE_CHECKING

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

if TYPE_CHECKING:
    from .charts_png import Chart


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


def inline_image(chart: "Chart") -> MIMEImage:
    """A chart as a part the HTML shows in place (`cid:`), not as an attachment."""
    part = MIMEImage(chart.png, "png")
    part.add_header("Content-ID", f"<{chart.cid}>")
    part.add_header("Content-Disposition", "inline", filename=f"{chart.name}.png")
    return part


class RelatedEmail(EmailMultiAlternatives):
    """An email whose attachments are parts its HTML refers to (`cid:`): multipart/related
    holds the text-or-HTML alternatives and those parts, which Gmail and Outlook show in
    place rather than as attachments."""

    mixed_subtype = "related"


def morning_pack_message(pack: MorningPack, to: list[str]) -> RelatedEmail:
    """The pack as an email: plain text, and HTML whose charts are PNG images inline."""
    page, images = render.email(pack)
    message = RelatedEmail(subject=render.subject(pack), body=render.text(pack), to=to)
    message.attach_alternative(page, "text/html")
    for chart in images:
        message.attach(inline_image(chart))
    return message


def morning_pack_send(*, pack: MorningPack, actor: str) -> int:
    """Email the pack (HTML with its charts inline, and a plain-text part) to
    PMS_MORNING_PACK_RECIPIENTS."""
    to = recipients()
    sent = morning_pack_message(pack, to).send()
    pack.sent_at, pack.sent_to = timezone.now(), ", ".join(to)  # the caller's copy too
    MorningPack.objects.filter(pk=pack.pk).update(sent_at=pack.sent_at, sent_to=pack.sent_to)
    audit_record(actor=actor, action="morningpack.send", obj=pack, after={"to": to})
    return sent
