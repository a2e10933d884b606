"""Registrars' pages: their college's credit list and its exports."""

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from credit_lists.downloads import batch_file_download, csv_download
from credit_lists.exporters import CollegeCreditExporter
from credit_lists.forms import CreditFilterForm
from credit_lists.models import ExportBatch
from credit_lists.selectors import (
    batch_lines,
    credit_counts,
    credit_list_rows,
    registrar_batch,
    registrar_batches,
    registrar_filter_choices,
    registrar_for_user,
)
from credit_lists.tasks import export_xlsx_start

# --- College registrars: the college's credit list and its downloads ------------------------

CREDITS_PER_PAGE = 50


def _registrar_page(request, registrar, data, *, status: int = 200):
    """The credit list: counts, a page of rows and the latest batches; a bad filter shows none.

    A fixed number of queries however many rows: the filter lists, the counts, one
    page of rows with their students and schools, and the latest batches.
    """
    college_id = registrar.college_id
    form = CreditFilterForm(data, choices=registrar_filter_choices(college_id))
    counts = page = page_numbers = None
    if not form.is_bound or form.is_valid():
        credits = CollegeCreditExporter(form.credit_filters(college_id)).queryset()
        counts = credit_counts(credits)
        page = Paginator(credit_list_rows(credits), CREDITS_PER_PAGE).get_page(
            request.GET.get("page")
        )
        page_numbers = page.paginator.get_elided_page_range(page.number, on_each_side=1, on_ends=1)
    return render(
        request,
        "credit_lists/registrar.html",
        {
            "registrar": registrar,
            "form": form,
            "counts": counts,
            "page": page,
            "page_numbers": page_numbers,
            "download_fields": form.download_fields(),
            "batches": registrar_batches(college_id),
        },
        status=status,
    )


@login_required
@require_GET
def registrar_credits(request):
    registrar = registrar_for_user(request.user)
    # Only ?page=… is no filter at all: the form stays unbound, every row shows.
    filters = request.GET.copy()
    filters.pop("page", None)
    return _registrar_page(request, registrar, filters or None)


def _filters_posted(request, registrar):
    """The filters a download form posted, for the registrar's college; or the page with errors."""
    form = CreditFilterForm(request.POST)
    if not form.is_valid():
        return None, _registrar_page(request, registrar, request.POST, status=400)
    return form.credit_filters(registrar.college_id), None


@login_required
@require_POST
def registrar_csv(request):
    """The CSV of the current filters, streamed; the batch is recorded once the last row went out."""
    registrar = registrar_for_user(request.user)
    filters, error_page = _filters_posted(request, registrar)
    if error_page:
        return error_page
    return csv_download(
        exporter=CollegeCreditExporter(filters),
        user=request.user,
        via="web",
        college_code=registrar.college.code,
    )


@login_required
@require_POST
def registrar_xlsx(request):
    """Queue the Excel file of the current filters; its page shows the progress."""
    registrar = registrar_for_user(request.user)
    filters, error_page = _filters_posted(request, registrar)
    if error_page:
        return error_page
    batch = export_xlsx_start(
        exporter=CollegeCreditExporter(filters), requested_by=request.user, via="web"
    )
    return redirect("credit_lists:registrar_batch", batch_id=batch.pk)


@login_required
@require_GET
def registrar_batch_page(request, batch_id: int):
    registrar = registrar_for_user(request.user)
    batch = registrar_batch(registrar, batch_id)
    (line,) = batch_lines([batch])
    return render(
        request,
        "credit_lists/registrar_batch.html",
        {
            "registrar": registrar,
            "line": line,
            "batch": batch,
            "building": batch.status == ExportBatch.Status.BUILDING,
        },
    )


@login_required
@require_GET
def registrar_batch_download(request, batch_id: int):
    """The batch's file again, byte for byte: its SHA-256 is the one on the page."""
    registrar = registrar_for_user(request.user)
    batch = registrar_batch(registrar, batch_id)
    return batch_file_download(batch, college_code=registrar.college.code)
