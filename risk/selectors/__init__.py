"""Reads of risk, one module per concern:

- `book`: the open book as arrays;
- `market`: its market history (one query for prices, one for FX), levels in numpy;
- `var`: VaR and ES over the risk window (`risk.engine` does the maths);
- `decomposition`: component and incremental VaR;
- `backtest`: the stored VaR against the next day's P&L;
- `limits`: each limit's value and status;
- `what_if`: a trade's effect on VaR and limits;
- `report`: the live risk report;
- `stress`: stress runs;
- `snapshots`: the stored risk snapshots and alerts, as reports, and the NAV's breaks with
  the administrator's.
"""

from .backtest import Backtest, BacktestDay, LikelihoodRatio, backtest
from .book import BookArrays, money
from .decomposition import (
    ComponentVar,
    Decomposition,
    IncrementalVar,
    decomposition,
    validate_decomposition,
)
from .limits import (
    LIMIT_STATUSES,
    LimitValue,
    active_limits,
    book_drawdown,
    breached,
    limit_value,
    limits_evaluate,
)
from .market import MarketHistory, market_levels
from .report import (
    Concentration,
    Exposures,
    RiskReport,
    exposures_report,
    live_risk,
    risk_of,
    risk_on,
    risk_report,
)
from .snapshots import active_alerts, nav_break_days, nav_breaks, snapshot_report
from .stress import scenario_run, shocks_from, stress, stress_run
from .var import (
    CONFIDENCES,
    MAX_WINDOW,
    Risk,
    default_window,
    min_window,
    risk_compute,
    validate_request,
)
from .what_if import WhatIf

__all__ = [
    "CONFIDENCES",
    "LIMIT_STATUSES",
    "MAX_WINDOW",
    "Backtest",
    "BacktestDay",
    "BookArrays",
    "ComponentVar",
    "Concentration",
    "Decomposition",
    "Exposures",
    "IncrementalVar",
    "LikelihoodRatio",
    "LimitValue",
    "MarketHistory",
    "Risk",
    "RiskReport",
    "WhatIf",
    "active_alerts",
    "active_limits",
    "backtest",
    "book_drawdown",
    "breached",
    "decomposition",
    "default_window",
    "exposures_report",
    "limit_value",
    "limits_evaluate",
    "live_risk",
    "market_levels",
    "min_window",
    "money",
    "nav_break_days",
    "nav_breaks",
    "risk_compute",
    "risk_of",
    "risk_on",
    "risk_report",
    "scenario_run",
    "shocks_from",
    "snapshot_report",
    "stress",
    "stress_run",
    "validate_decomposition",
    "validate_request",
]
