"""WSGI entry point (gunicorn pms_site.wsgi; runserver loads it too)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pms_site.settings")
application = get_wsgi_application()

from pms_site.database import bound_web_requests  # noqa: E402 — needs the settings loaded

bound_web_requests()
