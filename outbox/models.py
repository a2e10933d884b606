"""The outbox: one row per email SERS sends, so staff can see what went out and what failed.

An email is rendered and stored when it is queued, inside the transaction of
the change it reports, and sent afterwards by a Celery task that needs only the
row's id. The row is the record: its status says whether the email was sent,
and when it was not, why.
"""

from django.db import models


class OutboxEmail(models.Model):
    class Status(models.TextChoices):
        READY = "ready", "Ready to send"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    kind = models.SlugField(max_length=50, help_text="What the email is for, e.g. account_created.")
    recipient = models.EmailField()
    subject = models.CharField(max_length=255)
    body_text = models.TextField()
    body_html = models.TextField()
    status = models.CharField(max_length=10, choices=Status, default=Status.READY)
    attempts = models.PositiveIntegerField(default=0, help_text="Times SERS tried to send it.")
    last_error = models.TextField(blank=True, help_text="What the mail server said last time.")
    unique_key = models.CharField(
        max_length=255,
        unique=True,
        help_text="Identifies the message, e.g. registration_created:1234; "
        "the same key is never queued twice.",
    )
    # The consortium whose student the email concerns (its id: the outbox sits below the
    # catalog), so that consortium staff see their own students' emails in the admin.
    consortium_id = models.PositiveIntegerField(null=True, blank=True, db_index=True)
    # Text, not a short field: one email can be about several students.
    about = models.TextField(
        blank=True,
        help_text="Whom or what the email is about, for searching, e.g. student TP3-07-4412.",
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    # When a retry after a temporary failure is due. The safety net that requeues
    # stuck emails leaves an email alone until then, so it never defeats the backoff.
    retry_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "email"
        indexes = [
            # The admin filters by status and kind, newest first; the safety net
            # looks for old emails that are still ready.
            models.Index(fields=["status", "created_at"], name="outbox_status_created"),
            models.Index(fields=["kind", "created_at"], name="outbox_kind_created"),
        ]

    def __str__(self):
        return f"{self.subject} → {self.recipient}"
