"""The sections of the morning pack, each read from the domain's own selectors.

A pack for business date D reads the close of D−1 (`data_date`): the fund's snapshots, the
risk snapshot (or the live risk when that is missing), the proposals awaiting a decision
and what is wrong with the data. Every figure is a decimal string, as the API shows it.
"""

import datetime as dt
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django_q.models import Failure

from attribution import selectors as performance
from core.calendar import business_days_ending, utc_iso
from core.formatting import decimal_str
from pms_site.models import PipelineRun
from portfolio.models import FxRate, Instrument, PortfolioSnapshot, PositionSnapshot, Price
from portfolio.selectors import base_currency, drawdown
from risk import selectors as risk_selectors
from risk.models import RiskAlert, RiskSnapshot
from trading.models import TradeProposal

from .models import MorningPack

NAV_CURVE_DAYS = 65  # about three months
TOP_MOVERS = 5
KEY_INSTRUMENTS = 10
MOVES = {"1d": 1, "1w": 5, "1m": 21}  # business days back
RATIO = Decimal("0.000001")


def breaches(limits: list[dict[str, Any]]) -> list[str]:
    return [row["name"] for row in limits if row["status"] == "breach"]


def _ratio(value: Decimal | float | None) -> str | None:
    return None if value is None else decimal_str(Decimal(str(value)).quantize(RATIO))


class Sections:
    """Builds each section of the pack for `date` from the close of `data_date`; the
    problems met on the way (missing snapshots, say) go to the data-quality section."""

    def __init__(self, date: dt.date, data_date: dt.date):
        self.date, self.data_date = date, data_date
        self.issues: list[str] = []
        self.positions = list(
            PositionSnapshot.objects.filter(date=data_date)
            .select_related("instrument", "strategy")
            .order_by("instrument__symbol", "strategy__code")
        )
        self.held = [p for p in self.positions if p.quantity]
        if not PortfolioSnapshot.objects.filter(date=data_date).exists():
            self.issues.append(
                f"No snapshot of {data_date}: run `manage.py backfill_snapshots --start "
                f"{data_date} --end {data_date}`, then generate the pack again."
            )
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
        return performance.attribution_report(resolved, by)

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
        curve = list(
            PortfolioSnapshot.objects.filter(date__lte=self.data_date)
            .order_by("-date")
            .values_list("date", "nav", "pnl")[:NAV_CURVE_DAYS]
        )[::-1]
        daily, mtd, ytd = (self.reports[p, "strategy"] for p in ("daily", "mtd", "ytd"))

        def figure(report: dict[str, Any] | None, key: str) -> str | None:
            return report[key] if report else None

        return {
            "date": self.date.isoformat(),
            "data_date": self.data_date.isoformat(),
            "base_currency": base_currency(),
            "nav": decimal_str(curve[-1][1]) if curve and curve[-1][0] == self.data_date else None,
            "day_pnl": figure(daily, "total_pnl"),
            "day_return": figure(daily, "total_return"),
            "mtd_pnl": figure(mtd, "total_pnl"),
            "mtd_return": figure(mtd, "total_return"),
            "ytd_pnl": figure(ytd, "total_pnl"),
            "ytd_return": figure(ytd, "total_return"),
            "nav_curve": [[day.isoformat(), decimal_str(nav)] for day, nav, _ in curve],
        }

    def _key_instruments(self) -> list[Instrument]:
        symbols = list(getattr(settings, "PMS_MORNING_PACK_INSTRUMENTS", []))
        if not symbols:  # the largest exposures of the book
            by_size: dict[str, Decimal] = {}
            for p in self.held:
                symbol = p.instrument.symbol
                by_size[symbol] = by_size.get(symbol, Decimal(0)) + abs(p.notional_base)
            symbols = sorted(by_size, key=lambda s: -by_size[s])[:KEY_INSTRUMENTS]
        found = {i.symbol: i for i in Instrument.objects.filter(symbol__in=symbols)}
        return [found[s] for s in symbols if s in found]

    def market_overview(self) -> dict[str, Any]:
        instruments = self._key_instruments()
        grid = business_days_ending(self.data_date, max(MOVES.values()) + 1)
        history: dict[int, list[tuple[dt.date, Decimal]]] = {}
        for pk, day, price in (
            Price.objects.filter(
                instrument__in=instruments,
                date__gt=grid[0] - dt.timedelta(days=10),
                date__lte=self.data_date,
            )
            .order_by("date")
            .values_list("instrument_id", "date", "price")
        ):
            history.setdefault(pk, []).append((day, price))

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
                elif instrument.quote_type == Instrument.QuoteType.YIELD:
                    moves[name] = decimal_str(((now[1] - then[1]) * 100).quantize(Decimal("0.01")))
                else:
                    moves[name] = _ratio(now[1] / then[1] - 1)
            rows.append(
                {
                    "instrument": instrument.symbol,
                    "name": instrument.name,
                    "currency": instrument.currency,
                    "unit": "bp" if instrument.quote_type == Instrument.QuoteType.YIELD else "%",
                    "close": decimal_str(now[1].normalize()) if now else None,
                    "close_date": now[0].isoformat() if now else None,
                    **{f"move_{name}": value for name, value in moves.items()},
                }
            )
        return {"instruments": rows}

    def portfolio(self) -> dict[str, Any]:
        long = sum((p.notional_base for p in self.held if p.notional_base > 0), Decimal(0))
        short = sum((p.notional_base for p in self.held if p.notional_base < 0), Decimal(0))
        by_asset_class: dict[str, dict[str, Decimal]] = {}
        for p in self.held:
            group = by_asset_class.setdefault(
                p.instrument.asset_class, {"gross": Decimal(0), "net": Decimal(0)}
            )
            group["gross"] += abs(p.notional_base)
            group["net"] += p.notional_base
        nav = PortfolioSnapshot.objects.filter(date=self.data_date).values_list("nav", flat=True)
        leverage = (long - short) / nav[0] if nav and nav[0] > 0 else None

        def row(p: PositionSnapshot) -> dict[str, Any]:
            return {
                "instrument": p.instrument.symbol,
                "strategy": p.strategy.code,
                "asset_class": p.instrument.asset_class,
                "quantity": decimal_str(p.quantity),
                "price": decimal_str(p.price.normalize()),
                "notional": decimal_str(p.notional_base),
                "unrealized_pnl": decimal_str(p.unrealized_pnl_base),
                "daily_pnl": decimal_str(p.daily_pnl_base),
            }

        by_pnl = sorted(self.positions, key=lambda p: p.daily_pnl_base)
        return {
            "positions": len(self.held),
            "exposures": {
                "gross": decimal_str(long - short),
                "net": decimal_str(long + short),
                "long": decimal_str(long),
                "short": decimal_str(short),
                "leverage": _ratio(leverage),
                "by_asset_class": {
                    k: {n: decimal_str(v) for n, v in g.items()}
                    for k, g in sorted(by_asset_class.items())
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
        snapshot = RiskSnapshot.objects.filter(date=self.data_date).first()
        if snapshot is not None:
            report = {
                "as_of": snapshot.date.isoformat(),
                "var": {"0.95": snapshot.var_95, "0.99": snapshot.var_99},
                "expected_shortfall": {"0.95": snapshot.es_95, "0.99": snapshot.es_99},
                "var_unavailable": snapshot.var_unavailable or None,
                "window_used": snapshot.window_used,
                "limits": snapshot.limits,
                "drawdown": snapshot.drawdown or drawdown(self.data_date).as_dict(),
            }
            for table in ("var", "expected_shortfall"):
                report[table] = {k: decimal_str(v) for k, v in report[table].items()}
            source = "snapshot"
        else:
            self.issues.append(
                f"No risk snapshot of {self.data_date}: risk computed from its timeline "
                f"(`manage.py run_pipeline eod --date {self.data_date}` stores it)."
            )
            try:
                report = risk_selectors.risk_on(self.data_date)
            except ValidationError as error:
                self.issues.append(f"Risk unavailable: {' '.join(error.messages)}")
                return {"source": None, "limits": [], "alerts": self._alerts()}
            source = "timeline"
        keys = ("as_of", "var", "expected_shortfall", "var_unavailable", "window_used")
        return {
            "source": source,
            **{key: report[key] for key in keys},
            "drawdown": report["drawdown"],
            "limits": report["limits"],
            "alerts": self._alerts(),
        }

    def _alerts(self) -> list[dict[str, Any]]:
        return [
            {
                "limit": a.subject,
                "message": a.message,
                "date": a.date.isoformat(),
                "status": a.status,
                "value": decimal_str(a.value),
                "utilization": decimal_str(a.utilization),
                "acknowledged_by": a.acknowledged_by,
            }
            for a in RiskAlert.objects.filter(status__in=["open", "acknowledged"])
            .select_related("limit")
            .order_by("-date", "limit__name")
        ]

    def proposals(self) -> list[dict[str, Any]]:
        pending = (
            TradeProposal.objects.filter(status=TradeProposal.Status.PENDING, date__lte=self.date)
            .select_related("instrument", "strategy")
            .order_by("strategy__code", "instrument__symbol")
        )
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
                "breaches_after": breaches(p.what_if.get("limits_after", [])),
                "new_breaches": sorted(
                    set(breaches(p.what_if.get("limits_after", [])))
                    - set(breaches(p.what_if.get("limits_before", [])))
                ),
            }
            for p in pending
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
            {
                p.instrument.symbol
                for p in self.held
                if p.price_date is None or p.price_date < self.data_date
            }
        )
        currencies = {p.instrument.currency for p in self.held} - {base_currency()}
        quoted = set(
            FxRate.objects.filter(currency__in=currencies, date=self.data_date).values_list(
                "currency", flat=True
            )
        )
        since = dt.datetime.combine(self.data_date, dt.time.min, tzinfo=dt.UTC)
        runs = PipelineRun.objects.filter(
            status=PipelineRun.Status.FAILED, business_date__gte=self.data_date
        ).order_by("business_date", "pipeline")
        # Tasks that died outside a pipeline's own record (a crash, a timeout).
        failures = Failure.objects.filter(stopped__gte=since).order_by("-stopped")[:20]
        return {
            "stale_prices": stale,
            "missing_fx": sorted(currencies - quoted),
            "failed_runs": [
                {
                    "name": f"{run.pipeline} {run.business_date}",
                    "task": run.pipeline,
                    "stopped": utc_iso(run.finished_at or run.requested_at),
                    "error": run.error[:500],
                }
                for run in runs
            ]
            + [
                {
                    "name": f.name,
                    "task": f.func,
                    "stopped": utc_iso(f.stopped),
                    "error": str(f.result)[:500],
                }
                for f in failures
            ],
            "issues": self.issues,
        }


def morning_pack(day: dt.date | None = None) -> "MorningPack | None":
    """The pack of a business date, or the latest one."""
    packs = MorningPack.objects.all()
    if day is not None:
        packs = packs.filter(date=day)
    return packs.order_by("-date").first()
