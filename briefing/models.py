"""The morning pack: the PM's briefing for a business date, from data up to the previous
close, stored as the JSON every reader (API, page, email) renders."""

from django.db import models
from django.utils import timezone


class MorningPack(models.Model):
    """One per business date; generating it again replaces it."""

    date = models.DateField(unique=True, help_text="The business date it briefs for.")
    data_date = models.DateField(help_text="The close its figures are taken at (D−1).")
    sections = models.JSONField()
    generated_at = models.DateTimeField(default=timezone.now)
    generated_by = models.CharField(max_length=150)
    sent_at = models.DateTimeField(null=True, blank=True, help_text="Last emailed at.")
    sent_to = models.TextField(blank=True)

    class Meta:
        permissions = [
            ("send_morningpack", "Can email morning packs"),
        ]
        ordering = ["-date"]

    def __str__(self) -> str:
        return f"Morning pack {self.date}"
