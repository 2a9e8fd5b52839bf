"""How long a web request waits for the database: seconds, not minutes.

A database that is down, or hangs, must cost a web request a few seconds and a 503 (see
`pms_site.errors`), never a worker tied up for the proxy's whole timeout. Connections
are opened with a short connect timeout everywhere (settings); the web processes also
bound each statement (PostgreSQL `statement_timeout`) or their wait for a lock (SQLite's
busy timeout). The cluster and the commands run their long statements unbounded.
"""

from typing import Any

from django.conf import settings
from django.db.backends.signals import connection_created


def _bound_statements(sender: Any, connection: Any, **kwargs: Any) -> None:
    milliseconds = int(settings.PMS_WEB_STATEMENT_TIMEOUT_SECONDS * 1000)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"SET statement_timeout = {milliseconds}")
        elif connection.vendor == "sqlite":
            cursor.execute(f"PRAGMA busy_timeout = {milliseconds}")


def bound_web_requests() -> None:
    """Called once by the web process (pms_site.wsgi) before it serves."""
    connection_created.connect(_bound_statements, dispatch_uid="pms-web-statement-timeout")
