"""The cached data sets: for each, its parameters with their defaults, its key, the
selector that computes its value and the serializer that shows it. Views, the dashboard,
pipelines and verify_system read and warm them by name (`cache.read("risk", window=…)`,
`cache.read_value("book")`, `cache.warm("book")`); the apps only provide selectors and
serializers."""

import datetime as dt
from typing import Any

from rest_framework.exceptions import NotFound

from attribution import selectors as attribution
from attribution.api.serializers import AttributionSerializer
from briefing import selectors as briefing
from briefing.api.serializers import MorningPackSerializer
from briefing.models import MorningPack
from portfolio import selectors as portfolio
from portfolio.api.serializers import BookSerializer
from risk import selectors as risk
from risk.api.serializers import LiveRiskSerializer

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


def _pack(*, date: dt.date | None) -> MorningPack:
    pack = briefing.morning_pack(date)
    if pack is None:
        raise NotFound(
            "No morning pack yet: POST /api/morning-pack/generate/."
            if date is None
            else f"No morning pack for {date}."
        )
    return pack


def _optional(value: Any) -> str:
    return "-" if value is None else str(value)


cache.register("book", key=lambda: "book", compute=portfolio.live_book, serializer=BookSerializer)
cache.register(
    "risk",
    params=_risk_params,
    key=lambda *, window, method: f"risk:{method}:{window}",
    compute=risk.live_risk,
    serializer=LiveRiskSerializer,
)
cache.register(
    "attribution",
    params=_attribution_params,
    key=lambda **p: "attribution:" + ":".join(_optional(p[k]) for k in _attribution_params()),
    compute=attribution.attribution,
    serializer=AttributionSerializer,
)
cache.register(
    "morning_pack",
    params=_pack_params,
    key=lambda *, date: f"morning_pack:{date or 'latest'}",
    compute=_pack,
    serializer=MorningPackSerializer,
)
