"""Celery tasks that send the outbox. They take ids and are safe to run twice."""

from datetime import timedelta

from celery import shared_task
from django.db.models import Q
from django.utils import timezone

from outbox.delivery import Delivery, email_deliver
from outbox.models import OutboxEmail

# A temporary failure is tried again after 1, 2, 4, 8, 16 and 32 minutes: about
# an hour in all, long enough for a mail server restart or a greylisting delay.
MAX_RETRIES = 6
FIRST_RETRY_SECONDS = 60

# An email still ready this long after it was queued (or after its retry was due)
# lost its task somewhere: the broker was down at commit, or a message was dropped.
STUCK_AFTER = timedelta(minutes=10)


@shared_task(bind=True, acks_late=True, max_retries=MAX_RETRIES)
def send_outbox_email(self, email_id: int) -> str:
    retries = self.request.retries
    retry_in = (
        timedelta(seconds=FIRST_RETRY_SECONDS * 2**retries) if retries < MAX_RETRIES else None
    )
    outcome = email_deliver(email_id=email_id, retry_in=retry_in)
    if outcome is Delivery.RETRY:
        # The failure is already committed on the row; Retry only tells Celery
        # to run this task again later.
        raise self.retry(countdown=retry_in.total_seconds())
    return outcome.value


@shared_task(acks_late=True)
def send_ready_emails() -> int:
    """Queue every email stuck in ready. Meant for Celery beat, every few minutes."""
    cutoff = timezone.now() - STUCK_AFTER
    stuck = OutboxEmail.objects.filter(
        Q(retry_at__isnull=True) | Q(retry_at__lte=cutoff),
        status=OutboxEmail.Status.READY,
        created_at__lte=cutoff,
    ).values_list("pk", flat=True)
    ids = list(stuck)
    for email_id in ids:
        send_outbox_email.delay(email_id)
    return len(ids)
