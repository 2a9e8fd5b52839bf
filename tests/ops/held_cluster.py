"""`python -m tests.ops.held_cluster`: `manage.py qcluster` whose eod pipeline is one step
that holds until the file named by PMS_TEST_GATE exists, so that a real-cluster test can
kill the cluster while a run is in that step."""

import datetime as dt
import os
import time
from pathlib import Path


def held(date: dt.date, actor: str) -> str:
    gate = Path(os.environ["PMS_TEST_GATE"])
    while not gate.exists():
        time.sleep(0.1)
    return "let through"


if __name__ == "__main__":
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pms_site.settings")
    django.setup()
    from django.core.management import call_command

    from ops import pipelines

    pipelines.PIPELINES["eod"] = [pipelines.Step("mark_to_market", held)]
    call_command("qcluster")
