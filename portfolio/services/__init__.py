"""Writes of the position book. One call, one transaction; every book change is audited.

By concern: `audit`, `market_data` (prices, FX, capital flows), `trades` (the ledger and
its positions), `marking` (mark-to-market), `timeline` (the daily snapshots); the names
callers use are exported here.
"""

from .audit import audit_record, jsonable, model_state
from .market_data import (
    RowErrorMap,
    capital_flow_create,
    fx_rates_upsert,
    prices_upsert,
    reject_dates_outside,
    reject_duplicates,
    resolve_references,
    rows_upsert,
)
from .marking import MarkResult, mark_to_market
from .timeline import fund_inception_or_error, snapshots_build
from .trades import TradeRequest, position_close, trades_book

__all__ = [
    "MarkResult",
    "RowErrorMap",
    "TradeRequest",
    "audit_record",
    "capital_flow_create",
    "fund_inception_or_error",
    "fx_rates_upsert",
    "jsonable",
    "mark_to_market",
    "model_state",
    "position_close",
    "prices_upsert",
    "reject_dates_outside",
    "reject_duplicates",
    "resolve_references",
    "rows_upsert",
    "snapshots_build",
    "trades_book",
]
