"""manage.py export_credits: a college's credit list for automation, the same file as the page."""

import shutil
import sys

from django.core.management.base import BaseCommand, CommandError

from articulations.models import College
from articulations.school_year import school_year_label
from credit_lists.exporters import CreditFilters
from credit_lists.models import ExportBatch
from credit_lists.services import (
    CollegeCreditExporter,
    export_csv_stream,
    export_xlsx_build,
    export_xlsx_record,
)


def parse_school_year(label: str) -> int:
    """2025-26 → 2025."""
    start = label.strip()[:4]
    if not start.isdigit() or school_year_label(int(start)) != label.strip():
        raise CommandError(f"--year must look like 2025-26, not {label!r}.")
    return int(start)


class Command(BaseCommand):
    help = "Export a college's earned credit as CSV or XLSX, recorded as an export batch."

    def add_arguments(self, parser):
        parser.add_argument("--college", required=True, help="The college's short code, e.g. BC.")
        parser.add_argument("--year", help="School year like 2025-26 (default: all years).")
        parser.add_argument(
            "--new-only", action="store_true", help="Only rows not exported before."
        )
        parser.add_argument("--format", choices=["csv", "xlsx"], default="csv")
        parser.add_argument(
            "--output", required=True, help="A file path, or - for standard output."
        )

    def handle(self, *args, college, year, new_only, format, output, **options):
        found = College.objects.filter(code__iexact=college).first()
        if found is None:
            raise CommandError(f"No college has the code {college}.")
        filters = CreditFilters(
            college_id=found.pk,
            school_year=parse_school_year(year) if year else None,
            new_only=new_only,
        )
        exporter = CollegeCreditExporter(filters)
        if format == "csv":
            batch = self._write_csv(exporter, output)
        else:
            batch = self._write_xlsx(exporter, output)
        self.stderr.write(
            f"Export batch {batch.pk}: {batch.row_count} rows, SHA-256 {batch.sha256}"
        )

    def _open(self, output):
        if output == "-":
            return sys.stdout.buffer, False
        return open(output, "wb"), True

    def _write_csv(self, exporter, output) -> ExportBatch:
        target, close = self._open(output)
        batches = []  # this run's own batch, whatever other runs record meanwhile
        try:
            for chunk in export_csv_stream(
                exporter=exporter, requested_by=None, via="command line", batches=batches
            ):
                target.write(chunk)
            target.flush()
        finally:
            if close:
                target.close()
        return batches[0]

    def _write_xlsx(self, exporter, output) -> ExportBatch:
        # The command builds the file itself rather than leaving it to a worker.
        batch = export_xlsx_record(exporter=exporter, requested_by=None, via="command line")
        batch = export_xlsx_build(batch_id=batch.pk)
        target, close = self._open(output)
        try:
            with batch.file.open("rb") as source:
                shutil.copyfileobj(source, target)
            target.flush()
        finally:
            if close:
                target.close()
        return batch
