"""The cached data sets: for each, its parameters with their defaults, its key and the
selector that computes it. Views, pipelines and verify_system read and warm them by name
(`cache.read("risk", window=…)`, `cache.warm("book")`); the apps only provide selectors."""

import datetime as dt
from typing import Any

from rest_framework.exceptions import NotFound

from attribution import selectors as attribution
from briefing import selectors as briefing
from briefing.api.serializers import MorningPackSerializer
from portfolio import selectors as portfolio
from risk import selectors as risk

from . import cache


def _risk_params(*, window: int | None = None, method: str = "historical") -> dict[str, Any]:
    return {"window": window or risk.default_window(), "method": method}


def _attribution_params(
    *,
    period: str = attribution.DEFAULT_PERIOD,
    by: str = attribution.DEFAULT_BY,
    as_of: dt.date | None = None,
    start: dt.date | None = None,
    end: dt.date | None = None,
) -> dict[str, Any]:
    return {"period": period, "by": by, "as_of": as_of, "start": start, "end": end}


def _pack_params(*, date: dt.date | None = None) -> dict[str, Any]:
    return {"date": date}


def _pack(*, date: dt.date | None) -> dict[str, Any]:
    pack = briefing.morning_pack(date)
    if pack is None:
        raise NotFound(
            "No morning pack yet: POST /api/morning-pack/generate/."
            if date is None
            else f"No morning pack for {date}."
        )
    return MorningPackSerializer(pack).data  # type: ignore[no-any-return]


def _optional(value: Any) -> str:
    return "-" if value is None else str(value)


cache.register("book", key=lambda: "book", compute=portfolio.book)
cache.register(
    "risk",
    params=_risk_params,
    key=lambda *, window, method: f"risk:{method}:{window}",
    compute=risk.live_risk,
)
cache.register(
    "attribution",
    params=_attribution_params,
    key=lambda **p: "attribution:" + ":".join(_optional(p[k]) for k in _attribution_params()),
    compute=attribution.attribution,
)
cache.register(
    "morning_pack",
    params=_pack_params,
    key=lambda *, date: f"morning_pack:{date or 'latest'}",
    compute=_pack,
)
