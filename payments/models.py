"""The fee ledger: who owes what for which school year, and every dollar received.

Charges are not rows: they follow from the student's registrations and the
year's terms (``payments.selectors.year_account``). Payments and waivers are
rows, each on the ``StudentYear`` account that services lock while they write.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from simple_history.models import HistoricalRecords

from articulations.models import Consortium, SchoolYear
from students.models import Student


class StudentYear(models.Model):
    """One student's fee account with one consortium for one school year."""

    student = models.ForeignKey(Student, on_delete=models.PROTECT, related_name="fee_years")
    consortium = models.ForeignKey(Consortium, on_delete=models.PROTECT, related_name="+")
    school_year = models.ForeignKey(SchoolYear, on_delete=models.PROTECT, related_name="+")
    needs_attention = models.BooleanField(
        default=False, help_text="Staff should look: an overpayment, or a card payment that failed."
    )
    attention_note = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    history = HistoricalRecords()

    class Meta:
        verbose_name = "student fee year"
        constraints = [
            models.UniqueConstraint(
                fields=["student", "consortium", "school_year"],
                name="one_fee_account_per_student_year",
            )
        ]

    def __str__(self):
        return f"{self.student.sers_id} {self.school_year}"


class Payment(models.Model):
    class Method(models.TextChoices):
        CARD = "card", "Card"
        CHECK = "check", "Check"
        MONEY_ORDER = "money_order", "Money order"

    student_year = models.ForeignKey(StudentYear, on_delete=models.PROTECT, related_name="payments")
    method = models.CharField(max_length=12, choices=Method.choices)
    amount = models.DecimalField(max_digits=7, decimal_places=2)
    payer = models.CharField(
        max_length=200, blank=True, help_text="Name on the check or money order."
    )
    reference = models.CharField(
        max_length=100,
        blank=True,
        help_text="Check or money-order number; for cards, Stripe's payment id.",
    )
    received_on = models.DateField()
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    stripe_checkout_session_id = models.CharField(
        max_length=255, null=True, blank=True, unique=True
    )
    stripe_payment_intent_id = models.CharField(max_length=255, null=True, blank=True, unique=True)
    # More than the year still owed when this arrived (any payment to a settled year):
    # kept, shown, and flagged for staff.
    is_overpayment = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["-received_on", "-pk"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="payment_amount_positive"),
            # The same check entered twice for one student-year is one check.
            models.UniqueConstraint(
                fields=["student_year", "method", "reference"],
                condition=Q(method__in=["check", "money_order"]),
                name="one_entry_per_check_number",
            ),
            models.CheckConstraint(
                condition=~Q(method="card") | Q(stripe_checkout_session_id__isnull=False),
                name="card_payment_has_its_checkout_session",
            ),
            models.CheckConstraint(
                condition=Q(method="card") | ~Q(reference=""),
                name="check_payment_has_its_number",
            ),
        ]

    def __str__(self):
        return f"{self.get_method_display()} ${self.amount} ({self.student_year})"

    @property
    def receipt_number(self) -> str:
        return f"R-{self.pk:07d}"


class Waiver(models.Model):
    class Reason(models.TextChoices):
        FREE_REDUCED_LUNCH = "free_reduced_lunch", "Free or reduced-price lunch"
        HARDSHIP = "hardship", "Financial hardship"

    class Status(models.TextChoices):
        REQUESTED = "requested", "Waiting for a decision"
        GRANTED = "granted", "Granted"
        DENIED = "denied", "Denied"

    student_year = models.ForeignKey(StudentYear, on_delete=models.PROTECT, related_name="waivers")
    reason = models.CharField(max_length=20, choices=Reason.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.REQUESTED)
    note = models.TextField(blank=True, help_text="The student's words, for a hardship request.")
    decision_note = models.CharField(max_length=300, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["student_year", "reason"],
                condition=Q(status__in=["requested", "granted"]),
                name="one_open_waiver_per_reason",
            )
        ]

    def __str__(self):
        return f"{self.get_reason_display()} waiver ({self.student_year})"


class CheckoutSession(models.Model):
    """A Stripe Checkout Session we opened for a student-year, and what Stripe last told us of it.

    Open: the card page can still be paid. Processing: paid by bank transfer that has not
    settled yet, so the year offers no second payment. Complete: paid, recorded as a Payment.
    Expired or failed: nothing was charged, and the year is payable again.
    """

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        PROCESSING = "processing", "Payment processing"
        COMPLETE = "complete", "Complete"
        EXPIRED = "expired", "Expired"
        FAILED = "failed", "Payment failed"

    LIVE_STATUSES = (Status.OPEN, Status.PROCESSING)

    student_year = models.ForeignKey(
        StudentYear, on_delete=models.PROTECT, related_name="checkout_sessions"
    )
    stripe_session_id = models.CharField(max_length=255, unique=True)
    url = models.URLField(max_length=1000)
    amount = models.DecimalField(max_digits=7, decimal_places=2)
    attempt = models.PositiveIntegerField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    created_at = models.DateTimeField(auto_now_add=True)
    # When Stripe stops taking payment on the page (we ask for it at creation).
    expires_at = models.DateTimeField(null=True, blank=True)
    # When we first learned that a bank payment started on this page is on its way.
    processing_since = models.DateTimeField(null=True, blank=True)
    # When SERS last asked Stripe about it (the beat job that catches lost webhooks).
    checked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["student_year", "attempt"], name="checkout_attempt_unique"
            ),
            # One live session per student-year: a second click reuses the open one, and a
            # year whose bank payment is processing gets no second page.
            models.UniqueConstraint(
                fields=["student_year"],
                condition=Q(status__in=["open", "processing"]),
                name="one_live_checkout_per_student_year",
            ),
        ]

    def __str__(self):
        return self.stripe_session_id


class StripeEvent(models.Model):
    """Every Stripe event we acted on, once: its id is unique, so a replay changes nothing."""

    event_id = models.CharField(max_length=255, unique=True)
    type = models.CharField(max_length=100)
    stripe_session_id = models.CharField(max_length=255, blank=True)
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-received_at"]

    def __str__(self):
        return f"{self.type} {self.event_id}"


class StripeWebhookFailure(models.Model):
    """A webhook we could not process; Stripe retries it, staff see it until then."""

    event_id = models.CharField(max_length=255)
    type = models.CharField(max_length=100)
    error = models.TextField()
    failed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-failed_at"]

    def __str__(self):
        return f"{self.type} {self.event_id}"
