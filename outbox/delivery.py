"""One attempt to send one stored email, and what to do when the mail server says no.

Kept apart from the Celery task so that the decision (sent, try again later,
give up) is a plain function: the task only turns "try again" into a Celery
retry.
"""

import enum
import logging
import smtplib
from datetime import timedelta

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.utils import timezone

from outbox.models import OutboxEmail

logger = logging.getLogger(__name__)


class Delivery(enum.StrEnum):
    SENT = "sent"
    SKIPPED = "skipped"  # not ready: already sent, failed, or gone
    RETRY = "retry"  # a temporary failure, recorded; try again later
    FAILED = "failed"  # a permanent failure, or the last retry; recorded


def is_transient(error: BaseException) -> bool:
    """Whether trying the same email again later may work.

    SMTP reply codes say so themselves: 4xx is "try again later", 5xx is "this
    will never work". A server that cannot be reached is transient too.
    """
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _message in error.recipients.values()]
        return bool(codes) and all(400 <= code < 500 for code in codes)
    if isinstance(error, smtplib.SMTPServerDisconnected | smtplib.SMTPConnectError):
        return True
    if isinstance(error, smtplib.SMTPResponseException):
        return 400 <= error.smtp_code < 500
    if isinstance(error, smtplib.SMTPException):
        # No STARTTLS or no AUTH offered: the configuration is wrong, and waiting
        # does not fix it. (Checked before OSError: SMTPException is one.)
        return False
    # Connection refused or reset, timed out, DNS lookup failed; or the task's
    # soft time limit hit while the server was slow to answer.
    return isinstance(error, OSError | SoftTimeLimitExceeded)


def error_text(error: BaseException) -> str:
    """The error as staff read it in the admin, e.g. "SMTPDataError: 421 Try again later"."""
    if isinstance(error, smtplib.SMTPResponseException):
        detail = f"{error.smtp_code} {_decoded(error.smtp_error)}"
    elif isinstance(error, smtplib.SMTPRecipientsRefused):
        detail = "; ".join(
            f"{address}: {code} {_decoded(message)}"
            for address, (code, message) in error.recipients.items()
        )
    else:
        detail = str(error) or repr(error)
    return f"{type(error).__name__}: {detail}"


def _decoded(message: bytes | str) -> str:
    return message.decode(errors="replace") if isinstance(message, bytes) else message


def email_deliver(*, email_id: int, retry_in: timedelta | None) -> Delivery:
    """Try once to send the email with this id, and record the outcome on its row.

    ``retry_in`` is how long until the next try after a temporary failure, or
    None when no try is left: then a temporary failure is final too.

    The row is locked while the mail goes out, so two runs for the same id
    (a redelivered task, the safety net, a staff resend) send it once: the
    second waits, then finds it no longer ready. The error is recorded in the
    same transaction, which commits normally: nothing here raises.
    """
    with transaction.atomic():
        email = OutboxEmail.objects.select_for_update().filter(pk=email_id).first()
        if email is None or email.status != OutboxEmail.Status.READY:
            return Delivery.SKIPPED

        email.attempts += 1
        try:
            _send(email)
        except Exception as error:  # every failure is recorded; is_transient sorts them
            return _record_failure(email, error, retry_in=retry_in)

        email.status = OutboxEmail.Status.SENT
        email.sent_at = timezone.now()
        email.retry_at = None
        email.save(update_fields=["status", "attempts", "sent_at", "retry_at"])
        return Delivery.SENT


def _send(email: OutboxEmail) -> None:
    message = EmailMultiAlternatives(
        subject=email.subject,
        body=email.body_text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[email.recipient],
    )
    message.attach_alternative(email.body_html, "text/html")
    message.send(using="default")


def _record_failure(
    email: OutboxEmail, error: Exception, *, retry_in: timedelta | None
) -> Delivery:
    email.last_error = error_text(error)
    if is_transient(error) and retry_in is not None:
        email.retry_at = timezone.now() + retry_in
        outcome = Delivery.RETRY
        logger.warning("Email %s not sent, will retry: %s", email.pk, email.last_error)
    else:
        email.status = OutboxEmail.Status.FAILED
        email.retry_at = None
        outcome = Delivery.FAILED
        logger.error("Email %s failed: %s", email.pk, email.last_error)
    email.save(update_fields=["status", "attempts", "last_error", "retry_at"])
    return outcome
