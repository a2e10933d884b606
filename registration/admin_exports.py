"""Credit exports in the admin: an action on the credit list, and the export batches.

Staff export chosen credits with the same exporter and the same streamed CSV as the
registrar page (``registration.exports.StaffCreditExporter`` through
``export_csv_stream``), so each download is an export batch too. Batches are a
record: staff read them and download their files again, nobody edits them.

Imported at the bottom of ``registration/admin.py``, which defines ``CreditAdmin``.
"""

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.html import format_html

from registration.admin import CreditAdmin
from registration.downloads import batch_file_download, csv_download
from registration.exports import CreditFilters, StaffCreditExporter
from registration.models import ExportBatch
from registration.selectors import batch_lines


@admin.action(description="Export selected credits as CSV", permissions=["view"])
def export_selected_credits_csv(modeladmin, request, queryset):
    """The chosen rows as the registrar's CSV, streamed, recorded as a batch once it is whole.

    With "select all N" the queryset is every row the list's filters and search
    match, across pages: its ids are the batch's filter, kept on the batch.
    """
    credit_ids = tuple(queryset.order_by("pk").values_list("pk", flat=True))
    exporter = StaffCreditExporter(CreditFilters(credit_ids=credit_ids))
    return csv_download(exporter=exporter, user=request.user, via="admin", college_code="selected")


# CreditAdmin lives in admin.py; its one action is added here, next to the export code.
CreditAdmin.actions = [*(CreditAdmin.actions or ()), export_selected_credits_csv]


@admin.register(ExportBatch)
class ExportBatchAdmin(admin.ModelAdmin):
    """Every download of a credit list: who, when, filters, rows and the file's SHA-256."""

    list_display = [
        "created_at",
        "college",
        "requested_by",
        "via",
        "format",
        "row_count",
        "status",
        "sha256",
        "download",
    ]
    list_filter = ["status", "format", "via", ("college", admin.RelatedOnlyFieldListFilter)]
    list_select_related = ["college", "requested_by"]
    search_fields = ["sha256", "requested_by__username", "college__code", "college__name"]
    search_help_text = "SHA-256, username or college code."
    date_hierarchy = "created_at"
    fields = [
        "created_at",
        "completed_at",
        "college",
        "requested_by",
        "via",
        "format",
        "exporter",
        "filters_words",
        "status",
        "row_count",
        "sha256",
        "download",
        "last_credit_id",
        "error",
    ]
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        # A batch is the record that its rows went to the college.
        return False

    @admin.display(description="filters")
    def filters_words(self, batch):
        (line,) = batch_lines([batch])
        return line.filters_words

    @admin.display(description="file")
    def download(self, batch):
        if batch.status != ExportBatch.Status.COMPLETE or not batch.file:
            return "-"
        return format_html(
            '<a href="{}">Download</a>',
            reverse("admin:registration_exportbatch_download", args=[batch.pk]),
        )

    def get_urls(self):
        return [
            path(
                "<int:batch_id>/download/",
                self.admin_site.admin_view(self.download_view),
                name="registration_exportbatch_download",
            ),
            *super().get_urls(),
        ]

    def download_view(self, request, batch_id: int):
        """The batch's file again, byte for byte, to staff who may see batches."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        batch = get_object_or_404(ExportBatch.objects.select_related("college"), pk=batch_id)
        college_code = batch.college.code if batch.college else "selected"
        return batch_file_download(batch, college_code=college_code)
