"""The trade ticket (`pm`): book a trade, close or roll a position from the admin.

Each form reads its figures with the API's own serializer (the same input rules) and
writes through the API's service (band confirm, weekdays, locks, audit as the person
logged in). A ticket remembers the ledger's latest trade when it was filled in: posted
twice, or from a second tab after its instrument traded, it books nothing and says what
traded (`traded_since_check`). Success answers with a redirect (post, redirect, get)."""

from decimal import Decimal
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Max, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from rest_framework import serializers

from core.admin import _form_errors
from core.calendar import on_or_before, today
from core.errors import Conflict
from core.formatting import number, quote
from core.inputs import NOTE_MAX

from . import services
from .api import serializers as s
from .models import Instrument, Position, Strategy, Trade

BOOK, CLOSE, ROLL = "book", "close", "roll"
# What each form asks of the user: the rights the API's pm group holds.
RIGHTS = {
    BOOK: ("portfolio.add_trade",),
    CLOSE: ("portfolio.close_position",),
    ROLL: ("portfolio.add_trade", "portfolio.close_position"),
}
BASE = settings.PMS_BASE_CURRENCY
DECIMAL = {"inputmode": "decimal", "autocomplete": "off", "size": 14}


def price_text(instrument: Instrument, price: Decimal) -> str:
    """A price exactly as booked (a confirmation repeats what was typed, not the places a
    list rounds it to), as its instrument is quoted: a yield in percent (10.4%)."""
    return quote(price, None, instrument.quote_type == Instrument.QuoteType.YIELD)


def holding(quantity: Decimal) -> str:
    """What a position holds, in words: long 3, short 100, flat."""
    if quantity == 0:
        return "flat"
    return f"{'long' if quantity > 0 else 'short'} {number(abs(quantity))}"


def ticket_date() -> str:
    """Today in São Paulo; on a Saturday or Sunday, the last business day before it."""
    day = today()
    return (day if day.weekday() < 5 else on_or_before(day)).isoformat()


def latest_trade() -> int:
    """The ledger's latest trade id (0 for an empty ledger): the state a ticket sees."""
    return Trade.objects.aggregate(latest=Max("pk"))["latest"] or 0


class PositionChoice(forms.ModelChoiceField):
    """An open position, offered by its instrument, strategy and holding. Any position is
    accepted, so that one closed meanwhile reaches the service (which says so)."""

    def label_from_instance(self, obj: Position) -> str:
        return position_label(obj)


def position_label(position: Position) -> str:
    return f"{position.instrument.symbol} · {position.strategy.code} · {holding(position.quantity)}"


class SymbolChoice(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return str(getattr(obj, "symbol", None) or obj.code)


def _decimal(label: str, *, required: bool = True, help_text: str = "") -> forms.CharField:
    """A figure typed as the API reads it: ASCII digits, a point for decimals."""
    return forms.CharField(
        label=label,
        required=required,
        help_text=help_text,
        widget=forms.TextInput(attrs=DECIMAL),
    )


def _date() -> forms.CharField:
    return forms.CharField(
        label="Trade date",
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="A weekday; today by default.",
    )


def _confirm() -> forms.BooleanField:
    return forms.BooleanField(
        label="Confirm",
        required=False,
        help_text="Tick to trade at a price beyond PMS_PRICE_BAND of the last close.",
    )


class TicketForm(forms.Form):
    """A ticket's common part: the ledger's state it was filled in on, and the API's
    parser (`parser`) for its figures; `submit` calls the service and says what it did."""

    parser: type[serializers.Serializer]
    seen = forms.IntegerField(widget=forms.HiddenInput, min_value=0)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.arguments: dict[str, Any] = {}
        for field in self.fields.values():  # a matured contract is no longer traded
            offered = getattr(field, "queryset", None)
            if offered is not None and offered.model is Instrument:
                field.queryset = offered.exclude(maturity__lte=today())  # type: ignore[attr-defined]

    def payload(self, data: dict[str, Any]) -> dict[str, Any]:
        """The API's body for the cleaned fields."""
        raise NotImplementedError

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.errors:
            return data
        given = {k: v for k, v in self.payload(data).items() if v not in ("", None)}
        if self.errors:  # the payload's own (a signed size)
            return data
        parsed = self.parser(data=given, context={"text_values": True})
        if parsed.is_valid():
            self.arguments = dict(parsed.validated_data)
        else:
            for name, errors in parsed.errors.items():
                field = name if name in self.fields else None
                self.add_error(field, [str(error) for error in errors])
        return data

    def submit(self, actor: str) -> str:
        raise NotImplementedError


class BookForm(TicketForm):
    parser = s.PositionOpenSerializer

    instrument = SymbolChoice(
        queryset=Instrument.objects.filter(is_active=True).order_by("symbol"),
        to_field_name="symbol",
    )
    strategy = SymbolChoice(queryset=Strategy.objects.order_by("code"), to_field_name="code")
    side = forms.ChoiceField(choices=[("buy", "buy"), ("sell", "sell")])
    quantity = _decimal("Quantity", help_text="Without a sign: the side says buy or sell.")
    price = _decimal("Price", help_text="A yield-quoted instrument's rate in percent (10.40).")
    trade_date = _date()
    fees = _decimal(f"Fees ({BASE})", required=False)
    note = forms.CharField(required=False, max_length=NOTE_MAX)
    confirm = _confirm()

    def payload(self, data: dict[str, Any]) -> dict[str, Any]:
        quantity = data["quantity"].strip()
        if quantity[:1] in "+-":
            self.add_error("quantity", "Give it without a sign: the side says buy or sell.")
            return {}
        signed = quantity if data["side"] == "buy" else f"-{quantity}"
        return {
            "instrument": data["instrument"].symbol,
            "strategy": data["strategy"].code,
            "quantity": signed,
            **{name: data[name] for name in ("price", "trade_date", "fees", "note", "confirm")},
        }

    def submit(self, actor: str) -> str:
        trade = services.trade_book(
            request=services.TradeRequest(**self.arguments),
            actor=actor,
            source=Trade.Source.ADMIN,
            unchanged_since=self.cleaned_data["seen"],
        )
        position = Position.objects.select_related("instrument").get(pk=trade.position_id)
        return (
            f"Booked: {'bought' if trade.quantity > 0 else 'sold'} "
            f"{number(abs(trade.quantity))} {position.instrument.symbol} at "
            f"{price_text(position.instrument, trade.price)} for {self.arguments['strategy']} "
            f"on {trade.trade_date} (trade {trade.pk}); the position is now "
            f"{holding(position.quantity)}."
        )


def _open_positions() -> QuerySet[Position]:
    return Position.objects.filter(closed_at__isnull=True).select_related("instrument", "strategy")


class PositionForm(TicketForm):
    """A form on one position: the open ones are offered (`offered`)."""

    position = PositionChoice(queryset=Position.objects.select_related("instrument", "strategy"))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices = [(p.pk, position_label(p)) for p in self.offered()]
        self.fields["position"].widget.choices = [("", "———"), *choices]

    def offered(self) -> QuerySet[Position]:
        return _open_positions().order_by("instrument__symbol", "strategy__code")

    def payload(self, data: dict[str, Any]) -> dict[str, Any]:
        fields = self.parser().fields
        return {name: value for name, value in data.items() if name in fields}


class CloseForm(PositionForm):
    parser = s.PositionCloseSerializer

    price = _decimal("Price")
    quantity = _decimal("Quantity", required=False, help_text="To close part of it; all if blank.")
    trade_date = _date()
    fees = _decimal(f"Fees ({BASE})", required=False)
    confirm = _confirm()

    def submit(self, actor: str) -> str:
        chosen = self.cleaned_data["position"]
        position = services.position_close(
            position=chosen,
            **self.arguments,
            actor=actor,
            source=Trade.Source.ADMIN,
            unchanged_since=self.cleaned_data["seen"],
        )
        trade = position.trades.order_by("-pk").first()
        assert trade is not None
        now = "closed" if position.closed_at else f"now {holding(position.quantity)}"
        return (
            f"Closed: {'bought' if trade.quantity > 0 else 'sold'} {number(abs(trade.quantity))} "
            f"{position.instrument.symbol} at {price_text(position.instrument, trade.price)} "
            f"for {position.strategy.code} on {trade.trade_date} (trade {trade.pk}); the "
            f"position is {now}."
        )


class ContractChoice(SymbolChoice):
    """A contract to roll into, grouped by its chain (root)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(queryset=contracts(), to_field_name="symbol", **kwargs)


def contracts() -> QuerySet[Instrument]:
    """The instruments of a chain (a root), which a position may roll into."""
    return Instrument.objects.exclude(root="").order_by("root", "symbol")


class RollForm(PositionForm):
    parser = s.PositionRollSerializer

    to = ContractChoice(label="Into", help_text="Another contract of the position's chain.")
    price_from = _decimal("Close at", help_text="The price (or rate) the position closes at.")
    price_to = _decimal("Open at", help_text="The price (or rate) it opens at in the new one.")
    trade_date = _date()
    fees = _decimal(f"Fees ({BASE})", required=False, help_text="Booked on the closing trade.")
    confirm = _confirm()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """The contracts offered by chain; opened from a position's page, its chain's."""
        super().__init__(*args, **kwargs)
        offered = contracts()
        held = self.initial.get("position") if not self.is_bound else None
        if held is not None:
            chain = Position.objects.filter(pk=held).values("instrument__root")[:1]
            offered = offered.filter(root__in=chain).exclude(positions__pk=held)
        groups: dict[str, list[tuple[str, str]]] = {}
        for contract in offered:
            groups.setdefault(contract.root, []).append((contract.symbol, contract.symbol))
        self.fields["to"].widget.choices = [("", "———"), *groups.items()]

    def offered(self) -> QuerySet[Position]:
        return super().offered().exclude(instrument__root="")

    def payload(self, data: dict[str, Any]) -> dict[str, Any]:
        return {**super().payload(data), "to": data["to"].symbol if data.get("to") else None}

    def submit(self, actor: str) -> str:
        rolled = self.cleaned_data["position"].quantity  # unchanged since (the guard)
        closed, opened = services.position_roll(
            position=self.cleaned_data["position"],
            **self.arguments,
            actor=actor,
            source=Trade.Source.ADMIN,
            unchanged_since=self.cleaned_data["seen"],
        )
        prices = self.arguments
        return (
            f"Rolled {holding(rolled)} of {closed.strategy.code} from "
            f"{closed.instrument.symbol} at {price_text(closed.instrument, prices['price_from'])} "
            f"into {opened.instrument.symbol} at "
            f"{price_text(opened.instrument, prices['price_to'])} on "
            f"{prices.get('trade_date') or today()}; {opened.instrument.symbol} now "
            f"{holding(opened.quantity)}."
        )


FORMS: dict[str, type[TicketForm]] = {BOOK: BookForm, CLOSE: CloseForm, ROLL: RollForm}

TITLES = {BOOK: "Book a trade", CLOSE: "Close a position", ROLL: "Roll a position"}


def ticket_kinds(user: Any) -> list[str]:
    """The forms `user` may use: none, and the ticket is refused."""
    return [kind for kind, rights in RIGHTS.items() if all(user.has_perm(r) for r in rights)]


def _in_page_words(error: ValidationError) -> ValidationError:
    """The service's messages as the page puts them: the band's "send confirm: true" is
    the confirm box here."""

    def said(message: str) -> str:
        return message.replace("send confirm: true", "tick confirm")

    if hasattr(error, "error_dict"):
        return ValidationError(
            {name: [said(m) for m in texts] for name, texts in error.message_dict.items()}
        )
    return ValidationError([said(m) for m in error.messages])


def _submitted(form: TicketForm, request: HttpRequest) -> bool:
    """Submit a valid form through its service; its refusal on the form (by field) or, for
    a position or book that moved (Conflict), as a message."""
    if not form.is_valid():
        return False
    try:
        done = form.submit(request.user.get_username())
    except ValidationError as error:
        form.add_error(None, _form_errors(_in_page_words(error), form.fields))
        return False
    except Conflict as conflict:
        messages.error(request, str(conflict))
        return False
    messages.success(request, done)
    return True


class TicketAdminMixin(admin.ModelAdmin):
    """The ticket's page, `ticket/` under the trades: each form the user has the rights
    for; posting one without them is refused (403)."""

    def get_urls(self) -> list[Any]:
        ticket = self.admin_site.admin_view(self.ticket_view)
        return [path("ticket/", ticket, name="portfolio_trade_ticket"), *super().get_urls()]

    def ticket_view(self, request: HttpRequest) -> HttpResponse:
        kinds = ticket_kinds(request.user)
        if not kinds:
            raise PermissionDenied
        seen = latest_trade()
        initial = {"seen": seen, "trade_date": ticket_date()}
        position = request.GET.get("position", "")
        if position.isascii() and position.isdecimal():  # from a position's page
            initial["position"] = int(position)
        shown: dict[str, TicketForm] = {
            kind: FORMS[kind](initial=initial, prefix=kind) for kind in kinds
        }
        if request.method == "POST":
            kind = request.POST.get("ticket", "")
            if kind not in kinds:
                raise PermissionDenied
            form = FORMS[kind](request.POST, prefix=kind)
            if _submitted(form, request):
                return HttpResponseRedirect(reverse("admin:portfolio_trade_ticket"))
            if form.is_valid():  # refused by a Conflict: filled in again on today's ledger
                data = request.POST.copy()
                data[f"{kind}-seen"] = str(seen)
                form = FORMS[kind](data, prefix=kind)
            shown[kind] = form
        context = {
            **self.admin_site.each_context(request),
            "title": "Trade ticket",
            "opts": self.model._meta,
            "forms": [(kind, TITLES[kind], form) for kind, form in shown.items()],
        }
        return TemplateResponse(request, "admin/portfolio/trade/ticket.html", context)
