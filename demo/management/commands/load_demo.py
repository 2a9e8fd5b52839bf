"""Load the demo fund: instruments, strategies, two years of prices and FX, capital, trades."""

import csv
import datetime as dt
import os
import re
import secrets
import tempfile
from decimal import Decimal
from io import StringIO
from pathlib import Path
from typing import Any

import numpy as np
from django.conf import settings
from django.contrib.auth.models import Group, User
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, transaction
from django.utils import timezone

from briefing import services as briefing_services
from briefing.models import MorningPack
from core.calendar import next_business_day, on_or_before, today
from core.permissions import ALL_GROUPS
from core.progress import monthly
from demo import fund as demo
from ops import pipelines
from portfolio import services
from portfolio.accounts import to_places_8
from portfolio.models import (
    AuditRecord,
    BenchmarkRate,
    CapitalFlow,
    FundTerms,
    FxRate,
    Instrument,
    OfficialNav,
    PortfolioSnapshot,
    Position,
    PositionSnapshot,
    Price,
    Strategy,
    Trade,
)
from portfolio.selectors import book_state_on, drawdown_history
from risk import selectors as risk_selectors
from risk import services as risk_services
from risk.models import RiskAlert, RiskLimit, RiskSnapshot, StressScenario
from trading import services as trading_services
from trading.models import Signal, TradeProposal

ACTOR = "load_demo"
DEMO_USERS = ["admin", *ALL_GROUPS]
RESET_COMMAND = ".venv/bin/python manage.py load_demo --reset-passwords"


def reset_command() -> str:
    """The command that gives the demo users a new password, as typed in a new shell: on
    the demo's settings it needs DEBUG=1 (serve.sh sets it for itself only)."""
    return ("DEBUG=1 " if settings.DEBUG else "") + RESET_COMMAND


def demo_file(stem: str, suffix: str = "") -> Path | None:
    """A file the demo keeps beside its database: `<stem><suffix>` for the embedded default
    (`var/pms.sqlite3`), `<stem>.<name><suffix>` for another one (say PostgreSQL's `pms`),
    so that loading a second database (a benchmark's) does not hide the first one's; in
    PMS_DEMO_PASSWORD_DIR (default `var/`; the test suite points it at a temporary
    folder). None when that setting is empty: nothing is stored."""
    if not settings.PMS_DEMO_PASSWORD_DIR:
        return None
    var, name = Path(settings.PMS_DEMO_PASSWORD_DIR), str(connection.settings_dict["NAME"])
    if connection.vendor == "sqlite":
        if Path(name).resolve() == (Path(settings.VAR_DIR) / "pms.sqlite3").resolve():
            return var / f"{stem}{suffix}"
        name = Path(name).stem
    return var / f"{stem}.{re.sub(r'[^A-Za-z0-9_.-]', '_', name)}{suffix}"


def password_file() -> Path | None:
    """Where the demo users' password is kept, mode 0600, so that a later start prints it
    again (`demo_file`: `var/demo-password` for the embedded database)."""
    return demo_file("demo-password")


def stored_password() -> str | None:
    path = password_file()
    try:
        return (path.read_text().strip() or None) if path else None
    except FileNotFoundError:
        return None


def store_password(password: str) -> Path | None:
    path = password_file()
    if path is None:
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(password + "\n")
    path.chmod(0o600)  # an older file keeps its mode through O_CREAT
    return path


def password_check(password: str) -> None:
    """Django's password validators, for every demo user (the superuser included), before
    anything is written: a CommandError naming what is wrong."""
    problems: dict[str, None] = {}  # each message once, in order
    existing = {u.username: u for u in User.objects.filter(username__in=DEMO_USERS)}
    for name in DEMO_USERS:
        try:  # against the user as it is (its names and email are the validators' too)
            validate_password(password, existing.get(name) or User(username=name))
        except ValidationError as error:
            problems |= dict.fromkeys(error.messages)
    if problems:
        raise CommandError(
            "--password is refused, nothing was changed: "
            + " ".join(problems)
            + " Choose a longer, less common one, or --reset-passwords for a random one."
        )


class Command(BaseCommand):
    help = "Load a seeded demo fund (about 30 instruments, 6+ strategies, two years of history)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--positions", type=int, default=40, help="Open positions to build (default 40)."
        )
        parser.add_argument(
            "--seed", type=int, default=7, help="Random seed (same seed, same fund)."
        )
        parser.add_argument("--reset", action="store_true", help="Delete the existing book first.")
        parser.add_argument(
            "--if-empty",
            action="store_true",
            help="Load only into an empty database; otherwise leave the data and the demo "
            "users as they are and print the logins again.",
        )
        parser.add_argument(
            "--password",
            default="",
            help="Set this password on the demo users and store it in var/demo-password "
            "(default: the stored one; a random one at the first load).",
        )
        parser.add_argument(
            "--reset-passwords",
            action="store_true",
            help="Give the demo users a new random password (stored in var/demo-password).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["positions"] < 1:
            raise CommandError("--positions must be at least 1.")
        if options["seed"] < 0:
            raise CommandError("--seed must be 0 or more.")
        password, reset_passwords = options["password"], options["reset_passwords"]
        if password:
            password_check(password)
        if Instrument.objects.exists() and not options["reset"]:
            if options["if_empty"] or password or reset_passwords:
                self.stdout.write("Demo data already loaded (use --reset to reload it).")
                self.users(password, reset=reset_passwords)
                return
            raise CommandError("The database already has instruments: use --reset to replace them.")
        with transaction.atomic():
            if options["reset"]:
                self.reset()
            self.load(options["positions"], options["seed"])
        self.run_due_pipelines()
        self.users(password, reset=reset_passwords)

    def step(self, message: str) -> None:
        self.stdout.write(f"  {message}")
        self.stdout.flush()

    def reset(self) -> None:
        self.step("deleting the existing book …")
        # The ledger and the audit trail refuse deletes (the ORM, and on PostgreSQL a
        # trigger): a demo reset is the one place allowed to wipe them, by TRUNCATE there.
        tables = [
            connection.ops.quote_name(model._meta.db_table)
            for model in (
                MorningPack,
                PositionSnapshot,
                PortfolioSnapshot,
                TradeProposal,
                Signal,
                RiskAlert,
                RiskLimit,
                RiskSnapshot,
                StressScenario,
                AuditRecord,
                Trade,
                Position,
                Price,
                FxRate,
                BenchmarkRate,
                CapitalFlow,
                FundTerms,
                OfficialNav,
                Instrument,
                Strategy,
            )
        ]
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                # Deferred foreign-key checks of this transaction run first: TRUNCATE
                # refuses tables with pending trigger events.
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
                cursor.execute(f"TRUNCATE {', '.join(tables)}")
            else:
                for table in tables:
                    cursor.execute(f"DELETE FROM {table}")

    def load(self, n_positions: int, seed: int) -> None:
        dates = demo.demo_dates(on_or_before(today()))
        self.stdout.write(
            f"Loading the demo fund: {len(dates)} business days to {dates[-1]}, seed {seed}"
        )
        self.load_reference(n_positions, dates[-1])
        paths = demo.simulate_markets(len(dates), seed)
        self.load_market(dates, paths)
        self.load_capital(dates, n_positions)
        self.load_trades(dates, paths, n_positions, seed)
        # The day starts at the previous close (DayStart): the last day's P&L is its move.
        result = services.mark_to_market(as_of=dates[-1], actor=ACTOR)
        self.step(
            f"marked {result.positions_updated} positions as of {result.as_of}; "
            f"{Position.objects.filter(closed_at__isnull=True).count()} open"
        )
        built = services.snapshots_build(start=dates[0], end=dates[-1], actor=ACTOR)
        worst = min(built[1:] or built, key=lambda day: day.daily_return)
        self.step(
            f"{len(built)} days of snapshots; NAV {built[-1].nav:,.2f} on {dates[-1]}; "
            f"worst day {worst.daily_return:.2%} on {worst.date}"
        )
        self.load_official_navs(built, seed)
        self.load_risk(dates, paths)
        self.load_signals(dates, paths)
        pack = briefing_services.morning_pack_generate(
            date=next_business_day(dates[-1]), actor=ACTOR
        )
        self.step(f"morning pack for {pack.date} (close of {pack.data_date})")

    def load_official_navs(self, days: list[PortfolioSnapshot], seed: int) -> None:
        """The administrator's NAV file of every day (`var/demo-official-nav.csv` for the
        embedded database), imported as Ops imports it each morning (import_official_nav):
        its units are the fund's and its NAV within a few cents of it (the administrator
        values on its own systems), so every day reconciles."""
        path = demo_file("demo-official-nav", ".csv") or Path(tempfile.mkdtemp()) / "nav.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        cents = np.random.default_rng(seed).integers(-3, 4, len(days))
        with path.open("w", newline="") as file:
            writer = csv.writer(file)
            writer.writerow(["date", "nav", "quota", "units"])
            for day, off in zip(days, cents, strict=True):
                nav = day.nav + Decimal(int(off)).scaleb(-2)
                quota = to_places_8(nav / day.units)
                writer.writerow([day.date.isoformat(), f"{nav:f}", f"{quota:f}", f"{day.units:f}"])
        out = StringIO()
        call_command("import_official_nav", str(path), stdout=out)
        self.step(
            f"the administrator's NAV of {len(days)} days from {path.name}: "
            f"{out.getvalue().strip().splitlines()[-1]}"
        )

    def load_reference(self, n_positions: int, end: dt.date) -> None:
        """The instruments and the strategies: the six desks, and as many sleeves beside
        them as it takes to hold `n_positions` (one position per instrument still traded on
        `end` and strategy)."""
        for s in demo.INSTRUMENTS:
            services.instrument_create(
                actor=ACTOR,
                symbol=s.symbol,
                name=s.name,
                asset_class=s.asset_class,
                currency=s.currency,
                quote_type=s.quote_type,
                settlement=s.settlement,
                multiplier=Decimal(s.multiplier),
                dv01=Decimal(s.dv01),
                lot_size=Decimal(s.lot_size),
                pricing=s.pricing,
                maturity=s.maturity,
                root=s.root,
            )
        self.step(f"{len(demo.INSTRUMENTS)} instruments")
        strategies = demo.strategies_for(n_positions, end)
        for code, name, text in strategies:
            services.strategy_create(
                actor=ACTOR,
                code=code,
                name=name,
                description=text,
                risk_budget=Decimal("400000"),
                min_trade_fraction=Decimal("0.10"),
            )
        self.step(f"{len(strategies)} strategies")

    def load_market(self, dates: list[dt.date], paths: dict[str, np.ndarray]) -> None:
        """Every business day's FX rates, CDI and closes."""
        fx = demo.fx_paths(paths)
        services.fx_rates_upsert(
            rows=[
                {"currency": c, "date": d, "rate": demo.quote(float(path[i]), 10)}
                for c, path in fx.items()
                for i, d in enumerate(dates)
            ],
            actor=ACTOR,
        )
        self.step(f"{len(fx) * len(dates)} FX rates")
        services.benchmark_rates_upsert(
            rows=[
                {"benchmark": "CDI", "date": d, "rate": rate}
                for d, rate in zip(dates, demo.cdi_rates(len(dates)), strict=True)
            ],
            actor=ACTOR,
        )
        self.step(f"{len(dates)} days of CDI")
        # A contract is quoted until the day before its maturity (its final settlement).
        rows = [
            {
                "instrument": spec.symbol,
                "date": d,
                "price": demo.quote(float(paths[spec.symbol][i]), spec.places),
            }
            for spec in demo.INSTRUMENTS
            for i, d in enumerate(dates)
            if spec.trades_on(d)
        ]
        services.prices_upsert(rows=rows, actor=ACTOR)
        self.step(f"{len(rows)} prices")

    def load_capital(self, dates: list[dt.date], n_positions: int) -> None:
        """The fund's terms from its launch, and its capital flows."""
        services.fund_terms_change(effective_from=dates[0], actor=ACTOR, **demo.TERMS)
        self.step("terms: 2% management, 20% over 100% of the CDI paid in June and December")
        flows = demo.capital_flows(dates, n_positions)
        for date, amount, note in flows:
            services.capital_flow_create(date=date, amount=amount, note=note, actor=ACTOR)
        self.step(f"{len(flows)} capital flows ({flows[0][1]:,.0f} at launch)")

    def load_trades(
        self, dates: list[dt.date], paths: dict[str, np.ndarray], n_positions: int, seed: int
    ) -> None:
        """The trades that build `n_positions` positions, each sized to its share of the
        fund's risk (`demo.position_scale`)."""
        unit_value = demo.unit_values(paths, dates)
        plan = demo.book_plan(paths, n_positions, seed, dates)
        specs = {spec.symbol: spec for spec in demo.INSTRUMENTS}

        def price(symbol: str, day: int) -> Decimal:
            return demo.quote(float(paths[symbol][day]), specs[symbol].places)

        requests = [
            services.TradeRequest(
                instrument=t.symbol,
                strategy=t.strategy,
                quantity=t.quantity,
                price=price(t.symbol, t.day_index),
                trade_date=dates[t.day_index],
                fees=demo.fees_for(Decimal(unit_value(specs[t.symbol], t.day_index)) * t.quantity),
            )
            for t in plan
            if not (t.roll_into or t.rolled_in)
        ]
        services.trades_book(requests=requests, actor=ACTOR, source=Trade.Source.DEMO)
        for t in (t for t in plan if t.roll_into):  # rolled as the PM rolls: position_roll
            services.position_roll(
                position=Position.objects.get(
                    instrument__symbol=t.symbol, strategy__code=t.strategy, closed_at=None
                ),
                to=t.roll_into,
                price_from=price(t.symbol, t.day_index),
                price_to=price(t.roll_into, t.day_index),
                trade_date=dates[t.day_index],
                confirm=True,
                actor=ACTOR,
                source=Trade.Source.DEMO,
            )
        scale = demo.position_scale(n_positions)
        self.step(f"{len(requests)} trades booked (positions at {scale:.0%} of full size)")

    def run_due_pipelines(self) -> None:
        """The runs the schedules would have made by now (`verify_system` checks them): the
        latest due eod and preopen, each for its business date."""
        now = timezone.now()
        for name in pipelines.PIPELINES:
            due = pipelines.due_date(name, now)
            if due is None:
                continue
            run = pipelines.pipeline_run(
                pipeline=name,
                date=due,
                actor=ACTOR,
                progress=lambda step, message: self.step(f"  {step}: {message}"),
            )
            self.step(f"{name} {due}: {run.status}" + (f" ({run.error})" if run.error else ""))

    def limit_figures(self, day: dt.date) -> dict[str, Decimal]:
        """Each demo limit's figure on the book at the close of `day` (its own metric in its
        scope, or its basis), read as the risk snapshot reads it."""
        risk = risk_selectors.risk_compute(book=risk_selectors.BookArrays.load(book_state_on(day)))
        fund_drawdown = risk_selectors.book_drawdown(risk.book)
        figures = {}
        for spec in demo.RISK_LIMITS:
            if spec.basis == "max_drawdown":
                figures[spec.name] = max(d.value for d in drawdown_history(until=day).values())
                continue
            scope = {"scope_type": spec.scope_type, "scope_value": spec.scope_value}
            of = (
                RiskLimit(metric=spec.basis, limit=1)  # a fund figure
                if spec.basis
                else RiskLimit(metric=spec.metric, limit=1, **scope)
            )
            value = risk_selectors.limit_value(risk, of, fund_drawdown).value
            figures[spec.name] = abs(value or Decimal(0))
        return figures

    def load_limits(self, dates: list[dt.date]) -> None:
        """The demo's limits, each set for the book it built (demo.DemoLimit): on the largest
        figure it showed at the closes of the risk snapshots' year, every
        LIMIT_SAMPLE_DAYS-th and the last, so that the year's snapshots find it mostly
        within its limits as well as the last close."""
        days = dates[-demo.BACKTEST_DAYS - 1 :: demo.LIMIT_SAMPLE_DAYS] + dates[-1:]
        peaks: dict[str, Decimal] = {}
        for day in days:
            for name, value in self.limit_figures(day).items():
                peaks[name] = max(value, peaks.get(name, value))
        nav = PortfolioSnapshot.objects.get(date=dates[-1]).nav
        for spec in demo.RISK_LIMITS:
            risk_services.limit_create(
                actor=ACTOR,
                name=spec.name,
                metric=spec.metric,
                scope_type=spec.scope_type,
                scope_value=spec.scope_value,
                limit=demo.limit_level(spec, peaks[spec.name], nav),
            )

    def load_risk(self, dates: list[Any], paths: dict[str, Any]) -> None:
        self.load_limits(dates)
        scenarios = demo.stress_scenarios(dates, paths)
        for spec in scenarios:
            risk_services.scenario_create(actor=ACTOR, **spec)
        self.step(f"{len(demo.RISK_LIMITS)} risk limits, {len(scenarios)} stress scenarios")
        # The last year's risk snapshots, as the EOD pipeline would have taken them: the
        # VaR backtest has its 250 days at once.
        self.step(f"taking the last {demo.BACKTEST_DAYS + 1} days' risk snapshots …")
        taken = risk_services.risk_snapshots_build(
            start=dates[-demo.BACKTEST_DAYS - 1],  # the last has no next day's P&L yet
            end=dates[-1],
            actor=ACTOR,
            progress=monthly(self.stdout),
        )
        snapshot = taken[-1]
        statuses = [row["status"] for row in snapshot.limits]
        self.step(
            f"{len(taken)} daily risk snapshots to {snapshot.date}: VaR 95% "
            f"{snapshot.var_95:,.2f}; limits "
            + ", ".join(f"{statuses.count(s)} {s}" for s in ("ok", "warning", "breach"))
        )

    def load_signals(self, dates: list[Any], paths: dict[str, Any]) -> None:
        """A week of trend signals for each instrument in its own strategy, then the day's
        proposals: the PM finds them pending."""
        specs = {spec.symbol: spec for spec in demo.INSTRUMENTS}
        rows = [
            {
                "instrument": symbol,
                "strategy": specs[symbol].strategy,
                "date": dates[day],
                "score": score,
            }
            for day in range(len(dates) - 5, len(dates))
            for symbol, score in demo.signal_scores(paths, day).items()
            if specs[symbol].trades_on(dates[day])  # no signal on a matured contract
        ]
        trading_services.signals_upsert(rows=rows, actor=ACTOR)
        batch = trading_services.proposal_generate(date=dates[-1], actor=ACTOR)
        self.step(
            f"{len(rows)} signals; {len(batch.created)} pending proposals for "
            f"{batch.date} ({len(batch.skipped)} signals gave no trade)"
        )

    @staticmethod
    def user_save(user: User, password: str, set_password: bool) -> None:
        name = user.username
        user.is_staff = True  # every demo user may log in to /admin/
        user.is_superuser = name == "admin" or user.is_superuser
        if name == "admin" and not user.email:
            user.email = "admin@example.com"
        if set_password:
            if password:
                user.set_password(password)
            else:
                user.set_unusable_password()
        user.save()
        if name != "admin":
            user.groups.set([Group.objects.get(name=name)])

    def users(self, password: str, *, reset: bool) -> None:
        """The demo logins: `admin` (superuser) and one staff user per API group. Their
        password is chosen once (or given) and stored; later runs leave it as it is, unless
        `--password` or `--reset-passwords` asks for a new one."""
        existing = {u.username: u for u in User.objects.filter(username__in=DEMO_USERS)}
        changed: list[str] = []
        why = "is missing"
        if password or reset or not existing:
            password = password or secrets.token_urlsafe(12)
            to_set, path = DEMO_USERS, None  # stored once every user has it
        else:
            password, path = stored_password() or "", None
            to_set = [name for name in DEMO_USERS if name not in existing]
            if password:
                changed = [n for n, user in existing.items() if not user.check_password(password)]
            if password and len(changed) == len(existing):
                password, changed, why = "", [], "holds a password none of them has"
        with transaction.atomic():  # every demo user, or none
            for name in DEMO_USERS:
                self.user_save(existing.get(name) or User(username=name), password, name in to_set)
        if to_set == DEMO_USERS and password:
            path = store_password(password)
        logins = "admin (superuser), " + ", ".join(f"{g} (group {g})" for g in ALL_GROUPS)
        if password:
            where = f"; stored in {path}" if path else ""
            self.stdout.write(
                self.style.SUCCESS(f"Demo users (password {password!r}{where}): {logins}")
            )
        if changed:
            self.stdout.write(
                self.style.WARNING(
                    f"The password of {', '.join(changed)} is no longer the stored one "
                    f"(changed since); `{reset_command()}` sets a new one on every demo user."
                )
            )
        if not password:
            self.stdout.write(
                self.style.WARNING(
                    f"Demo users: {logins}. Their password is not known: "
                    f"{password_file() or 'the password file'} {why}. "
                    f"`{reset_command()}` gives them a new one, stores it and prints it."
                )
            )
