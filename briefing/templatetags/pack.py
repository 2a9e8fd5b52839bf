"""Filters of the morning pack page: figures as a PM reads them."""

from django import template

from core import formatting, inputs

from .. import render

register = template.Library()
register.filter("money", render.money)
register.filter("price", render.price)
register.filter("number", formatting.number)
register.filter("percent", render.percent)
register.filter("move", render.move)
register.filter("share", render.share)
register.filter("brt", formatting.brt)
register.filter("quota", formatting.quota)
register.filter("share_precise", render.share_precise)
register.filter("row_label", inputs.row_label)


ASSET_CLASS_LABELS = {
    "fx": "FX",
    "rates": "Rates",
    "equity": "Equity",
    "commodity": "Commodities",
    "credit": "Credit",
    "other": "Other",
}


@register.filter
def asset_class_label(key: str) -> str:
    """A row of P&L by asset class in words: "FX", "Commodities", or the fund's accounts'."""
    return ASSET_CLASS_LABELS.get(key) or inputs.row_label(key)


@register.filter
def get_item(mapping: dict[str, object] | None, key: str) -> object:
    """`{{ var|get_item:"0.95" }}`: a key the template language cannot spell."""
    return (mapping or {}).get(key)


@register.filter
def unsigned(value: str | None) -> str | None:
    """A signed quantity shown beside its direction (sell 762, not sell −762)."""
    return None if value is None else value.lstrip("-")
