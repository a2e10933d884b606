import datetime as dt

from celery import shared_task

from registration.services.exports import export_batches_stuck_fail
from registration.services.exports import export_xlsx_build as build

# Large files take a while; the Redis visibility timeout is set above this limit.
XLSX_TIME_LIMIT = 1800


@shared_task(acks_late=True, time_limit=XLSX_TIME_LIMIT, soft_time_limit=XLSX_TIME_LIMIT - 60)
def export_xlsx_build(batch_id: int) -> int:
    return build(batch_id=batch_id).row_count


@shared_task
def fail_stuck_exports() -> int:
    # Twice the time limit: a build queued behind another one still has its chance.
    return export_batches_stuck_fail(older_than=dt.timedelta(seconds=2 * XLSX_TIME_LIMIT))
