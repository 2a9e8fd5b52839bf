"""The CSV files of market data the fund imports, read the same way by the commands
(`import_prices`, `import_fx_rates`) and the admin's upload: every line checked, every bad
one named, then all rows written through the service, or none."""

import functools
from typing import Any

from core.csv_import import CsvImport
from core.serializers import confirm_field

from . import services
from .api.serializers import FxRateSerializer, PriceRowSerializer


class FxRateRowSerializer(FxRateSerializer):
    """One line of an FX rates file; `confirm` (the import's --confirm-outliers) accepts a
    rate outside PMS_PRICE_BAND of the previous one."""

    confirm = confirm_field()

    class Meta(FxRateSerializer.Meta):
        fields = [*FxRateSerializer.Meta.fields, "confirm"]


def _fx_rates_upsert(*, rows: Any, actor: str) -> tuple[int, int]:
    return services.fx_rates_upsert(rows=rows, actor=actor, band=True)


PRICES_CSV = CsvImport(
    "Prices",
    PriceRowSerializer,
    frozenset({"instrument", "date", "price"}),
    services.prices_upsert,
    services.prices_check,
)
FX_RATES_CSV = CsvImport(
    "FX rates",
    FxRateRowSerializer,
    frozenset({"currency", "date", "rate"}),
    _fx_rates_upsert,
    functools.partial(services.fx_rates_check, band=True),
)
