"""Stress on screen (`risk`): a stored or ad-hoc scenario run on the live book, its P&L by
position, the numbers of POST /api/risk/stress/ (the same selector); and the shock editor
the scenario form and the stress page share: a row per shock instead of a JSON box,
checked by the service's shock rules, its errors next to it."""

import itertools
import json
from decimal import Decimal, InvalidOperation
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import path
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from core.formatting import money, number
from portfolio.models import Position

from . import selectors, services
from .models import StressScenario

# Who runs a stress here: who writes scenarios (the risk group; the API lets every group
# POST /api/risk/stress/, this page is the risk officer's).
STRESS_RIGHT = "risk.add_stressscenario"
ROW_FIELDS = services.SHOCK_FIELDS  # target_type, target, shock, quote_type
TARGET_TYPES = [
    ("", "———"),
    ("instrument", "instrument"),
    ("asset_class", "asset class"),
    ("currency", "currency"),
]
QUOTE_TYPES = [("", "any"), ("price", "price"), ("yield", "yield")]

SHOCKS_HELP = (
    "A row per shock; blank rows are ignored (save, or run, for more rows). "
    "<b>Target type</b>: an instrument (its symbol, e.g. ESH4), an asset class (equity, "
    "rates, fx, commodity, credit, other) or a currency (USD: its price-quoted instruments). "
    "<b>Shock</b>: a relative move for price-quoted instruments and currencies (-0.10 is "
    "−10%, from above -1 to 10), basis points for yield-quoted ones (100 is +100 bp). "
    "<b>Quote type</b>: for an asset class holding both, which ones the shock moves (price "
    "or yield). Shocks on the same position add up (together above −100%). Through the API: "
    '<code>[{"target_type": "asset_class", "target": "equity", "shock": "-0.10"}, '
    '{"target_type": "asset_class", "target": "rates", "shock": "100", '
    '"quote_type": "yield"}]</code>.'
)


def _options(choices: list[tuple[str, str]], chosen: str) -> SafeString:
    return format_html_join(
        "",
        '<option value="{}"{}>{}</option>',
        ((value, " selected" if value == chosen else "", label) for value, label in choices),
    )


def plain(shock: Any) -> str:
    """A stored move as a person types it: 0.11110000 → 0.1111, 200.00000000 → 200; what
    does not read as a number, as typed."""
    try:
        return f"{Decimal(str(shock)).normalize():f}"
    except (InvalidOperation, ValueError):
        return "" if shock is None else str(shock)


def shocks_said(shocks: list[dict[str, Any]]) -> str:
    """A scenario's shocks in a line: "currency USD +0.1111; instrument DI1F27 +200"."""
    return "; ".join(
        f"{row['target_type'].replace('_', ' ')} {row['target']} "
        f"{'+' if Decimal(str(row['shock'])) > 0 else ''}{plain(row['shock'])}"
        + (f" ({row['quote_type']})" if row.get("quote_type") else "")
        for row in shocks
    )


class ShocksWidget(forms.Widget):
    """A table of shocks, a row each (target type, target, shock, quote type), with blank
    rows to add more; posted back as the list of the rows filled in."""

    blank_rows = 3

    def value_from_datadict(self, data: Any, files: Any, name: str) -> list[dict[str, str]]:
        rows = []
        for index in itertools.count():  # every row the page drew: none is dropped
            if f"{name}-{index}-target" not in data:
                break
            typed = {f: str(data.get(f"{name}-{index}-{f}", "")).strip() for f in ROW_FIELDS}
            if typed["target"] or typed["shock"]:  # a row left blank is no shock
                rows.append({f: v for f, v in typed.items() if v})
        return rows

    def value_omitted_from_data(self, data: Any, files: Any, name: str) -> bool:
        return f"{name}-0-target" not in data

    def render(self, name: str, value: Any, attrs: Any = None, renderer: Any = None) -> SafeString:
        if isinstance(value, str):  # a stored scenario's JSON, as a form's initial may be
            value = json.loads(value or "[]")
        rows = [dict(row) for row in value or [] if isinstance(row, dict)]
        rows += [{}] * max(self.blank_rows, 5 - len(rows))
        body = format_html_join("", "{}", ((self._row(name, i, r),) for i, r in enumerate(rows)))
        return format_html(
            '<table class="pms-shocks" id="{}"><thead><tr><th></th><th>target type</th>'
            "<th>target</th><th>shock</th><th>quote type</th></tr></thead><tbody>{}</tbody>"
            "</table>",
            (attrs or {}).get("id", f"id_{name}"),
            body,
        )

    @staticmethod
    def _row(name: str, index: int, row: dict[str, Any]) -> SafeString:
        def field(part: str) -> str:
            return f"{name}-{index}-{part}"

        return format_html(
            '<tr><td class="pms-row-label">shock {}</td><td><select name="{}">{}</select></td>'
            '<td><input type="text" name="{}" value="{}" maxlength="32" autocomplete="off"></td>'
            '<td><input type="text" name="{}" value="{}" inputmode="decimal" autocomplete="off">'
            '</td><td><select name="{}">{}</select></td></tr>',
            index,
            field("target_type"),
            _options(TARGET_TYPES, str(row.get("target_type") or "")),
            field("target"),
            row.get("target") or "",
            field("shock"),
            plain(row.get("shock")),
            field("quote_type"),
            _options(QUOTE_TYPES, str(row.get("quote_type") or "")),
        )


def _comparable(rows: Any) -> list[tuple[Any, ...]]:
    """Shocks as a change is judged: the same moves, however their decimals are written."""

    def amount(text: Any) -> Any:
        try:
            return Decimal(str(text))
        except (InvalidOperation, ValueError):
            return text

    return [
        (r.get("target_type"), r.get("target"), amount(r.get("shock")), r.get("quote_type") or "")
        for r in rows or []
        if isinstance(r, dict)
    ]


class ShocksField(forms.Field):
    """Shocks checked by the service's rules (`services.shocks_clean`, as the API): the
    list a scenario stores, or a message per bad row ("shock 1: target: …")."""

    widget = ShocksWidget

    def clean(self, value: Any) -> list[dict[str, Any]]:
        rows = value or []
        if not rows:
            if self.required:
                raise ValidationError("Give at least one shock.")
            return []
        try:
            return services.shocks_clean(rows)
        except ValidationError as error:
            raise ValidationError(error.messages) from None

    def has_changed(self, initial: Any, data: Any) -> bool:
        if isinstance(initial, str):
            initial = json.loads(initial or "[]")
        return _comparable(initial) != _comparable(data)


class ScenarioForm(forms.ModelForm):
    shocks = ShocksField(required=False, help_text=SHOCKS_HELP)

    class Meta:
        model = StressScenario
        fields = ["name", "description", "shocks", "historical_start", "historical_end"]


class StressForm(forms.Form):
    scenario = forms.ModelChoiceField(
        queryset=StressScenario.objects.order_by("name"),
        required=False,
        empty_label="— none: the shocks below —",
        help_text="A stored scenario (shocks or a past window), or leave it and type shocks.",
    )
    shocks = ShocksField(required=False, help_text=SHOCKS_HELP)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.errors:
            return data
        if data.get("scenario") and data.get("shocks"):
            raise ValidationError("Run a stored scenario or typed shocks, not both.")
        if not (data.get("scenario") or data.get("shocks")):
            raise ValidationError("Choose a stored scenario, or type at least one shock.")
        return data


def stress_rows(result: dict[str, Any]) -> list[dict[str, Any]]:
    """The run's P&L by position, the worst first, with each open position's quantity (one
    query)."""
    held = {
        (symbol, code): quantity
        for symbol, code, quantity in Position.objects.filter(closed_at__isnull=True).values_list(
            "instrument__symbol", "strategy__code", "quantity"
        )
    }
    rows = [
        {
            "instrument": row["instrument"],
            "strategy": row["strategy"],
            "quantity": number(held.get((row["instrument"], row["strategy"]))),
            "pnl": money(row["pnl"]),
            "loss": Decimal(row["pnl"]) < 0,
            "value": Decimal(row["pnl"]),
        }
        for row in result["by_position"]
    ]
    return sorted(rows, key=lambda row: (row["value"], row["instrument"], row["strategy"]))


class StressAdminMixin(admin.ModelAdmin):
    """The stress page, `run/` under the scenarios (GET: a run changes nothing)."""

    def get_urls(self) -> list[Any]:
        run = self.admin_site.admin_view(self.stress_view)
        return [path("run/", run, name="risk_stressscenario_run"), *super().get_urls()]

    def stress_view(self, request: HttpRequest) -> HttpResponse:
        if not request.user.has_perm(STRESS_RIGHT):
            raise PermissionDenied
        asked = "run" in request.GET or "scenario" in request.GET
        form = StressForm(request.GET if asked else None)
        result, scenario = None, None
        if asked and form.is_valid():
            scenario = form.cleaned_data["scenario"]
            result = selectors.stress(
                scenario=form.cleaned_data["scenario"], shocks=form.cleaned_data["shocks"]
            )
        context = {
            **self.admin_site.each_context(request),
            "title": "Stress",
            "opts": self.model._meta,
            "form": form,
            "result": result,
            "rows": stress_rows(result) if result else [],
            "total": money(result["pnl"]) if result else None,
            "loss": result is not None and Decimal(result["pnl"]) < 0,
            "scenario": scenario,
            "shocks_said": shocks_said(scenario.shocks) if scenario else "",
            "base": settings.PMS_BASE_CURRENCY,
        }
        return TemplateResponse(request, "admin/risk/stressscenario/stress.html", context)
