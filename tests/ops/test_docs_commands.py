"""The README and docs/ run as written: every `manage.py` command they name exists (its
help loads, as `manage.py help <command>` loads it) and takes the arguments written; the
files their other commands name exist; `check --deploy` passes with the README's
production environment file; and the operational runbook's steps run on the demo fund."""

import datetime as dt
import json
import os
import re
import secrets
import shlex
import subprocess
import sys
from decimal import Decimal
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.core import mail
from django.core.management import call_command, get_commands, load_command_class

from demo.management.commands.load_demo import demo_file
from ops import health, verification
from portfolio.models import BenchmarkRate, FxRate, Position, Price

ROOT = Path(__file__).resolve().parent.parent.parent
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
# A command written as a synopsis (`[--date D]`, `{eod,preopen}`, `…`) is checked by name.
SYNOPSIS = re.compile(r"[\[\]{}…]")
# Files named by the other commands: scripts, benchmarks, tests, deploy files.
NAMED_FILE = re.compile(r"(?<![\w/.])((?:scripts|benchmarks|tests|deploy|pms_site)/[\w./-]+\.\w+)")
BENCHMARK = re.compile(r"benchmarks/run\.sh((?:\s+\w+)+)")


def written_commands() -> list[tuple[str, int, str, list[str]]]:
    """Each `manage.py …` of the documents: (document, line, text, words)."""
    found = []
    for path in DOCUMENTS:
        for number, text in enumerate(path.read_text().splitlines(), start=1):
            for match in verification.MANAGE_LINE.finditer(text):
                written = re.split(r" #|;|&|<|>|\|", match.group(1))[0].rstrip("\\ ")
                words = shlex.split(written.replace("…", "X"))
                if words:
                    found.append((path.name, number, written.strip(), words))
    return found


def help_problem(name: str) -> str | None:
    """Why `manage.py help <name>` would fail; None when the command loads and says its help."""
    commands = get_commands()
    if name not in commands:
        return f"no command {name!r}"
    parser = load_command_class(commands[name], name).create_parser("manage.py", name)
    return None if parser.format_help().startswith("usage: manage.py " + name) else "no help"


def test_every_manage_py_command_in_the_readme_and_docs_exists_and_parses():
    found = written_commands()
    problems = []
    for document, number, text, words in found:
        problem = help_problem(words[0])
        if problem is None and not SYNOPSIS.search(text):
            problem = verification.command_problem(words)
        if problem:
            problems.append(f"{document}:{number}: manage.py {text}: {problem}")
    assert not problems, "\n".join(problems)
    names = {words[0] for *_, words in found}
    assert len(found) > 100 and {"verify_system", "run_pipeline", "qinfo"} <= names


def test_the_files_and_benchmarks_the_docs_name_exist():
    problems = []
    for path in DOCUMENTS:
        for number, text in enumerate(path.read_text().splitlines(), start=1):
            for named in NAMED_FILE.findall(text):
                if not (ROOT / named.rstrip(".")).exists():
                    problems.append(f"{path.name}:{number}: {named} does not exist")
            for match in BENCHMARK.finditer(text):
                for name in match.group(1).split():
                    if not (ROOT / "benchmarks" / f"bench_{name}.py").is_file():
                        problems.append(f"{path.name}:{number}: no benchmark {name!r}")
    assert not problems, "\n".join(problems)


# `bash scripts/test.sh ARGS` written in the docs (the fault battery), "PG:" when it runs in
# the PostgreSQL + Redis environment.
COLLECT = ["bash", "scripts/test.sh", "--collect-only", "-q", "-p", "no:cacheprovider"]
TEST_COMMAND = re.compile(r"(PG: )?`((?:\w+=\S+ )*)bash scripts/test\.sh (tests/[^`]+)`")


@pytest.mark.slow
def test_each_test_command_in_the_docs_selects_tests():
    """`bash scripts/test.sh tests/… -k …` as written collects at least one test (a `-k` or
    `-m` that matches nothing would run nothing and pass). The "PG:" ones are collected
    where they run, with DATABASE_URL and REDIS_URL set (CI's PostgreSQL pass)."""
    on_postgres = os.environ.get("DATABASE_URL", "").startswith("postgres")
    problems, checked = [], 0
    for path in DOCUMENTS:
        for number, text in enumerate(path.read_text().splitlines(), start=1):
            for marked, variables, arguments in TEST_COMMAND.findall(text):
                if (marked or "DATABASE_URL" in variables) and not on_postgres:
                    continue
                words = [w for w in shlex.split(arguments) if w != "--create-db"]
                collected = subprocess.run(
                    [*COLLECT, *words],
                    cwd=ROOT,
                    capture_output=True,
                    text=True,
                    timeout=300,
                )
                checked += 1
                if collected.returncode != 0:
                    said = (collected.stdout + collected.stderr).strip().splitlines()[-1:]
                    problems.append(f"{path.name}:{number}: {arguments}: {said}")
    assert not problems, "\n".join(problems)
    assert checked >= (18 if on_postgres else 11)


def readme_environment_file() -> dict[str, str]:
    """The README's production environment file, its `…` filled with random secrets."""
    text = (ROOT / "README.md").read_text()
    [block] = re.findall(r"```bash\n(DEBUG=0\n.*?)```", text, re.DOTALL)
    variables = {}
    for line in block.splitlines():
        name, value = line.split("#")[0].strip().split("=", 1)
        variables[name] = value.replace("…", secrets.token_urlsafe(50))
    return variables


def check_deploy(variables: dict[str, str]) -> subprocess.CompletedProcess[str]:
    # Only the file's variables: none of this shell's (DEBUG=1, the suite's async flag).
    kept = {"PATH", "HOME", "LANG", "PYTHONPATH"}
    base = {name: value for name, value in os.environ.items() if name in kept}
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env={**base, **variables},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_passes_with_the_readmes_environment_file():
    variables = readme_environment_file()
    assert variables["DEBUG"] == "0" and "PMS_METRICS_TOKEN" in variables
    passed = check_deploy(variables)
    assert passed.returncode == 0, passed.stdout + passed.stderr
    # As the README says: without the metrics token it fails on pms.W001.
    del variables["PMS_METRICS_TOKEN"]
    failed = check_deploy(variables)
    assert failed.returncode != 0 and "pms.W001" in failed.stderr


# --- the operational runbook on the demo fund -----------------------------------------------

# The runbook's "today" is Tuesday 2026-11-24 (its dates): the demo is loaded as of that
# evening, after the close and the end of day's slot.
RUNBOOK_DAY = dt.date(2026, 11, 24)
EVENING = dt.datetime(2026, 11, 24, 21, 30, tzinfo=dt.UTC)
# Not run here: the restore drill needs a scratch PostgreSQL database (tests/ops/test_backups.py
# and tests/test_faults_postgres.py restore on PostgreSQL).
NOT_RUN = {"restore"}


def runbook_inputs(directory: Path, official_nav: Path) -> str:
    """The files the runbook imports from /srv/pms/import/, made from the demo's own data;
    the symbol of the held instrument they price and trade."""

    held = (
        Position.objects.filter(instrument__quote_type="price")
        .filter(instrument__prices__date=RUNBOOK_DAY)
        .exclude(quantity=0)
        .select_related("instrument", "strategy")
        .order_by("instrument__symbol")
        .first()
    )
    assert held is not None
    symbol, strategy = held.instrument.symbol, held.strategy.code

    def close(day: dt.date) -> str:
        found = Price.objects.filter(instrument=held.instrument, date__lte=day).latest("date")
        return f"{found.price:.6f}"

    day, earlier = RUNBOOK_DAY.isoformat(), dt.date(2026, 11, 20)
    usd = FxRate.objects.get(currency="USD", date=RUNBOOK_DAY).rate
    cdi = BenchmarkRate.objects.get(benchmark="CDI", date=RUNBOOK_DAY).rate
    corrected = Decimal(close(earlier)) * 1001 / 1000  # a past close corrected
    files = {
        "signals.csv": f"instrument,strategy,date,score\n{symbol},{strategy},{day},0.5\n",
        "prices.csv": f"instrument,date,price\n{symbol},{earlier},{corrected:.6f}\n",
        "closes.csv": f"instrument,date,price\n{symbol},{day},{close(RUNBOOK_DAY)}\n",
        "trades.csv": "trade_date,instrument,strategy,quantity,price\n"
        f"2026-11-18,{symbol},{strategy},1,{close(dt.date(2026, 11, 18))}\n",
        "fx.csv": f"date,currency,rate\n{day},USD,{usd:f}\n",
        "cdi.csv": f"date,rate\n{day},{cdi:f}\n",
        "official-nav.csv": official_nav.read_text(),
    }
    for name, content in files.items():
        (directory / name).write_text(content)
    return symbol


def run_step(words: list[str], capsys: Any) -> tuple[int, str]:
    out = StringIO()
    try:
        call_command(*words, stdout=out, stderr=out)
        code = 0
    except SystemExit as exit_:
        code = int(exit_.code or 0)
    except Exception as error:  # a CommandError: the step fails, saying why
        code, out = 1, StringIO(f"{type(error).__name__}: {error}")
    return code, out.getvalue() + capsys.readouterr().out


def why(output: str) -> list[str] | str:
    """A failed step's reasons: its failing checks, or its error; else all it said."""
    if output.startswith("{"):  # verify_system --json
        checks = json.loads(output[: output.rindex("}") + 1])["checks"]
        return [f"{c['check']}: {c['detail']}" for c in checks if c["status"] == "fail"]
    return [row for row in output.splitlines() if "FAIL" in row or "Error" in row] or output


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)  # SQLite's backup runs outside a transaction
def test_the_runbooks_steps_run_on_the_demo(settings, tmp_path, capsys, client):
    """Production as the runbook finds it at 06:00 (the demo fund, the schedules, a cluster
    heartbeating, last night's backup), `/health/` ok, then every `manage.py` step of the
    runbook in its order, with its arguments, the import paths and the backup folder moved
    under tmp (the imported files made from the demo's data). Not run: the weekly restore
    drill (a scratch PostgreSQL database: `dropdb`/`createdb`, then `restore`) and the steps
    done in the admin or the API, which their own tests cover."""
    imports, backups = tmp_path / "import", tmp_path / "backups"
    imports.mkdir()
    settings.DEBUG = True  # the demo's settings (the suite's own would fail the deploy checks)
    settings.PMS_BACKUP_DIR = str(backups)
    settings.PMS_PIPELINE_RETRY_SECONDS = 0
    settings.PMS_MORNING_PACK_RECIPIENTS = ["pm@fund.example"]
    runbook = (ROOT / "docs" / "OPERATIONAL_RUNBOOK.md").read_text()
    steps = [
        [
            word.replace("/srv/pms/import", str(imports)).replace("/var/backups/pms", str(backups))
            for word in words
        ]
        for words in verification.doc_commands(runbook)
    ]
    with time_machine.travel(EVENING, tick=True):
        call_command("load_demo", "--if-empty", stdout=StringIO())
        call_command("setup_schedules", stdout=StringIO())
        health.heartbeat()
        call_command("backup", stdout=StringIO())
        official_nav = demo_file("demo-official-nav", ".csv")  # the administrator's file
        assert official_nav is not None
        symbol = runbook_inputs(imports, official_nav)
        assert client.get("/health/").json()["status"] == "ok"  # the 06:00 step 1
        said, mailed, failed = {}, {}, []
        for words in steps:
            if words[0] in NOT_RUN:
                continue
            health.heartbeat()  # the cluster, alive all day
            before = len(mail.outbox)
            code, output = run_step(words, capsys)
            said.setdefault(words[0], output)  # the first run of each command
            mailed.setdefault(words[0], mail.outbox[before:])
            if code != 0:
                failed.append(f"manage.py {shlex.join(words)} exited {code}: {why(output)}")
    assert not failed, "\n\n".join(failed)
    assert {"verify_system", "import_prices", "import_fx_rates", "import_trades"} <= set(said)
    assert {"run_pipeline", "backup", "morning_pack", "backfill_risk_snapshots"} <= set(said)
    assert "Clusters" in said["qinfo"] and "Schedules" in said["qinfo"]
    assert "0 failing" in said["verify_system"]
    [pack] = mailed["morning_pack"]  # `morning_pack --send` sent today's pack again
    assert pack.to == ["pm@fund.example"]
    corrected = Price.objects.get(instrument__symbol=symbol, date=dt.date(2026, 11, 20)).price
    assert f"{corrected:.6f}" in (tmp_path / "import" / "prices.csv").read_text()
