"""Screenshots of the PM's screens, taken in headless Chromium (Debian's `chromium`) from a
running PMS: the dashboard, the positions, risk and performance, a proposal and the latest
morning pack.

    .venv/bin/python scripts/screenshots.py [--url http://127.0.0.1:8000] [--user pm]
        [--password P] [--output var/screenshots]

The password defaults to the demo's on the embedded defaults (var/demo-password, written by
`load_demo`; on another database it is var/demo-password.<database name>: pass it).
"""

import argparse
import os
import re
import shutil
import sys
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

ROOT = Path(__file__).resolve().parent.parent
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        sys.exit("No chromium on PATH: apt-get install chromium")
    return found


def log_in(page: Page, url: str, user: str, password: str) -> None:
    page.goto(f"{url}/admin/login/?next=/admin/")
    page.fill("#id_username", user)
    page.fill("#id_password", password)
    page.click("input[type=submit]")
    if "/admin/login/" in page.url:
        sys.exit(f"Could not log in as {user}: check the password (load_demo prints it).")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--user", default="pm")
    parser.add_argument("--password", default="")
    parser.add_argument("--output", default=str(ROOT / "var" / "screenshots"))
    options = parser.parse_args()
    password = options.password
    if not password:
        folder = os.environ.get("PMS_DEMO_PASSWORD_DIR") or os.environ.get("PMS_VAR_DIR")
        stored = Path(folder or ROOT / "var") / "demo-password"
        if not stored.exists():
            sys.exit(
                "No --password and no var/demo-password: give the user's password "
                "(load_demo prints it; `load_demo --reset-passwords` sets a new one)."
            )
        password = stored.read_text().strip()
    output = Path(options.output)
    output.mkdir(parents=True, exist_ok=True)
    url = options.url.rstrip("/")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=LAUNCH_ARGS)
        page = browser.new_page(viewport={"width": 1440, "height": 900})
        log_in(page, url, options.user, password)
        shots = {
            "dashboard": "/admin/",
            "positions": "/admin/portfolio/position/",
            "analytics": "/admin/analytics/",
        }
        page.goto(f"{url}/admin/trading/tradeproposal/")
        first = page.locator("#result_list tbody tr th a").first
        if first.count():
            shots["proposal"] = first.get_attribute("href") or ""
        page.goto(f"{url}/admin/briefing/morningpack/")
        pack = page.locator("#result_list a[target=_blank]").first
        if pack.count():
            shots["morning_pack"] = pack.get_attribute("href") or ""
        for name, path in shots.items():
            page.goto(f"{url}{path}")
            target = output / f"{name}.png"
            page.screenshot(path=str(target), full_page=True)
            title = re.sub(r"\s+", " ", page.title())
            print(f"{target}  ({title})")
        browser.close()


if __name__ == "__main__":
    main()
