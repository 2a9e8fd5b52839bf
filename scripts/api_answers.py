"""Every read answer of the API on the demo fund, one file per request, to compare two
versions of the code byte for byte.

    .venv/bin/python scripts/api_answers.py OUTDIR             writes OUTDIR/<name>.txt
    .venv/bin/python scripts/api_answers.py --diff DIR_A DIR_B  names the answers that differ

The fund is the demo's (fixed seed, default positions) on a fresh SQLite database and file
cache, after the end-of-day pipeline of DAY, with the clock pinned (not ticking) after that
day's close: two runs of the same code write the same bytes, but for the durations the
pipelines measure (masked). Each request is sent twice on an empty cache, so a file holds
the computed answer and the cached one.
"""

import argparse
import datetime as dt
import logging
import os
import re
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DAY = dt.date(2026, 11, 30)  # a Monday, a B3 business day
MOMENT = dt.datetime(2026, 11, 30, 22, 0, tzinfo=dt.UTC)  # 19:00 in São Paulo, after the close
PACK_DAY = dt.date(2026, 12, 1)  # the morning pack the demo leaves, on DAY's close
PERIODS = ("daily", "mtd", "qtd", "ytd", "itd")
CUSTOM = {"period": "custom", "start": "2026-06-01", "end": "2026-09-30"}
DIMENSIONS = ("strategy", "asset_class", "instrument", "currency")
RISK_METHODS = ("historical", "parametric", "ewma")
DECOMPOSITIONS = ("position", "strategy", "asset_class", "currency")
PAGE = {"limit": 1000}
SHOCKS = {
    "shocks": [
        {"target_type": "asset_class", "target": "equity", "shock": "-0.10"},
        {"target_type": "currency", "target": "USD", "shock": "0.05"},
    ]
}
# A pipeline run's and step's duration, measured on the machine's clock.
MEASURED = re.compile(rb'"seconds":[0-9.]+')
Request = tuple[str, str, dict[str, Any]]  # name, path, query parameters


def fresh_environment(workdir: Path) -> None:
    """A database, cache and var/ of our own, the embedded defaults for everything else."""
    sys.path.insert(0, str(ROOT))
    for name in ("DATABASE_URL", "REDIS_URL", "PMS_CACHE_PREFIX"):
        os.environ.pop(name, None)
    os.environ["DJANGO_SETTINGS_MODULE"] = "pms_site.settings"
    os.environ["DEBUG"] = "1"
    os.environ["DATABASE_URL"] = f"sqlite:///{workdir / 'pms.sqlite3'}"
    os.environ["PMS_VAR_DIR"] = str(workdir / "var")
    os.environ["PMS_CACHE_DIR"] = str(workdir / "cache")
    os.environ["PMS_DEMO_PASSWORD_DIR"] = str(workdir / "var")


def load_fund() -> None:
    """Migrate, load the demo and run the day's eod, in this process. Cache refreshes run
    inline, as in the test suite: a refresh finishing in the background between two reads
    would change their `cached` field from one run to the next."""
    from django.core.management import call_command

    from pms_site import cache

    cache.in_background = lambda job: job()
    quiet = open(os.devnull, "w")  # noqa: SIM115 — for the commands' whole run
    call_command("migrate", verbosity=0, stdout=quiet)
    call_command("load_demo", "--seed", "7", "--password", "api-answers-passphrase", stdout=quiet)
    call_command("run_pipeline", "eod", "--date", DAY.isoformat(), stdout=quiet)


def reads(first: dict[str, Any]) -> Iterator[Request]:
    """The read requests, in a fixed order; `first` holds keys read from earlier answers."""
    for name in (
        "book",
        "fund",
        "instruments",
        "strategies",
        "capital-flows",
        "benchmark-rates",
        "fx-rates",
        "prices",
        "official-nav",
        "nav/reconciliation",
    ):
        yield name.replace("/", "-"), f"/api/{name}/", {}
    yield "prices-of-one", "/api/prices/", {"instrument": first["symbol"], "start": "2026-01-01"}
    yield "instrument", f"/api/instruments/{first['symbol']}/", {}
    for code in first["strategies"]:
        yield f"strategy-{code}", f"/api/strategies/{code}/", {}
    for status in ("", "open", "closed"):
        yield f"positions-{status or 'all'}", "/api/positions/", {"status": status, **PAGE}
    yield "position", f"/api/positions/{first['position']}/", {}
    yield "position-snapshots", "/api/position-snapshots/", {}
    yield "trades", "/api/trades/", PAGE
    yield "trades-of-one", "/api/trades/", {"instrument": first["symbol"], "start": "2026-01-01"}
    yield "audit", "/api/audit/", PAGE
    yield "nav", "/api/nav/", {}
    yield "nav-custom", "/api/nav/", {"start": CUSTOM["start"], "end": CUSTOM["end"]}
    for period in (*PERIODS, "custom"):
        span = CUSTOM if period == "custom" else {"period": period}
        for by in DIMENSIONS:
            yield f"attribution-{period}-{by}", "/api/attribution/", {**span, "by": by}
        for basis in ("net", "gross"):
            yield f"performance-{period}-{basis}", "/api/performance/", {**span, "basis": basis}
    for code in first["strategies"]:
        yield f"performance-itd-{code}", "/api/performance/", {"period": "itd", "strategy": code}
    yield from risk_reads(first)
    yield "signals", "/api/signals/", PAGE
    for status in ("", "pending"):
        yield f"proposals-{status or 'all'}", "/api/proposals/", {"status": status, **PAGE}
    if first.get("proposal"):
        yield "proposal", f"/api/proposals/{first['proposal']}/", {}
    yield "morning-pack-latest", "/api/morning-pack/latest/", {}
    yield "morning-pack-date", f"/api/morning-pack/{PACK_DAY}/", {}
    yield "morning-pack-html", f"/api/morning-pack/{PACK_DAY}/html/", {}
    yield "pipelines-runs", "/api/pipelines/runs/", {}
    yield "pipelines-runs-eod", "/api/pipelines/runs/", {"pipeline": "eod"}
    yield "schema", "/api/schema/", {}


def risk_reads(first: dict[str, Any]) -> Iterator[Request]:
    for method in RISK_METHODS:
        yield f"risk-live-{method}", "/api/risk/live/", {"method": method}
    yield "risk-live-window-60", "/api/risk/live/", {"window": 60}
    for by in DECOMPOSITIONS:
        yield f"risk-decomposition-{by}", "/api/risk/decomposition/", {"by": by}
    yield "risk-backtest", "/api/risk/backtest/", {}
    yield "risk-backtest-95", "/api/risk/backtest/", {"confidence": "0.95"}
    for name in ("snapshots", "limits", "alerts", "scenarios"):
        yield f"risk-{name}", f"/api/risk/{name}/", PAGE
    yield "risk-limit", f"/api/risk/limits/{first['limit']}/", {}
    yield "risk-scenario", f"/api/risk/scenarios/{first['scenario']}/", {}


def answer(client: Any, path: str, params: dict[str, Any], body: Any = None) -> str:
    """The answer computed on an empty cache, then the same request's cached answer."""
    from django.core.cache import cache

    cache.clear()
    parts = []
    for attempt in ("computed", "cached"):
        if body is None:
            response = client.get(path, {k: v for k, v in params.items() if v != ""})
        else:
            response = client.post(path, body, content_type="application/json")
        content = MEASURED.sub(b'"seconds":"measured"', response.content).decode()
        parts.append(f"{attempt}: {response.status_code} {response['Content-Type']}\n{content}\n")
    return "".join(parts)


def first_keys(client: Any) -> dict[str, Any]:
    """Keys for the detail reads: the first instrument, position, pending proposal, risk
    limit and stress scenario, and every strategy."""

    def results(path: str, **params: Any) -> list[dict[str, Any]]:
        data = client.get(path, params).json()
        return data["results"] if isinstance(data, dict) else data

    proposals = results("/api/proposals/", status="pending")
    return {
        "symbol": results("/api/instruments/")[0]["symbol"],
        "strategies": [row["code"] for row in results("/api/strategies/")],
        "position": results("/api/positions/", status="open")[0]["id"],
        "proposal": proposals[0]["id"] if proposals else None,
        "limit": results("/api/risk/limits/")[0]["id"],
        "scenario": results("/api/risk/scenarios/")[0]["id"],
    }


def write_answers(outdir: Path) -> None:
    import time_machine

    with tempfile.TemporaryDirectory(prefix="pms-api-answers-") as work:
        fresh_environment(Path(work))
        with time_machine.travel(MOMENT, tick=False):
            import django

            django.setup()
            from django.contrib.auth.models import User
            from django.test import Client
            from django.test.utils import setup_test_environment

            setup_test_environment()
            load_fund()
            logging.getLogger("django.request").setLevel(logging.ERROR)  # the 404s are answers
            client = Client()
            client.force_login(User.objects.get(username="admin"))
            outdir.mkdir(parents=True, exist_ok=True)
            first = first_keys(client)
            requests = list(reads(first))
            for name, path, params in requests:
                (outdir / f"{name}.txt").write_text(answer(client, path, params))
            # A stress writes nothing: a read, by a POST.
            for name, body in (("shocks", SHOCKS), ("scenario", {"scenario": first["scenario"]})):
                stress = answer(client, "/api/risk/stress/", {}, body=body)
                (outdir / f"risk-stress-{name}.txt").write_text(stress)
    print(f"{len(requests) + 2} answers in {outdir}")


def diff(first: Path, second: Path) -> int:
    names = sorted({p.name for p in first.glob("*.txt")} | {p.name for p in second.glob("*.txt")})
    differing = [
        name
        for name in names
        if not (first / name).exists()
        or not (second / name).exists()
        or (first / name).read_bytes() != (second / name).read_bytes()
    ]
    for name in differing:
        print(f"differs: {name}")
    print(f"{len(names) - len(differing)} of {len(names)} answers identical")
    return 1 if differing else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("outdir", nargs="?", type=Path, help="where to write the answers")
    parser.add_argument("--diff", nargs=2, type=Path, metavar=("DIR_A", "DIR_B"))
    options = parser.parse_args()
    if options.diff:
        return diff(*options.diff)
    if options.outdir is None:
        parser.error("give OUTDIR, or --diff DIR_A DIR_B")
    write_answers(options.outdir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
