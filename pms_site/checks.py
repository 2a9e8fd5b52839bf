"""System checks of PMS's own production settings (`manage.py check --deploy`)."""

from typing import Any

from django.conf import settings
from django.core.checks import Tags, Warning, register


@register(Tags.security, deploy=True)
def metrics_token(app_configs: Any, **kwargs: Any) -> list[Warning]:
    if settings.PMS_METRICS_TOKEN:
        return []
    return [
        Warning(
            "PMS_METRICS_TOKEN is not set: with DEBUG off /metrics is off (404), and "
            "Prometheus cannot scrape the node.",
            hint="Set PMS_METRICS_TOKEN to a long random string and give it to Prometheus "
            "(Authorization: Bearer <token>).",
            id="pms.W001",
        )
    ]
