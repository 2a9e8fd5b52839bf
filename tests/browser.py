"""What the browser tests share (headless Chromium, Debian's `chromium`, driven by
Playwright through pytest-playwright's `page`): the browser, the users and their log-in,
and the API's answers to the logged-in browser. In CI the browser is required: a missing
one fails the tests rather than skipping them."""

import os
import shutil
from typing import Any

import pytest
from django.contrib.auth.models import Group, User

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
if CHROMIUM is None and os.environ.get("CI"):
    raise RuntimeError("The browser tests need Debian's chromium: apt-get install chromium")
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="no chromium (apt-get install chromium)"
)
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
PASSWORD = "browser-pw"


def serve(live_server: Any, settings: Any, *groups: str) -> str:
    """The server's address, with a staff user per group (named as it). The server's clock
    is the suite's (2024), the browser's today's: session cookies, so that none carries an
    expiry date the browser would find past."""
    settings.SESSION_EXPIRE_AT_BROWSER_CLOSE = True
    settings.CSRF_USE_SESSIONS = True
    for group in groups:
        user = User.objects.create_user(group, password=PASSWORD, is_staff=True)
        user.groups.add(Group.objects.get(name=group))
    return str(live_server.url)


def log_in(
    page: Any, url: str, user: str, *, then: str = "/admin/", wait_for: str = "#pms-nav"
) -> None:
    page.goto(f"{url}/admin/login/?next={then}")
    page.fill("#id_username", user)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_selector(wait_for)


def api(page: Any, url: str, path: str) -> dict[str, Any]:
    """The API's answer to the logged-in browser (its session)."""
    answer = page.request.get(f"{url}{path}", headers={"Accept": "application/json"})
    assert answer.ok, (path, answer.status)
    return answer.json()  # type: ignore[no-any-return]
