"""Base classes of the admin screens shared by the apps."""

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import ERROR_FLAG, PAGE_VAR
from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied, ValidationError
from django.db import models, transaction
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.http.response import HttpResponseBase
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import SafeString
from django.utils.text import slugify

from . import exports
from .errors import Conflict
from .formatting import money, number, percent


def has_model_permission(model_admin: admin.ModelAdmin, request: HttpRequest, verb: str) -> bool:
    """The user holds `<app>.<verb>_<model>` (e.g. `trading.decide_tradeproposal`): what an
    admin action that is not an add, change or delete asks for (`permissions=[verb]`)."""
    opts = model_admin.opts
    return request.user.has_perm(f"{opts.app_label}.{verb}_{opts.model_name}")


def column(
    field: str, description: str, show: Callable[[Any], str], *, of_row: bool = False
) -> Callable[..., SafeString]:
    """A right-aligned list column of `field`, written by `show` (given the field's value,
    or the whole row with `of_row`), sortable by the field."""

    @admin.display(description=description, ordering=field)
    def cell(model_admin: admin.ModelAdmin, obj: Any) -> SafeString:
        return format_html(
            '<span class="num">{}</span>', show(obj if of_row else getattr(obj, field))
        )

    return cell


def money_column(field: str, description: str, places: int = 2) -> Callable[..., SafeString]:
    """An amount: thousands separators, `places` decimals."""
    return column(field, description, lambda value: money(value, places))


def number_column(
    field: str, description: str, max_places: int | None = None
) -> Callable[..., SafeString]:
    """A quantity, price, rate or score as entered: no trailing zeros."""
    return column(field, description, lambda value: number(value, max_places))


def percent_column(field: str, description: str, places: int = 1) -> Callable[..., SafeString]:
    """A fraction as a percentage: 1.097288 → 109.7%."""
    return column(field, description, lambda value: percent(value, places))


def back_url(request: HttpRequest, default: str) -> str:
    """Where a button posted from a page (the dashboard, a row's page) returns: its `next`,
    when that is on this site, else `default`."""
    back = request.POST.get("next", "")
    safe = url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()})
    return back if safe else default


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows written only by services elsewhere (trades, marks, pipelines): viewed here, and
    acted on only through actions guarded by their own permission."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def _form_errors(error: ValidationError, fields: Any) -> ValidationError:
    """A service's errors on the form: by field where the form has it, else at the top."""
    if not hasattr(error, "error_dict"):
        return error
    placed: dict[str, list[str]] = {}
    for name, errors in error.message_dict.items():
        key = name if name in fields else NON_FIELD_ERRORS
        placed.setdefault(key, []).extend(
            errors if key == name else [f"{name}: {e}" for e in errors]
        )
    return ValidationError(placed)


def _changes(form: forms.ModelForm, change: bool) -> dict[str, Any]:
    """What the form writes: every field of a new row, the changed ones of a stored row."""
    names = form.changed_data if change else list(form.cleaned_data)
    return {name: form.cleaned_data[name] for name in names if name in form.cleaned_data}


class ServiceAdmin(admin.ModelAdmin):
    """An admin whose writes go through the owning app's services: the same rules, audit
    record and cache invalidation as the API. A subclass names its services, as the
    viewset does: `create_service(actor=…, **fields)`, `update_service(obj, actor=…,
    **changes)`, `delete_service(obj, actor=…)`; a write without a service is not offered.
    `check_service(instance=…, changes=…)` runs the service's rules on the form, so that a
    refused change shows there, next to its field."""

    create_service: Callable[..., Any] | None = None
    update_service: Callable[..., Any] | None = None
    delete_service: Callable[..., Any] | None = None
    check_service: Callable[..., None] | None = None

    def has_add_permission(self, request: HttpRequest) -> bool:
        return self.create_service is not None and super().has_add_permission(request)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.update_service is not None and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.delete_service is not None and super().has_delete_permission(request, obj)

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> type[forms.ModelForm]:
        form: type[forms.ModelForm] = super().get_form(request, obj, change=change, **kwargs)
        if type(self).check_service is None:
            return form
        check: Callable[..., None] = type(self).check_service  # type: ignore[assignment]

        class CheckedForm(form):  # type: ignore[valid-type,misc]
            def clean(self) -> dict[str, Any]:
                data: dict[str, Any] = super().clean()
                if not self.errors:
                    stored = self.instance if self.instance.pk else None
                    try:
                        check(instance=stored, changes=_changes(self, stored is not None))
                    except ValidationError as error:
                        self.add_error(None, _form_errors(error, self.fields))
                return data

        return CheckedForm

    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except ValidationError as error:
            # The service refused what the form's check let through: the state changed in
            # between (a first trade booked meanwhile, say). Nothing was written.
            self.message_user(request, " ".join(error.messages), messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        actor = request.user.get_username()
        changes = _changes(form, change)
        if change:
            saved = type(self).update_service(obj, actor=actor, **changes)  # type: ignore[misc]
        else:
            saved = type(self).create_service(actor=actor, **changes)  # type: ignore[misc]
        for field in obj._meta.concrete_fields:  # as stored: the admin's log entry, redirect
            setattr(obj, field.attname, getattr(saved, field.attname))
        obj._state.adding = False

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        """No many-to-many fields or inlines: everything was written by the service."""

    def delete_model(self, request: HttpRequest, obj: models.Model) -> None:
        try:
            type(self).delete_service(obj, actor=request.user.get_username())  # type: ignore[misc]
        except Conflict as error:
            self.message_user(request, str(error), messages.ERROR)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        """The bulk "delete selected" action: each row through the service, each in its own
        transaction, so that a refused one (a limit with alerts) keeps only itself."""
        for obj in queryset:
            with transaction.atomic():
                self.delete_model(request, obj)


# --- The lists a person scans: filters and exports ---------------------------------------


def _kept_params(request: HttpRequest, own: Sequence[str | None]) -> list[tuple[str, str]]:
    """The list's other parameters (filters, search, sort), carried as hidden fields by a
    filter's form, so that applying it keeps them; the page number is not kept."""
    dropped = {*own, PAGE_VAR, ERROR_FLAG}
    return [
        (name, value)
        for name, values in request.GET.lists()
        if name not in dropped
        for value in values
    ]


class SelectFilter(admin.RelatedOnlyFieldListFilter):
    """A related field's filter as a drop-down list (submitted by a button, or on change),
    not a column of links: the 33 instruments and more of the fund would make the links a
    long scroll. Only the rows the list holds are offered (an instrument without a price
    is not a choice on the price list)."""

    template = "admin/pms_select_filter.html"

    def __init__(
        self,
        field: Any,
        request: HttpRequest,
        params: dict[str, Any],
        model: Any,
        model_admin: Any,
        field_path: str,
    ) -> None:
        for key in [k for k in params if k.startswith(f"{field_path}__")]:
            if params[key] in ([""], ""):  # the drop-down's "All", as a form sends it
                params.pop(key)
        super().__init__(field, request, params, model, model_admin, field_path)
        self.kept = _kept_params(request, self.expected_parameters())
        self.chosen = {str(value) for value in self.lookup_val or ()}


class DateRangeFilter(admin.FieldListFilter):
    """From and to dates, both included, of a date field, or of a moment's date in São
    Paulo (the fund's day, as the pages show it). A bound that is not a date is named next
    to its field and filters nothing; the list's export refuses it."""

    template = "admin/pms_date_range_filter.html"

    def __init__(
        self,
        field: Any,
        request: HttpRequest,
        params: dict[str, Any],
        model: Any,
        model_admin: Any,
        field_path: str,
    ) -> None:
        self.names = (f"{field_path}__from", f"{field_path}__to")
        moment = isinstance(field, models.DateTimeField)
        self.lookup = f"{field_path}__date" if moment else field_path
        super().__init__(field, request, params, model, model_admin, field_path)
        if moment:  # "By at" would say nothing: the day the moment fell on, as shown
            self.title = "day (BRT)"
        self.kept = _kept_params(request, self.names)
        self.values = [self._last(name) for name in self.names]
        self.errors: list[str] = []
        self.bounds = [self._parsed(self.values[0], "from"), self._parsed(self.values[1], "to")]
        start, end = self.bounds
        if start and end and start > end:
            self.errors.append(f"{self.title}: from {self.values[0]} is after to {self.values[1]}.")

    def _last(self, name: str) -> str:
        value = self.used_parameters.get(name) or [""]
        return str(value[-1] if isinstance(value, list) else value).strip()

    def _parsed(self, value: str, end: str) -> dt.date | None:
        if not value:
            return None
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            self.errors.append(f"{self.title} {end}: {value!r} is not a date (YYYY-MM-DD).")
            return None

    def expected_parameters(self) -> list[str | None]:
        return list(self.names)

    def has_output(self) -> bool:
        return True

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.errors:
            return queryset
        start, end = self.bounds
        if start:
            queryset = queryset.filter(**{f"{self.lookup}__gte": start})
        if end:
            queryset = queryset.filter(**{f"{self.lookup}__lte": end})
        return queryset

    def choices(self, changelist: Any) -> Any:
        """One choice: the whole range, which the "clear" link returns to."""
        yield {
            "selected": not any(self.values),
            "query_string": changelist.get_query_string(remove=list(self.names)),
            "display": "All dates",
        }


class ExportAdmin(admin.ModelAdmin):
    """A list a person scans, exported as CSV or Excel (`core.exports`): exactly the rows
    its filters, search and sort select, all pages, in one query. The admin declares its
    `export_columns` once; whoever may view the list may export it, and no one else."""

    export_columns: tuple[exports.ExportColumn, ...] = ()

    def get_urls(self) -> list[Any]:
        view = self.admin_site.admin_view(self.export_view)
        name = f"{self.opts.app_label}_{self.opts.model_name}_export"
        return [path("export.<str:kind>", view, name=name), *super().get_urls()]

    def export_links(self) -> list[tuple[str, str]]:
        """The list's export controls: their labels and addresses (without the query)."""
        name = f"admin:{self.opts.app_label}_{self.opts.model_name}_export"
        return [
            ("Export CSV", reverse(name, args=[exports.CSV])),
            ("Export Excel", reverse(name, args=[exports.XLSX])),
        ]

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        links = self.export_links() if self.has_view_or_change_permission(request) else []
        return super().changelist_view(request, {"export_links": links, **(extra_context or {})})

    def export_view(self, request: HttpRequest, kind: str) -> HttpResponseBase:
        if kind not in exports.FORMATS:
            raise Http404(f"No export as {kind!r}: csv or xlsx.")
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        back = reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_changelist")
        try:
            changelist = self.get_changelist_instance(request)
        except IncorrectLookupParameters:
            return HttpResponseRedirect(f"{back}?{ERROR_FLAG}=1")
        if any(getattr(spec, "errors", None) for spec in changelist.filter_specs):
            # What the list shows next to the field; the export would ignore it.
            return HttpResponseRedirect(f"{back}?{request.GET.urlencode()}")
        rows = changelist.queryset.iterator(chunk_size=exports.ROWS_PER_QUERY)
        name = slugify(str(self.opts.verbose_name_plural))
        return exports.export_response(kind, name, self.export_columns, rows)
