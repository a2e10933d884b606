import datetime as dt

from celery import shared_task
from django.db import transaction

from credit_lists.exporters import CreditExporter
from credit_lists.models import ExportBatch
from credit_lists.services import export_batches_stuck_fail, export_xlsx_record
from credit_lists.services import export_xlsx_build as build

# Large files take a while; the Redis visibility timeout is set above this limit.
XLSX_TIME_LIMIT = 1800


@shared_task(acks_late=True, time_limit=XLSX_TIME_LIMIT, soft_time_limit=XLSX_TIME_LIMIT - 60)
def export_xlsx_build(batch_id: int) -> int:
    return build(batch_id=batch_id).row_count


@shared_task
def fail_stuck_exports() -> int:
    # Twice the time limit: a build queued behind another one still has its chance.
    return export_batches_stuck_fail(older_than=dt.timedelta(seconds=2 * XLSX_TIME_LIMIT))


def export_xlsx_start(*, exporter: CreditExporter, requested_by, via: str) -> ExportBatch:
    """Record a batch being prepared and queue its building once the record is committed;
    the batch's page shows its progress."""
    with transaction.atomic():
        batch = export_xlsx_record(exporter=exporter, requested_by=requested_by, via=via)
        export_xlsx_build.delay_on_commit(batch.pk)
    return batch
