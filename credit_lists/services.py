"""Export batches: each download of a credit list is recorded once it is whole.

A batch records who, when, the filters, the row count and the SHA-256 of the
file, and marks its rows exported so that "not yet exported" gives only new
rows next time. A download cut off midway records nothing: the batch is
written after the last row has been handed to the server.
"""

import contextlib
import datetime as dt
import logging
import os
import tempfile
from collections.abc import Iterator

from django.conf import settings
from django.core.files import File
from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone

from credit_lists.exporters import (
    CollegeCreditExporter,
    CreditExporter,
    CreditFilters,
    CsvWriter,
    StaffCreditExporter,
    csv_chunks,
    sha256_of_file,
    write_xlsx,
)
from credit_lists.models import ExportBatch

logger = logging.getLogger(__name__)

EXPORTERS = {
    exporter.identifier: exporter for exporter in (CollegeCreditExporter, StaffCreditExporter)
}


def exporter_for(identifier: str, filters: CreditFilters) -> CreditExporter:
    return EXPORTERS[identifier](filters)


def _snapshot(exporter: CreditExporter) -> tuple:
    """The rows as of now: credits earned while the file is written wait for the next batch."""
    last_id = exporter.queryset().aggregate(last=Max("pk"))["last"] or 0
    return exporter.queryset().filter(pk__lte=last_id), last_id


# The first key of the PostgreSQL advisory lock that new-only exports take (the second is
# the college): any number no other lock in the project uses.
NEW_ONLY_LOCK = 7301


@contextlib.contextmanager
def _new_rows_one_export_at_a_time(filters: CreditFilters):
    """Let one "not yet exported" export of a college run at a time; others wait their turn.

    Two at once (a double click, the page and the command line) would both list the
    same new rows. Waiting, the second lists only what the first did not mark. A
    session lock, so a process that dies mid-download releases it with its connection.
    """
    if not filters.new_only or connection.vendor != "postgresql":
        yield
        return
    key = (NEW_ONLY_LOCK, filters.college_id or 0)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s, %s)", key)
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s, %s)", key)


def _temp_path(suffix: str) -> str:
    folder = os.path.join(settings.MEDIA_ROOT, "exports", "tmp")
    os.makedirs(folder, exist_ok=True)
    handle, path = tempfile.mkstemp(suffix=suffix, dir=folder)
    os.close(handle)
    return path


def export_csv_stream(
    *, exporter: CreditExporter, requested_by, via: str, batches: list | None = None
) -> Iterator[bytes]:
    """The CSV, chunk by chunk; the batch is recorded after the last chunk is taken.

    A caller that needs the batch (the command line) passes a list to receive it.
    """
    with _new_rows_one_export_at_a_time(exporter.filters):
        yield from _csv_stream(exporter, requested_by, via, batches)


def _csv_stream(exporter, requested_by, via, batches) -> Iterator[bytes]:
    credits, last_id = _snapshot(exporter)
    writer = CsvWriter()
    path = _temp_path(".csv")
    finished = False
    try:
        with open(path, "wb") as copy:
            for chunk in csv_chunks(exporter, writer, credits):
                copy.write(chunk)
                yield chunk
        # Reached only when the consumer asked for more after the last chunk: the whole file went out.
        batch = _complete(
            ExportBatch(
                college_id=exporter.filters.college_id,
                requested_by=requested_by,
                via=via,
                format=ExportBatch.Format.CSV,
                filters=exporter.filters.as_dict(),
                exporter=exporter.identifier,
                last_credit_id=last_id,
                rows_total=writer.row_count,
                rows_done=writer.row_count,
            ),
            exporter=exporter,
            credits=credits,
            path=path,
            row_count=writer.row_count,
            sha256=writer.digest.hexdigest(),
        )
        if batches is not None:
            batches.append(batch)
        finished = True
    finally:
        if not finished:
            with contextlib.suppress(FileNotFoundError):
                os.remove(path)


def _complete(
    batch: ExportBatch, *, exporter: CreditExporter, credits, path: str, row_count: int, sha256: str
) -> ExportBatch:
    with transaction.atomic():
        batch.status = ExportBatch.Status.COMPLETE
        batch.row_count = batch.rows_done = row_count
        batch.rows_total = max(batch.rows_total, row_count)
        batch.sha256 = sha256
        batch.completed_at = timezone.now()
        batch.save()
        with open(path, "rb") as handle:
            batch.file.save(f"credits-{batch.pk}.{batch.format}", File(handle), save=True)
        if exporter.marks_exported:
            credits.filter(exported_batch__isnull=True).update(exported_batch=batch)
    with contextlib.suppress(FileNotFoundError):
        os.remove(path)
    return batch


def export_xlsx_record(*, exporter: CreditExporter, requested_by, via: str) -> ExportBatch:
    """Record a batch being prepared: the rows it will hold are those there now.

    The web queues its building on a worker (``credit_lists.tasks.export_xlsx_start``); the
    command line builds it itself, as a worker building it too would race it for the rows.
    """
    credits, last_id = _snapshot(exporter)
    return ExportBatch.objects.create(
        college_id=exporter.filters.college_id,
        requested_by=requested_by,
        via=via,
        format=ExportBatch.Format.XLSX,
        filters=exporter.filters.as_dict(),
        exporter=exporter.identifier,
        last_credit_id=last_id,
        rows_total=credits.count(),
    )


def export_xlsx_build(*, batch_id: int) -> ExportBatch:
    """Write the batch's XLSX file, reporting progress; mark its rows once the file is whole."""
    batch = ExportBatch.objects.get(pk=batch_id)
    if batch.status != ExportBatch.Status.BUILDING:
        return batch  # built already (a task run twice)
    exporter = exporter_for(batch.exporter, CreditFilters.from_dict(batch.filters))
    credits = exporter.queryset().filter(pk__lte=batch.last_credit_id)
    path = _temp_path(".xlsx")

    def progress(done: int) -> None:
        ExportBatch.objects.filter(pk=batch.pk).update(rows_done=done)

    try:
        with _new_rows_one_export_at_a_time(exporter.filters):
            batch.refresh_from_db()
            if batch.status != ExportBatch.Status.BUILDING:
                os.remove(path)
                return batch  # a second run of the task waited here while the first built it
            row_count = write_xlsx(exporter, path, credits, progress=progress)
            return _complete(
                batch,
                exporter=exporter,
                credits=credits,
                path=path,
                row_count=row_count,
                sha256=sha256_of_file(path),
            )
    except Exception as error:
        ExportBatch.objects.filter(pk=batch.pk).update(
            status=ExportBatch.Status.FAILED, error=repr(error)[:2000]
        )
        with contextlib.suppress(FileNotFoundError):
            os.remove(path)
        raise


def export_batches_stuck_fail(*, older_than: dt.timedelta) -> int:
    """Mark failed the files still "being prepared" long after any build could have ended.

    A task lost with its worker, or killed at its time limit, never says so; without
    this the registrar's page would wait for the file forever. Failed batches mark
    no rows, and the page offers to try again. How many were marked.
    """
    return ExportBatch.objects.filter(
        status=ExportBatch.Status.BUILDING, created_at__lt=timezone.now() - older_than
    ).update(
        status=ExportBatch.Status.FAILED,
        error="Still being prepared after the build's time limit: the build was lost.",
    )
