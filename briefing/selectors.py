"""The sections of the morning pack, each read from the domain's own selectors.

A pack for business date D reads the close of D−1 (`data_date`): the fund's snapshots and
capital flows, the risk snapshot (or the live risk when that is missing), the proposals
awaiting a decision (the page shows where each stands when it is read) and what is wrong
with the data. Every figure is a decimal string, as the API shows it.
"""

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import numpy as np
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured, ValidationError

from attribution import selectors as performance
from attribution.api.serializers import AttributionSerializer, statistics_shown
from core.calendar import business_days_ending, utc_iso
from core.formatting import cents_str, decimal_str, price_places, ratio
from portfolio import selectors as portfolio
from portfolio.accounts import Accounts
from portfolio.ledger import BP_PER_PERCENT, Terms, cents, exposure, exposure_by, is_stale
from risk import selectors as risk_selectors
from risk.api.report import backtest_shown, decomposition_shown, report_shown
from risk.engine import BASEL_DAYS
from risk.models import StressScenario
from risk.selectors import breached
from trading.selectors import pending_proposals

from .models import MorningPack

NAV_CURVE_DAYS = 65  # about three months
TOP_MOVERS = 5
KEY_INSTRUMENTS = 10
TOP_DRIVERS = 5  # the positions of "what drives VaR"
MOVES = {"1d": 1, "1w": 5, "1m": 21}  # business days back
CENT = Decimal("0.01")

# What failed in the fund's operations from a date on, as {name, task, stopped, error}.
# The ops app owns the pipelines' runs and sits above briefing, which imports nothing of
# it: ops registers its reader here when it starts (ops.apps), as the pack's data-quality
# section is one of ops' readers.
FailedRuns = Callable[[dt.date], list[dict[str, Any]]]
_failed_runs: FailedRuns | None = None


def failed_runs_reader_register(reader: FailedRuns) -> None:
    """Make `reader` the source of the failed runs the pack shows (again: replaces it)."""
    global _failed_runs
    _failed_runs = reader


def failed_runs(since: dt.date) -> list[dict[str, Any]]:
    if _failed_runs is None:
        raise ImproperlyConfigured(
            "No reader of failed runs is registered: the ops app registers it when it "
            "starts (is it in INSTALLED_APPS?)."
        )
    return _failed_runs(since)


def _ratio(value: Decimal | None) -> str | None:
    return None if value is None else decimal_str(ratio(value))


def _total(total_cents: int, terms: int) -> str:
    """A total in cents as the pack writes it: "0" when nothing was summed."""
    return cents_str(total_cents) if terms else "0"


def _is_yield(instrument: Any) -> bool:
    return Terms.of(instrument).is_yield


class Sections:
    """Builds each section of the pack for `date` from the close of `data_date`; the
    problems met on the way (missing snapshots, say) go to the data-quality section."""

    def __init__(self, date: dt.date, data_date: dt.date):
        self.date, self.data_date = date, data_date
        self.issues: list[str] = []
        self.positions = portfolio.position_snapshots(data_date)
        self.held = [p for p in self.positions if p.quantity]
        self.curve = portfolio.nav_curve(data_date, days=NAV_CURVE_DAYS)
        # The NAV of the data date's snapshot; None when that date has none.
        self.nav = self.curve[-1][1] if self.curve and self.curve[-1][0] == data_date else None
        if self.nav is None:
            self.issues.append(
                f"No snapshot of {data_date}: run `manage.py backfill_snapshots --start "
                f"{data_date} --end {data_date}`, then generate the pack again."
            )
        self.periods: dict[str, performance.Period] = {}  # those ending at the data date
        self.reports = {
            (period, by): self._attribution(period, by)
            for period, by in (
                ("daily", "strategy"),
                ("mtd", "strategy"),
                ("ytd", "strategy"),
                ("mtd", "asset_class"),
            )
        }

    def _attribution(self, period: str, by: str) -> dict[str, Any] | None:
        try:
            resolved = performance.period_resolve(period, as_of=self.data_date)
        except ValidationError as error:
            self.issues.append(f"{period.upper()} figures unavailable: {' '.join(error.messages)}")
            return None
        if resolved.end != self.data_date:
            return None  # the latest snapshot is older: already reported above
        self.periods[period] = resolved
        # Stored as the API shows it.
        return dict(AttributionSerializer(performance.attribution_report(resolved, by)).data)

    def all(self) -> dict[str, Any]:
        return {
            "headline": self.headline(),
            "market_overview": self.market_overview(),
            "portfolio": self.portfolio(),
            "pnl_by_strategy": self.pnl_by_strategy(),
            "risk": self.risk(),
            "proposals": self.proposals(),
            "attribution": self.attribution(),
            "data_quality": self.data_quality(),  # last: it lists what the others met
        }

    def headline(self) -> dict[str, Any]:
        daily, mtd, ytd = (self.reports[p, "strategy"] for p in ("daily", "mtd", "ytd"))

        def figure(report: dict[str, Any] | None, key: str) -> str | None:
            return report[key] if report else None

        accounts = self._accounts()
        return {
            "date": self.date.isoformat(),
            "data_date": self.data_date.isoformat(),
            "base_currency": portfolio.base_currency(),
            "nav": decimal_str(self.nav),
            # The fund's accounts at the data date's close (None without them).
            "quota": decimal_str(accounts.quota) if accounts else None,
            "units": decimal_str(accounts.units) if accounts else None,
            "performance_provision": decimal_str(accounts.provision) if accounts else None,
            # The fund's P&L and returns, net of fees (attribution's totals).
            "day_pnl": figure(daily, "total_pnl"),
            "day_return": figure(daily, "total_return"),
            "mtd_pnl": figure(mtd, "total_pnl"),
            "mtd_return": figure(mtd, "total_return"),
            "ytd_pnl": figure(ytd, "total_pnl"),
            "ytd_return": figure(ytd, "total_return"),
            "vs_benchmark": self._vs_benchmark(),
            "nav_curve": [[day.isoformat(), decimal_str(nav)] for day, nav, _ in self.curve],
            # [date, amount] of the capital flows on the curve (a pack stored before they
            # were kept has none).
            "nav_flows": [[d.isoformat(), decimal_str(flow)] for d, _, flow in self.curve if flow],
        }

    def _accounts(self) -> Accounts | None:
        """The fund's accounts at the data date's close; None without its snapshot
        (reported above) or when it was stored before the accounts existed (said here)."""
        if self.nav is None:
            return None
        day = self.data_date
        if portfolio.stored_without_accounts(day, day).days:
            self.issues.append(
                f"The snapshot of {day} was stored before the fund's accounts (no units, "
                f"quota or fees): run `manage.py backfill_snapshots --start {day} --end "
                f"{day}`, then generate the pack again."
            )
            return None
        found = portfolio.accounts_at_close(day)
        return found[0] if found else None

    def _vs_benchmark(self) -> dict[str, Any] | None:
        """The fund's return on the day, MTD and YTD against the CDI's over the same days;
        None when the data date has no snapshot (reported above)."""
        if not {"daily", "mtd", "ytd"} <= self.periods.keys():
            return None
        answer: dict[str, Any] = {}
        for name, period in (("day", "daily"), ("mtd", "mtd"), ("ytd", "ytd")):
            report = performance.performance_report(self.periods[period], by_strategy=False)
            shown = statistics_shown(report.fund)  # stored as the API shows it
            answer["benchmark"] = report.benchmark
            answer[name] = {
                key: shown[key] for key in ("return", "benchmark_return", "excess_return")
            }
            if name == "ytd" and report.benchmark_unavailable:
                self.issues.append(report.benchmark_unavailable)
            elif name == "ytd" and report.benchmark_days_carried:
                self.issues.append(
                    f"The {report.benchmark} has no rate for {report.benchmark_days_carried} "
                    "of the YTD days (an earlier rate is carried): load them with "
                    "`manage.py import_benchmark_rates FILE`."
                )
        return answer

    def _key_instruments(self) -> list[Any]:
        symbols = list(getattr(settings, "PMS_MORNING_PACK_INSTRUMENTS", []))
        if not symbols:  # the largest exposures of the book
            by_size: dict[str, Decimal] = {}
            for p in self.held:
                symbol = p.instrument.symbol
                by_size[symbol] = by_size.get(symbol, Decimal(0)) + abs(p.notional_base)
            symbols = sorted(by_size, key=lambda s: -by_size[s])[:KEY_INSTRUMENTS]
        return portfolio.instruments(symbols)

    def market_overview(self) -> dict[str, Any]:
        instruments = self._key_instruments()
        grid = business_days_ending(self.data_date, max(MOVES.values()) + 1)
        history = portfolio.closes(
            [i.pk for i in instruments],
            after=grid[0] - dt.timedelta(days=10),
            until=self.data_date,
        )

        def close_on(pk: int, day: dt.date) -> tuple[dt.date, Decimal] | None:
            quotes = [q for q in history.get(pk, []) if q[0] <= day]
            return quotes[-1] if quotes else None

        rows = []
        for instrument in instruments:
            now = close_on(instrument.pk, self.data_date)
            moves: dict[str, str | None] = {}
            for name, back in MOVES.items():
                then = close_on(instrument.pk, grid[-1 - back])
                if now is None or then is None:
                    moves[name] = None
                elif _is_yield(instrument):
                    moves[name] = decimal_str(
                        ((now[1] - then[1]) * BP_PER_PERCENT).quantize(Decimal("0.01"))
                    )
                else:
                    moves[name] = _ratio(now[1] / then[1] - 1)
            rows.append(
                {
                    "instrument": instrument.symbol,
                    "name": instrument.name,
                    "currency": instrument.currency,
                    "unit": "bp" if _is_yield(instrument) else "%",
                    "places": price_places(instrument),
                    "close": decimal_str(now[1].normalize()) if now else None,
                    "close_date": now[0].isoformat() if now else None,
                    **{f"move_{name}": value for name, value in moves.items()},
                }
            )
        return {"instruments": rows}

    def portfolio(self) -> dict[str, Any]:
        notional = cents(p.notional_base for p in self.held)
        total = exposure(notional)
        by_asset_class = exposure_by(
            np.array([p.instrument.asset_class for p in self.held], dtype=str), notional
        )
        longs, shorts = int((notional > 0).sum()), int((notional < 0).sum())
        nav = self.nav
        leverage = Decimal(total.gross).scaleb(-2) / nav if nav is not None and nav > 0 else None

        def row(p: Any) -> dict[str, Any]:
            return {
                "instrument": p.instrument.symbol,
                "strategy": p.strategy.code,
                "asset_class": p.instrument.asset_class,
                "quantity": decimal_str(p.quantity),
                "price": decimal_str(p.price.normalize()),
                "unit": "bp" if _is_yield(p.instrument) else "%",
                "places": price_places(p.instrument),
                "notional": decimal_str(p.notional_base),
                "unrealized_pnl": decimal_str(p.unrealized_pnl_base),
                "daily_pnl": decimal_str(p.daily_pnl_base),
            }

        by_pnl = sorted(self.positions, key=lambda p: p.daily_pnl_base)
        return {
            "positions": len(self.held),
            "exposures": {
                "gross": _total(total.gross, longs + shorts),
                "net": _total(total.net, longs + shorts),
                "long": _total(total.long, longs),
                "short": _total(total.short, shorts),
                "leverage": _ratio(leverage),
                "by_asset_class": {
                    k: {"gross": cents_str(g.gross), "net": cents_str(g.net)}
                    for k, g in by_asset_class.items()
                },
            },
            "top_winners": [row(p) for p in by_pnl[::-1][:TOP_MOVERS] if p.daily_pnl_base > 0],
            "top_losers": [row(p) for p in by_pnl[:TOP_MOVERS] if p.daily_pnl_base < 0],
            "holdings": [row(p) for p in sorted(self.held, key=lambda p: -abs(p.notional_base))],
        }

    def pnl_by_strategy(self) -> list[dict[str, Any]]:
        columns = {"day": "daily", "mtd": "mtd", "ytd": "ytd"}
        figures: dict[str, dict[str, str]] = {}
        for column, period in columns.items():
            report = self.reports[period, "strategy"]
            for row in report["rows"] if report else []:
                figures.setdefault(row["key"], {})[column] = row["pnl"]
        return [
            {"strategy": code, **{c: values.get(c, "0.00") for c in columns}}
            for code, values in sorted(figures.items())
        ]

    def risk(self) -> dict[str, Any]:
        """The risk snapshot of the data date; without one, the same figures computed from
        that date's timeline (never from the live book, which may be of a later day)."""
        report = risk_selectors.snapshot_report(self.data_date)
        if report is not None:
            source = "snapshot"
        else:
            self.issues.append(
                f"No risk snapshot of {self.data_date}: risk computed from its timeline "
                f"(`manage.py run_pipeline eod --date {self.data_date}` stores it)."
            )
            try:
                report = report_shown(risk_selectors.risk_on(self.data_date))
            except ValidationError as error:
                self.issues.append(f"Risk unavailable: {' '.join(error.messages)}")
                return {"source": None, "limits": [], "alerts": self._alerts(), "stress": None}
            source = "timeline"
        keys = ("as_of", "var", "expected_shortfall", "var_unavailable", "window_used")
        return {
            "source": source,
            **{key: report[key] for key in keys},
            "drawdown": report["drawdown"],
            "dv01_by_tenor": report["dv01_by_tenor"],
            "limits": report["limits"],
            "alerts": self._alerts(),
            "drivers": None if report["var_unavailable"] else self._drivers(report["window"]),
            "backtest": self._backtest(),
            "stress": self._stress(),
        }

    def _stress(self) -> list[dict[str, Any]] | None:
        """Each stored scenario's P&L on the data date's book, as risk's stress run answers
        it (`POST /api/risk/stress/` on the live book): its total and its worst position,
        the one that loses most (None when none loses). None when the book is unknown."""
        scenarios = list(StressScenario.objects.order_by("name"))
        if not scenarios:
            return []
        try:
            book = risk_selectors.BookArrays.load(portfolio.book_state_on(self.data_date))
        except ValidationError as error:
            self.issues.append(f"Stress unavailable: {' '.join(error.messages)}")
            return None
        rows = []
        for scenario in scenarios:
            result = risk_selectors.scenario_run(scenario, book=book)
            worst = min(result["by_position"], key=lambda row: Decimal(row["pnl"]), default=None)
            rows.append(
                {
                    "scenario": scenario.pk,
                    "name": scenario.name,
                    "pnl": result["pnl"],
                    "worst": worst if worst and Decimal(worst["pnl"]) < 0 else None,
                    "missing_history": result["missing_history"],
                }
            )
        return rows

    def _drivers(self, window: int) -> dict[str, Any] | None:
        """What drives VaR: the largest component VaRs by position of the data date's
        book over the section's VaR window (a VaR the section has; without one, the
        section says why)."""
        try:
            report = risk_selectors.decomposition(
                as_of=self.data_date, by="position", window=window
            )
        except ValidationError as error:
            self.issues.append(f"VaR decomposition unavailable: {' '.join(error.messages)}")
            return None
        shown = decomposition_shown(report)
        return {
            "confidence": shown["confidence"],
            "var": shown["var"],
            "positions": shown["rows"][:TOP_DRIVERS],
        }

    def _backtest(self) -> dict[str, Any] | None:
        """The 99% VaR backtest of the Basel window known at the data date's close: the
        250 snapshots whose next business day is at the latest the data date."""
        days = business_days_ending(self.data_date, BASEL_DAYS + 1)
        try:
            report = risk_selectors.backtest(confidence=0.99, start=days[0], end=days[-2])
        except ValidationError as error:
            self.issues.append(f"VaR backtest unavailable: {' '.join(error.messages)}")
            return None
        shown = backtest_shown(report)
        keys = ("confidence", "observations", "exceptions", "expected", "start", "end")
        return {
            **{key: shown[key] for key in keys},
            "kupiec_p_value": shown["kupiec"]["p_value"],
            "traffic_light": shown["traffic_light"],
        }

    def _alerts(self) -> list[dict[str, Any]]:
        """One row per alert not resolved (per limit and breach): its days in breach, its
        value and utilization on the last of them, and the worst utilization."""
        return [
            {
                "limit": a.subject,
                "message": a.message,
                "first_day": a.date.isoformat(),
                "last_day": a.last.isoformat(),
                "days": a.days,
                "status": a.status,
                "value": decimal_str(a.value),
                "utilization": decimal_str(a.utilization),
                "worst_utilization": decimal_str(a.worst_utilization),
                "acknowledged_by": a.acknowledged_by,
                "note": a.note,
            }
            for a in risk_selectors.active_alerts()
        ]

    def proposals(self) -> list[dict[str, Any]]:
        return [
            {
                "id": p.pk,
                "date": p.date.isoformat(),
                "instrument": p.instrument.symbol,
                "strategy": p.strategy.code,
                "direction": p.direction,
                "quantity": decimal_str(p.quantity),
                "score": decimal_str(p.score.normalize()),
                "var_95_before": p.what_if.get("var_95_before"),
                "var_95_after": p.what_if.get("var_95_after"),
                "breaches_after": breached(p.what_if.get("limits_after", [])),
                "new_breaches": sorted(
                    set(breached(p.what_if.get("limits_after", [])))
                    - set(breached(p.what_if.get("limits_before", [])))
                ),
            }
            for p in pending_proposals(self.date)
        ]

    def attribution(self) -> dict[str, Any] | None:
        by_strategy, by_asset_class = (
            self.reports["mtd", "strategy"],
            self.reports["mtd", "asset_class"],
        )
        if by_strategy is None or by_asset_class is None:
            return None
        return {
            key: by_strategy[key]
            for key in ("period", "start", "end", "total_pnl", "total_return", "linking")
        } | {"by_strategy": by_strategy["rows"], "by_asset_class": by_asset_class["rows"]}

    def data_quality(self) -> dict[str, Any]:
        stale = sorted(
            {p.instrument.symbol for p in self.held if is_stale(p.price_date, self.data_date)}
        )
        currencies = {p.instrument.currency for p in self.held} - {portfolio.base_currency()}
        quoted = portfolio.fx_quoted_on(self.data_date, currencies)
        return {
            "stale_prices": stale,
            "missing_fx": sorted(currencies - quoted),
            "failed_runs": [
                {**run, "stopped": utc_iso(run["stopped"]), "error": run["error"][:500]}
                for run in failed_runs(self.data_date)
            ],
            "nav_breaks": self._nav_breaks(),
            "issues": self.issues,
        }

    def _nav_breaks(self) -> list[dict[str, Any]]:
        """The days up to the data date whose NAV break with the administrator's is not
        resolved, as they reconcile when the pack is generated."""
        return [
            {
                "date": day.date.isoformat(),
                **{
                    name: decimal_str(getattr(day, name))
                    for name in (
                        "nav",
                        "official_nav",
                        "difference",
                        "difference_bp",
                        "units",
                        "official_units",
                    )
                },
                "units_differ": day.units != day.official_units,
                "status": day.status,
            }
            for day in risk_selectors.nav_breaks(through=self.data_date)
        ]


def morning_pack(day: dt.date | None = None) -> "MorningPack | None":
    """The pack of a business date, or the latest one."""
    packs = MorningPack.objects.all()
    if day is not None:
        packs = packs.filter(date=day)
    return packs.order_by("-date").first()
