"""CSV upload of market data in the admin (prices, FX rates): the file goes through the
same importer and service as the commands (`portfolio.imports`), as the logged-in user.
Every bad line is shown on the page and nothing is written, or every row is written and
the counts said. Offered to those who may add and change the rows (ops)."""

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from core.csv_import import CsvFileError, CsvImport, bad_lines, decoded, outlier_hint
from core.errors import RowErrors

UPLOAD_MAX_BYTES = 5 * 1024 * 1024  # a year of closes of 200 instruments is about 1.5 MB
SHOWN_LINES = 500  # bad lines a page lists: a file of 100,000 bad ones says how many


class CsvUploadForm(forms.Form):
    file_name = "the file"
    file = forms.FileField(
        label="CSV file",
        help_text=(
            f"UTF-8 text (Excel: 'CSV UTF-8'), at most {UPLOAD_MAX_BYTES // 1024 // 1024} MB."
        ),
    )
    confirm_outliers = forms.BooleanField(
        required=False,
        label="Confirm outliers",
        help_text=(
            "Accept values further than PMS_PRICE_BAND from the previous one: upload "
            "without it first, and check the lines it names."
        ),
    )

    def clean_file(self) -> str:
        """The file's text (a ValidationError: too big, or not UTF-8)."""
        upload = self.cleaned_data["file"]
        if upload.size > UPLOAD_MAX_BYTES:
            raise forms.ValidationError(
                f"{upload.name}: {upload.size:,} bytes; at most {UPLOAD_MAX_BYTES:,} bytes: "
                "split the file."
            )
        self.file_name = upload.name
        try:
            return decoded(upload.read(), upload.name)
        except CsvFileError as error:
            raise forms.ValidationError(str(error)) from None


class CsvUploadMixin(admin.ModelAdmin):
    """An "Upload CSV" control on the changelist of a ModelAdmin, and its page: the file
    checked whole and written through `csv_import`, as the logged-in user. Listed before
    the admin's own base: `class PriceAdmin(CsvUploadMixin, MarketDataAdmin)`."""

    csv_import: CsvImport
    change_list_template = "admin/portfolio/upload_change_list.html"

    def has_upload_permission(self, request: HttpRequest) -> bool:
        """An upload adds rows and changes stored ones (an upsert): both rights."""
        return bool(self.has_add_permission(request) and self.has_change_permission(request))

    def get_urls(self) -> list[Any]:
        upload = self.admin_site.admin_view(self.upload_view)
        name = f"{self.opts.app_label}_{self.opts.model_name}_upload"
        return [path("upload/", upload, name=name), *super().get_urls()]

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        extra = dict(extra_context or {})
        if self.has_upload_permission(request):
            extra["upload_url"] = reverse(
                f"admin:{self.opts.app_label}_{self.opts.model_name}_upload"
            )
        return super().changelist_view(request, extra_context=extra)

    def upload_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_upload_permission(request):
            raise PermissionDenied
        posted = request.method == "POST"
        form = CsvUploadForm(request.POST if posted else None, request.FILES if posted else None)
        problems: list[str] = []
        hint = ""
        if posted and form.is_valid():
            try:
                created, updated = self._imported(request, form)
            except CsvFileError as error:
                form.add_error("file", str(error))
            except RowErrors as errors:
                problems = bad_lines(errors)
                hint = outlier_hint(errors, "the box 'Confirm outliers'")
            else:
                messages.success(
                    request,
                    f"{self.csv_import.label} imported: {created} created, {updated} updated.",
                )
                changelist = f"admin:{self.opts.app_label}_{self.opts.model_name}_changelist"
                return HttpResponseRedirect(reverse(changelist))
        return TemplateResponse(
            request,
            "admin/portfolio/csv_upload.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.opts,
                "title": f"Upload CSV: {self.csv_import.label}",
                "form": form,
                "columns": self.csv_import.columns(),
                "bad_count": len(problems),
                "bad_lines": problems[:SHOWN_LINES],
                "more_lines": max(len(problems) - SHOWN_LINES, 0),
                "hint": hint,
            },
        )

    def _imported(self, request: HttpRequest, form: CsvUploadForm) -> tuple[int, int]:
        """(created, updated) of the uploaded file, written as the logged-in user."""
        found = self.csv_import.rows(form.cleaned_data["file"], form.file_name)
        result: tuple[int, int] = self.csv_import.run(
            found,
            actor=request.user.get_username(),
            confirm=form.cleaned_data["confirm_outliers"],
        )
        return result
