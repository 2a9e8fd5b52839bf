"""The risk maths of DESIGN.md "Risk", on numpy arrays: no Django, no database.

Everything works on the portfolio P&L vector `S` (one entry per historical scenario),
built as `moves @ exposure` — W × M market moves times M instrument exposures — so no
N×N covariance matrix is ever formed.

Units. A *level* is what a scenario moves: `P × X(c)` for a price instrument, the yield in
percent for a yield instrument. A *move* is a simple return (price) or a change in bp
(yield). An *exposure* is the P&L of a unit move: `notional_base` for a price position,
`−q × dv01 × X(c, as_of)` = `−dv01_base` for a yield position. So P&L = exposure × move for
both, in historical scenarios and in stress shocks alike.

A DI1 (`pricing = di1`) is revalued in full, not by its DV01: its bp move becomes the change
of one contract's unit price, `PU(y + Δy, n) − PU(y, n)` (`revalued`), and its exposure is
`q × X(c, as_of)`, so the same product gives `q × (PU(y + Δy, n) − PU(y, n)) × X`.
"""

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

from portfolio import di1
from portfolio.ledger import Exposure, exposure, exposure_by

EWMA_LAMBDA = 0.94
BP_PER_PERCENT = 100.0
METHODS = ("historical", "parametric", "ewma")


def position_exposure(
    notional_base: np.ndarray,
    dv01_base: np.ndarray,
    is_yield: np.ndarray,
    *,
    is_di1: np.ndarray | bool = False,
    contracts_base: np.ndarray | float = 0.0,
) -> np.ndarray:
    """P&L of a unit move per position: notional for price, −DV01 (per +1 bp) for yield,
    and for a DI1 its contracts in base currency, q × X (its unit move is one contract's
    change of PU: `revalued`)."""
    linear = np.where(is_yield, -dv01_base, notional_base)
    return np.where(is_di1, contracts_base, linear).astype(float)


def revalued(moves_bp: np.ndarray, rate: np.ndarray, days: np.ndarray) -> np.ndarray:
    """DI1 moves in bp → the change of one contract's PU under each (full revaluation from
    the rate `rate` in percent, `days` business days to maturity; broadcast on the last
    axis)."""
    return di1.unit_prices(rate + moves_bp / BP_PER_PERCENT, days) - di1.unit_prices(rate, days)


def carried_levels(
    rows: np.ndarray,
    columns: np.ndarray,
    values: np.ndarray,
    shape: tuple[int, int],
    max_carry: int,
    order: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Levels on a date grid from observations, carried forward across missing dates.

    `rows[k]` is the grid row of observation k (the first grid date on or after its date),
    `columns[k]` its series; of several observations on one row of a series the one with
    the greatest `order[k]` (distinct within a cell: its date) wins. Returns (levels,
    complete): a column is complete when row 0 has an observation and no level is carried
    more than `max_carry` rows. `unbroken` (a third array) says the same from the column's
    first observation on, wherever it is: a young series that is whole since it started.
    """
    n_rows, n_columns = shape
    levels = np.full(shape, np.nan)
    cells = rows * n_columns + columns
    # The winner per cell, in one unbuffered pass (no sort).
    latest = np.full(n_rows * n_columns, -np.inf)
    np.maximum.at(latest, cells, order)
    keep = order == latest[cells]
    levels.flat[cells[keep]] = values[keep]

    row_numbers = np.arange(n_rows)[:, None]
    seen = np.where(np.isnan(levels), -1, row_numbers)
    np.maximum.accumulate(seen, axis=0, out=seen)
    carried = levels[np.maximum(seen, 0), np.arange(n_columns)]
    # Rows before the first observation (seen = −1) are not gaps: they are not counted.
    carry = np.where(seen >= 0, row_numbers - seen, 0)
    unbroken = carry.max(axis=0, initial=0) <= max_carry
    return carried, (seen[0] >= 0) & unbroken, unbroken


def instrument_moves(levels: np.ndarray, is_yield: np.ndarray) -> np.ndarray:
    """(W+1) × M levels → W × M moves: simple returns for price columns, bp for yield ones.

    Levels must be finite, and positive in price columns.
    """
    # One pass each: the change, its divisor (the previous level, or 1/100 for bp), divide.
    moves = np.subtract(levels[1:], levels[:-1])
    moves /= np.where(is_yield, 1.0 / BP_PER_PERCENT, levels[:-1])
    return moves


def borrowed_moves(own: np.ndarray, donors: np.ndarray) -> np.ndarray:
    """A young contract's moves (length W, NaN where it has none) completed from its
    donors' (W × K, in order of preference): on each date its own move, else that of the
    first donor with a move that date; NaN where none has one."""
    stack = np.column_stack([own, donors])
    has_move = np.isfinite(stack)
    chosen = stack[np.arange(len(own)), np.argmax(has_move, axis=1)]
    return np.where(has_move.any(axis=1), chosen, np.nan)


def column_exposure(column: np.ndarray, exposure: np.ndarray, n_columns: int) -> np.ndarray:
    """Sum position exposures onto their instrument columns (several strategies, one column)."""
    return np.bincount(column, weights=exposure, minlength=n_columns)


def scenario_pnl(moves: np.ndarray, exposure_by_column: np.ndarray) -> np.ndarray:
    """The portfolio P&L vector S (length W): one matrix-vector product."""
    return moves @ exposure_by_column  # type: ignore[no-any-return]


# --- VaR and expected shortfall ---------------------------------------------------------


def historical_var(pnl: np.ndarray, confidence: float) -> float:
    """−quantile(S, 1 − a), numpy's linear interpolation; a positive number is a loss."""
    # round(): 1 − 0.8 is 0.19999999999999996 in floats, which would miss a sample point.
    return float(-np.quantile(pnl, round(1.0 - confidence, 12)))


def historical_es(pnl: np.ndarray, confidence: float) -> float:
    """−mean(S[S ≤ −VaR]): the average loss in the scenarios at or beyond the VaR."""
    var = historical_var(pnl, confidence)
    return float(-pnl[pnl <= -var].mean())


def ewma_std(pnl: np.ndarray, decay: float = EWMA_LAMBDA) -> float:
    """RiskMetrics volatility of S: zero mean, weight λ^k on the k-th latest scenario.

    The weights are normalized to sum to one over the window, so a short window is not
    biased low: σ² = Σ λ^k S²_{W−1−k} / Σ λ^k.
    """
    weights = decay ** np.arange(len(pnl))[::-1]
    return float(np.sqrt(weights @ (pnl * pnl) / weights.sum()))


def normal_var(sigma: float, confidence: float) -> float:
    return NormalDist().inv_cdf(confidence) * sigma


def normal_es(sigma: float, confidence: float) -> float:
    """Expected shortfall of a zero-mean normal: σ × φ(z_a) / (1 − a)."""
    z = NormalDist().inv_cdf(confidence)
    return sigma * NormalDist().pdf(z) / (1.0 - confidence)


@dataclass(frozen=True)
class VarResult:
    var: dict[float, float]
    expected_shortfall: dict[float, float]


def var_es(pnl: np.ndarray, method: str, confidences: Iterable[float]) -> VarResult:
    """VaR and ES of S at each confidence by `method` (historical, parametric or ewma).

    Parametric and EWMA are normal models with σ = std(S, ddof=1) or the EWMA σ; their ES
    is the normal ES of the same σ. With fewer than two scenarios every figure is 0.
    """
    if method not in METHODS:
        raise ValueError(f"Unknown method {method!r}: use one of {', '.join(METHODS)}.")
    levels = list(confidences)
    if len(pnl) < 2:
        zeros = dict.fromkeys(levels, 0.0)
        return VarResult(zeros, dict(zeros))
    if method == "historical":
        return VarResult(
            {a: historical_var(pnl, a) for a in levels},
            {a: historical_es(pnl, a) for a in levels},
        )
    sigma = float(np.std(pnl, ddof=1)) if method == "parametric" else ewma_std(pnl)
    return VarResult(
        {a: normal_var(sigma, a) for a in levels}, {a: normal_es(sigma, a) for a in levels}
    )


# --- Decomposition (historical) ----------------------------------------------------------


def var_scenarios(pnl: np.ndarray, confidence: float) -> tuple[np.ndarray, np.ndarray]:
    """The two scenarios the historical VaR interpolates, and their weights (w1 + w2 = 1):
    numpy's linear quantile takes the order statistics ⌊h⌋ and ⌊h⌋ + 1 of S, h = (W − 1) q,
    weighted 1 − (h − ⌊h⌋) and h − ⌊h⌋. So −(w @ S[k]) is `historical_var`."""
    order = np.argsort(pnl, kind="stable")
    h = (len(pnl) - 1) * round(1.0 - confidence, 12)
    low = int(np.floor(h))
    high = min(low + 1, len(pnl) - 1)
    upper = h - low
    return order[[low, high]], np.array([1.0 - upper, upper])


def component_var(
    moves: np.ndarray, column: np.ndarray, exposure: np.ndarray, confidence: float
) -> tuple[float, np.ndarray]:
    """(VaR, each position's component VaR): a position's component is its P&L in the VaR
    scenario, −(w1 × P&L_k1 + w2 × P&L_k2), so the components add up to VaR exactly.
    `column` maps positions to the columns of `moves` (W × M); exposures of positions
    without history are 0."""
    pnl = scenario_pnl(moves, column_exposure(column, exposure, moves.shape[1]))
    scenarios, weights = var_scenarios(pnl, confidence)
    scenario_move = weights @ moves[scenarios]  # the VaR scenario's move per column
    return float(-(weights @ pnl[scenarios])), -(scenario_move[column] * exposure)


def group_sums(keys: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(the distinct keys, sorted; the sum of `values` per key)."""
    distinct, inverse = np.unique(keys, return_inverse=True)
    return distinct, np.bincount(inverse, weights=values, minlength=len(distinct))


def incremental_var(
    moves: np.ndarray,
    column: np.ndarray,
    exposure: np.ndarray,
    groups: np.ndarray,
    confidence: float,
) -> tuple[np.ndarray, np.ndarray]:
    """(the distinct groups, sorted; per group the book's VaR minus the VaR of the book
    without it: positive when the group adds risk, as Jorion defines it), every group at
    once: S without g = S − moves @ exposure_g."""
    distinct, inverse = np.unique(groups, return_inverse=True)
    by_group = np.zeros((len(distinct), moves.shape[1]))
    np.add.at(by_group, (inverse, column), exposure)
    pnl_groups = moves @ by_group.T  # W × G
    without = pnl_groups.sum(axis=1, keepdims=True) - pnl_groups
    var_without = -np.quantile(without, round(1.0 - confidence, 12), axis=0)
    return distinct, historical_var(pnl_groups.sum(axis=1), confidence) - var_without


def cents_adding_up(values: np.ndarray, total: float) -> np.ndarray:
    """`values` in integer cents that add up to `total` in cents: each rounded down, then
    the cents left over go to the largest remainders (largest-remainder rounding)."""
    raw = np.asarray(values, dtype=float) * 100.0
    floored = np.floor(raw)
    left = round(total * 100.0) - int(floored.sum())
    order = np.argsort(floored - raw, kind="stable")  # the largest remainders first
    floored[order[: max(left, 0)]] += 1
    if left < 0:  # only from float noise: take from the smallest remainders
        floored[order[::-1][:-left]] -= 1
    return floored.astype(np.int64)


# --- Backtesting --------------------------------------------------------------------------

BASEL_DAYS = 250  # the traffic light counts the exceptions of the last 250 observations
# The zones' bounds on the binomial probability of so few exceptions (Basel's table comes
# from them: at 99% on 250 days, green 0-4, yellow 5-9, red 10+).
GREEN_BELOW, YELLOW_BELOW = 0.95, 0.9999


def _log_likelihood(p: float, hits: int, misses: int) -> float:
    """ln[(1 − p)^misses × p^hits], with 0 × ln 0 = 0."""
    total = 0.0
    if misses:
        total += misses * math.log(1.0 - p) if p < 1 else -math.inf
    if hits:
        total += hits * math.log(p) if p > 0 else -math.inf
    return total


def chi2_1_p_value(lr: float) -> float:
    """P(χ²₁ > lr) = erfc(√(lr / 2))."""
    return math.erfc(math.sqrt(max(lr, 0.0) / 2.0))


def kupiec(exceptions: np.ndarray, confidence: float) -> tuple[float, float]:
    """Kupiec's proportion-of-failures LR and its p-value: with T observations and x
    exceptions, −2 ln[(1−p)^(T−x) p^x] + 2 ln[(1−x/T)^(T−x) (x/T)^x], p = 1 − confidence."""
    t, x = len(exceptions), int(exceptions.sum())
    p = round(1.0 - confidence, 12)
    lr = -2.0 * _log_likelihood(p, x, t - x) + 2.0 * _log_likelihood(x / t, x, t - x)
    return lr, chi2_1_p_value(lr)


def christoffersen(exceptions: np.ndarray) -> tuple[float, float]:
    """Christoffersen's independence LR and its p-value, from the transitions n_ij of the
    exception indicator (i yesterday, j today): an exception as likely after one as after
    none."""
    before, after = exceptions[:-1].astype(int), exceptions[1:].astype(int)
    n = np.bincount(before * 2 + after, minlength=4)  # n00, n01, n10, n11
    n00, n01, n10, n11 = (int(v) for v in n)
    pi = (n01 + n11) / max(n.sum(), 1)
    pi0 = n01 / (n00 + n01) if n00 + n01 else 0.0
    pi1 = n11 / (n10 + n11) if n10 + n11 else 0.0
    lr = -2.0 * _log_likelihood(pi, n01 + n11, n00 + n10) + 2.0 * (
        _log_likelihood(pi0, n01, n00) + _log_likelihood(pi1, n11, n10)
    )
    return lr, chi2_1_p_value(lr)


def binomial_cdf(x: int, n: int, p: float) -> float:
    """P(X ≤ x) for X ~ Binomial(n, p): Σ_{k ≤ x} C(n, k) p^k (1 − p)^(n − k), each term
    summed in log space so that a large n neither overflows C(n, k) nor underflows p^k."""
    if x >= n or p <= 0.0:
        return 1.0
    total = 0.0
    for k in range(x + 1):
        total += math.exp(math.log(math.comb(n, k)) + k * math.log(p) + (n - k) * math.log1p(-p))
    return min(total, 1.0)


def traffic_light(exceptions: int, observations: int, confidence: float) -> str:
    """The zone of `exceptions` in `observations` of a VaR at `confidence`, by the binomial
    rule Basel's table comes from: P = BinomCDF(x; n, 1 − confidence), green below 0.95,
    yellow below 0.9999, red from there."""
    probability = binomial_cdf(exceptions, observations, round(1.0 - confidence, 12))
    if probability < GREEN_BELOW:
        return "green"
    return "yellow" if probability < YELLOW_BELOW else "red"


# --- Stress -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Shock:
    """A stress shock. `value` is a relative move for price instruments and currencies, a
    move in bp for yield instruments. `quote_type` limits an asset-class shock to price or
    to yield instruments; a currency shock moves the price instruments in that currency."""

    target_type: str  # "instrument", "asset_class" or "currency"
    target: str
    value: float
    quote_type: str | None = None


def shock_vector(
    shocks: Sequence[Shock],
    *,
    instrument: np.ndarray,
    asset_class: np.ndarray,
    currency: np.ndarray,
    is_yield: np.ndarray,
) -> np.ndarray:
    """The move each position takes in a scenario: the sum of the shocks that hit it."""
    moves = np.zeros(len(instrument))
    labels = {"instrument": instrument, "asset_class": asset_class, "currency": currency}
    for shock in shocks:
        hit = labels[shock.target_type] == shock.target
        if shock.target_type == "currency":
            hit &= ~is_yield
        elif shock.quote_type is not None:
            hit &= is_yield == (shock.quote_type == "yield")
        moves[hit] += shock.value
    return moves


# --- DV01 by tenor -----------------------------------------------------------------------

# Buckets by the years to maturity τ = n/252 (n: national business days): τ up to each edge
# falls in that edge's bucket; an instrument without a maturity has its own last bucket.
TENOR_BUCKETS = ("≤ 6 m", "1 y", "2 y", "3 y", "5 y", "10 y", "> 10 y", "no maturity")
TENOR_EDGES = np.array([0.5, 1.0, 2.0, 3.0, 5.0, 10.0])
NO_MATURITY = len(TENOR_BUCKETS) - 1


def tenor_bucket(days: np.ndarray, dated: np.ndarray) -> np.ndarray:
    """Each instrument's bucket (an index into TENOR_BUCKETS) from its business days to
    maturity; `dated` says which have a maturity."""
    years = np.asarray(days, dtype=float) / 252.0
    return np.where(dated, np.searchsorted(TENOR_EDGES, years, side="left"), NO_MATURITY)


def dv01_by_tenor(bucket: np.ndarray, dv01_cents: np.ndarray) -> list[tuple[str, int]]:
    """(bucket, net DV01 in cents) of the buckets that hold any DV01, in bucket order; they
    add up to the book's DV01 exactly (integer cents)."""
    net = np.zeros(len(TENOR_BUCKETS), dtype=np.int64)
    gross = np.zeros(len(TENOR_BUCKETS), dtype=np.int64)
    np.add.at(net, bucket, dv01_cents)
    np.add.at(gross, bucket, np.abs(dv01_cents))
    return [(TENOR_BUCKETS[i], int(net[i])) for i in np.flatnonzero(gross)]


# --- Exposures ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Exposures:
    """The book's exposure (`portfolio.ledger.exposure`) and its split by asset class,
    currency and strategy; net DV01 (base currency per bp) by currency."""

    total: Exposure
    by_asset_class: dict[str, Exposure]
    by_currency: dict[str, Exposure]
    by_strategy: dict[str, Exposure]
    dv01_by_currency: dict[str, int]


def exposures(
    notional_cents: np.ndarray,
    dv01_cents: np.ndarray,
    *,
    asset_class: np.ndarray,
    currency: np.ndarray,
    strategy: np.ndarray,
) -> Exposures:
    """Exposures in integer cents (exact sums); DV01 for the currencies that carry any."""
    dv01 = exposure_by(currency, dv01_cents)
    return Exposures(
        total=exposure(notional_cents),
        by_asset_class=exposure_by(asset_class, notional_cents),
        by_currency=exposure_by(currency, notional_cents),
        by_strategy=exposure_by(strategy, notional_cents),
        dv01_by_currency={c: e.net for c, e in dv01.items() if e.gross},
    )


def top_concentrations(notional_cents: np.ndarray, count: int) -> np.ndarray:
    """Indices of the `count` largest |notional| positions, largest first (ties by index)."""
    order = np.argsort(-np.abs(notional_cents), kind="stable")
    return order[:count]
