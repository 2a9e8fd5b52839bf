"""Writes of the position book. One call, one transaction; every book change is audited.

By concern: `audit`, `reference` (instruments, strategies), `market_data` (prices, FX,
benchmark rates), `accounts` (the fund's terms, capital flows and the
accounts' rebuild), `official_nav` (the administrator's NAV, quota and units),
`trades` (the ledger and its positions), `contracts` (a dated contract's roll and
expiry), `marking` (mark-to-market), `live_day` (the day in progress that trades
and marks share: its start, its pending days, the book's locks), `timeline` (the daily
snapshots); the names callers use are exported here. A position's day itself is computed
by `portfolio.ledger.position_day`, for the live book and the timeline alike.
"""

from .accounts import (
    TERMS_FIELDS,
    accounts_moved_register,
    accounts_rebuild,
    capital_flow_check,
    capital_flow_create,
    fund_terms_change,
    fund_terms_check,
)
from .audit import (
    audit_record,
    audited_create,
    audited_delete,
    audited_update,
    model_state,
)
from .contracts import Expiry, position_roll, positions_expire
from .market_data import (
    BENCHMARK_RATES,
    FX_RATES,
    PRICES,
    MarketSeries,
    benchmark_rates_check,
    benchmark_rates_upsert,
    di1_accruals_keep,
    fx_rates_check,
    fx_rates_upsert,
    prices_check,
    prices_upsert,
)
from .marking import MarkResult, mark_to_market
from .official_nav import official_navs_check, official_navs_upsert
from .reference import (
    instrument_check,
    instrument_create,
    instrument_update,
    instruments_upsert,
    strategy_create,
    strategy_update,
)
from .timeline import fund_inception_or_error, snapshots_build
from .trades import TradeRequest, position_close, trade_book, trades_book

__all__ = [
    "BENCHMARK_RATES",
    "FX_RATES",
    "PRICES",
    "TERMS_FIELDS",
    "Expiry",
    "MarkResult",
    "MarketSeries",
    "TradeRequest",
    "accounts_moved_register",
    "accounts_rebuild",
    "audit_record",
    "audited_create",
    "audited_delete",
    "audited_update",
    "benchmark_rates_check",
    "benchmark_rates_upsert",
    "capital_flow_check",
    "capital_flow_create",
    "di1_accruals_keep",
    "fund_inception_or_error",
    "fund_terms_change",
    "fund_terms_check",
    "fx_rates_check",
    "fx_rates_upsert",
    "instrument_check",
    "instrument_create",
    "instrument_update",
    "instruments_upsert",
    "mark_to_market",
    "model_state",
    "official_navs_check",
    "official_navs_upsert",
    "position_close",
    "position_roll",
    "positions_expire",
    "prices_check",
    "prices_upsert",
    "snapshots_build",
    "strategy_create",
    "strategy_update",
    "trade_book",
    "trades_book",
]
