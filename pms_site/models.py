"""The site's own rows: the login throttle's counts."""

from django.db import models


class LoginAttempts(models.Model):
    """The recent attempts of one throttle key (a scope and a hashed username or an
    address): DRF's history of timestamps, newest first, bounded by the rate."""

    key = models.CharField(max_length=200, unique=True)
    history = models.JSONField(default=list)
    last_at = models.FloatField(default=0, db_index=True)  # seconds since the epoch

    class Meta:
        verbose_name_plural = "login attempts"

    def __str__(self) -> str:
        return self.key
