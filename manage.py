#!/usr/bin/env python
"""Django's command-line utility for the PMS."""

import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pms_site.settings")
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line

    try:
        settings.INSTALLED_APPS  # noqa: B018 — the settings' own checks, said plainly
    except ImproperlyConfigured as error:
        sys.exit(f"PMS cannot start: {error}")
    execute_from_command_line(sys.argv)
