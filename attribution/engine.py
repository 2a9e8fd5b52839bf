"""The attribution maths of DESIGN.md "Attribution", on numpy arrays: no Django.

Inputs are a period's T business days: the fund's daily P&L and its capital at the start
of each day (`NAV_{t−1} + flow_t`), and a K × T matrix of daily P&L by key (strategy,
instrument, …) whose columns add up to the fund's P&L. P&L is in integer cents, so P&L
rows add up to the total exactly; returns are floats.
"""

from dataclasses import dataclass

import numpy as np


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
    total_pnl: int  # cents
    contribution: np.ndarray  # K, Carino-linked
    total_return: float  # Π(1 + r_t) − 1
    daily_returns: np.ndarray  # T


def attribute(key_pnl: np.ndarray, fund_pnl: np.ndarray, capital: np.ndarray) -> Attribution:
    """P&L and Carino-linked return attribution over a period.

    c_{k,t} = pnl_{k,t} / capital_t; r_t = pnl_t / capital_t; R = Π(1 + r_t) − 1;
    C_k = Σ_t (k_t / k) c_{k,t} with k_t = ln(1 + r_t)/r_t and k = ln(1 + R)/R, so that
    Σ_k C_k = Σ_t ln(1 + r_t) / k = R. Days without capital (≤ 0) contribute no return.
    """
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
        total_pnl=int(key_pnl.sum()),
        contribution=contribution,
        total_return=total_return,
        daily_returns=daily_returns,
    )
