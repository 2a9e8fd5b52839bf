"""The attribution maths of DESIGN.md "Attribution", on numpy arrays: no Django.

Inputs are a period's T business days: the fund's daily P&L and its capital at the start
of each day (`NAV_{t−1} + flow_t`), and a K × T matrix of daily P&L by key (strategy,
instrument, …) whose columns add up to the fund's P&L. P&L is in integer cents, so P&L
rows add up to the total exactly; returns are floats. The performance statistics work on
a run of daily returns and the benchmark's daily rates.
"""

from dataclasses import dataclass

import numpy as np

from portfolio.ledger import drawdowns


def carino_factor(returns: np.ndarray) -> np.ndarray:
    """k = ln(1 + r) / r, and 1 where r = 0 (its limit)."""
    returns = np.asarray(returns, dtype=float)
    out = np.ones_like(returns)
    moved = returns != 0
    out[moved] = np.log1p(returns[moved]) / returns[moved]
    return out


@dataclass(frozen=True)
class Attribution:
    pnl: np.ndarray  # K, integer cents
    total_pnl: int  # the fund's, in cents: the rows add up to it when the columns do
    contribution: np.ndarray  # K, Carino-linked
    total_return: float  # Π(1 + r_t) − 1
    daily_returns: np.ndarray  # T


def attribute(key_pnl: np.ndarray, fund_pnl: np.ndarray, capital: np.ndarray) -> Attribution:
    """P&L and Carino-linked return attribution over a period.

    c_{k,t} = pnl_{k,t} / capital_t; r_t = pnl_t / capital_t; R = Π(1 + r_t) − 1;
    C_k = Σ_t (k_t / k) c_{k,t} with k_t = ln(1 + r_t)/r_t and k = ln(1 + R)/R, so that
    Σ_k C_k = Σ_t ln(1 + r_t) / k = R. Days without capital (≤ 0) contribute no return.
    The total P&L is the fund's, not the rows' sum, so that rows which miss part of it
    show it rather than hide it.
    """
    total_pnl = int(np.asarray(fund_pnl, dtype=np.int64).sum())
    fund_pnl, capital = np.asarray(fund_pnl, dtype=float), np.asarray(capital, dtype=float)
    key_pnl = np.asarray(key_pnl, dtype=np.int64).reshape(-1, len(fund_pnl))
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.where(capital > 0, 1.0 / capital, 0.0)
    daily_returns = fund_pnl * scale
    if np.any(daily_returns <= -1.0):
        raise ValueError("A daily return of −100% or worse: returns cannot be linked.")
    total_return = float(np.expm1(np.log1p(daily_returns).sum()))
    weights = carino_factor(daily_returns) / carino_factor(np.array([total_return]))[0]
    contribution = (key_pnl * scale) @ weights
    return Attribution(
        pnl=key_pnl.sum(axis=1),
        total_pnl=total_pnl,
        contribution=contribution,
        total_return=total_return,
        daily_returns=daily_returns,
    )


TRADING_DAYS = 252  # a year of business days: annualization


@dataclass(frozen=True)
class Statistics:
    """Performance statistics of a run of T daily returns (DESIGN.md "Attribution").

    Days are indices into the run; the drawdown's `peak` is −1 when it is the opening of
    the first day. Figures that a run cannot give are None: volatility and Sharpe need
    two days, Sharpe and Sortino a benchmark and some dispersion, Calmar a drawdown, the
    hit ratio a day that moved."""

    total_return: float
    annualized_return: float
    volatility: float | None
    sharpe: float | None
    sortino: float | None
    max_drawdown: float
    peak: int | None
    trough: int | None
    calmar: float | None
    hit_ratio: float | None
    best: int
    worst: int
    benchmark_return: float | None
    excess_return: float | None


NOISE = 1e-12  # a daily dispersion below this is float rounding (idle days), not risk


def statistics(returns: np.ndarray, benchmark: np.ndarray | None) -> Statistics:
    """The statistics of daily returns `r` against the benchmark's daily returns `b`:

    R = Π(1 + r) − 1, annualized (1 + R)^(252/T) − 1; volatility std(r, ddof=1) × √252;
    on the excess e = r − b, Sharpe mean(e) / std(e, ddof=1) × √252 and Sortino
    mean(e) / √mean(min(e, 0)²) × √252 (both over two days or more, and None when the
    dispersion is no more than rounding noise); max drawdown of the index Π(1 + r) from
    its running peak (opening at 1), Calmar = annualized / max drawdown; hit ratio = days
    up / days that moved; benchmark return Π(1 + b) − 1 and the return over it, R − that.
    """
    r = np.asarray(returns, dtype=float)
    days = len(r)
    if days == 0:
        raise ValueError("No returns: statistics need at least one day.")
    total = float(np.expm1(np.log1p(r).sum()))
    annualized = -1.0 if total <= -1 else float((1 + total) ** (TRADING_DAYS / days) - 1)
    root = np.sqrt(TRADING_DAYS)
    volatility = float(r.std(ddof=1) * root) if days > 1 else None
    sharpe = sortino = benchmark_return = excess_return = None
    if benchmark is not None:
        excess = r - np.asarray(benchmark, dtype=float)
        if days > 1:  # a ratio to a dispersion: none from one day, none from rounding noise
            spread = float(excess.std(ddof=1))
            downside = float(np.sqrt(np.mean(np.minimum(excess, 0.0) ** 2)))
            sharpe = float(excess.mean() / spread * root) if spread > NOISE else None
            sortino = float(excess.mean() / downside * root) if downside > NOISE else None
        benchmark_return = float(np.expm1(np.log1p(benchmark).sum()))
        excess_return = total - benchmark_return
    values, peak_at = drawdowns(r)
    trough = int(values.argmax())
    deepest = float(values[trough])
    moved = int(np.count_nonzero(r))
    return Statistics(
        total_return=total,
        annualized_return=annualized,
        volatility=volatility,
        sharpe=sharpe,
        sortino=sortino,
        max_drawdown=deepest,
        peak=int(peak_at[trough]) if deepest > 0 else None,
        trough=trough if deepest > 0 else None,
        calmar=annualized / deepest if deepest > 0 else None,
        hit_ratio=int((r > 0).sum()) / moved if moved else None,
        best=int(r.argmax()),
        worst=int(r.argmin()),
        benchmark_return=benchmark_return,
        excess_return=excess_return,
    )
