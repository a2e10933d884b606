"""The HTTP responses that hand out credit lists: a CSV as it is written, a batch's file again.

The registrar's pages and the admin serve the same files the same way; only who may
ask differs, and that each caller checks first.
"""

from django.http import FileResponse, Http404, StreamingHttpResponse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers

from articulations.school_year import local_today
from credit_lists.exporters import CreditExporter
from credit_lists.models import ExportBatch
from credit_lists.selectors import export_file_name
from credit_lists.services import export_csv_stream

CONTENT_TYPES = {
    ExportBatch.Format.CSV: "text/csv; charset=utf-8",
    ExportBatch.Format.XLSX: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def csv_download(*, exporter: CreditExporter, user, via: str, college_code: str):
    """The CSV streamed as it is written; its batch is recorded once the last row went out."""
    response = StreamingHttpResponse(
        export_csv_stream(exporter=exporter, requested_by=user, via=via),
        content_type=CONTENT_TYPES[ExportBatch.Format.CSV],
    )
    name = export_file_name(college_code=college_code, day=local_today(), file_format="csv")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    # A proxy (nginx) must pass the rows on as they come, not hold the whole file first.
    response["X-Accel-Buffering"] = "no"
    add_never_cache_headers(response)
    return response


def batch_file_download(batch: ExportBatch, *, college_code: str):
    """The batch's file again, byte for byte: its SHA-256 is the one recorded."""
    if batch.status != ExportBatch.Status.COMPLETE or not batch.file:
        raise Http404("This file is not ready.")
    response = FileResponse(
        batch.file.open("rb"),
        as_attachment=True,
        filename=export_file_name(
            college_code=college_code,
            day=timezone.localdate(batch.created_at),
            file_format=batch.format,
        ),
        content_type=CONTENT_TYPES[batch.format],
    )
    add_never_cache_headers(response)
    return response
