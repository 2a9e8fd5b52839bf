"""Base classes of the admin screens shared by the apps."""

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import models, transaction
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.utils.html import format_html
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import SafeString

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
