"""Registrations of classes and prior-year requests."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from simple_history.models import HistoricalRecords

from articulations.grades import LetterGrade
from articulations.models import Articulation, Class, SchoolYear
from students.models import Student


class Registration(models.Model):
    """A student's registration of one class of one school year, for one college's credit."""

    class Status(models.TextChoices):
        REGISTERED = "registered", "Registered"
        WITHDRAWN = "withdrawn", "Withdrawn"
        DELETED = "deleted", "Deleted by staff"

    class Enrollment(models.TextChoices):
        UNCONFIRMED = "unconfirmed", "Not confirmed yet"
        CONFIRMED = "confirmed", "Enrolled"
        REJECTED = "rejected", "Not in the class"

    student = models.ForeignKey(Student, on_delete=models.PROTECT, related_name="registrations")
    course_class = models.ForeignKey(
        Class, on_delete=models.PROTECT, related_name="registrations", verbose_name="class"
    )
    # The college course the student chose: one college per class, never two.
    articulation = models.ForeignKey(
        Articulation, on_delete=models.PROTECT, related_name="registrations"
    )
    # The class's school year, kept here so the database can hold "one per year".
    school_year = models.ForeignKey(
        SchoolYear, on_delete=models.PROTECT, related_name="registrations"
    )
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.REGISTERED)
    # Approved prior-year credit: the year owes the late fee unless staff waived it.
    is_late = models.BooleanField("prior year (late)", default=False)
    late_fee_waived = models.BooleanField(
        default=False,
        help_text="Staff waived the late fee, e.g. a multi-term class over two years.",
    )
    # The teacher's word on the roster: was the student in the class?
    enrollment = models.CharField(
        max_length=12, choices=Enrollment.choices, default=Enrollment.UNCONFIRMED
    )
    enrollment_decided_at = models.DateTimeField(null=True, blank=True)
    grade = models.CharField(max_length=2, choices=LetterGrade.choices, blank=True)
    grade_posted_at = models.DateTimeField(null=True, blank=True)
    registered_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="Who made the last change.",
    )
    status_reason = models.CharField(
        max_length=300, blank=True, help_text="Why it was withdrawn or deleted."
    )

    history = HistoricalRecords()

    class Meta:
        ordering = ["-school_year", "registered_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["student", "course_class", "school_year"],
                name="one_registration_per_student_class_year",
            ),
            models.CheckConstraint(
                condition=Q(late_fee_waived=False) | Q(is_late=True),
                name="only_late_registrations_waive_the_late_fee",
            ),
        ]
        indexes = [models.Index(fields=["school_year", "status"])]

    def __str__(self):
        return f"{self.student.sers_id} {self.course_class.course_name} {self.school_year}"

    @property
    def college(self):
        return self.articulation.college

    @property
    def is_active(self) -> bool:
        return self.status == self.Status.REGISTERED

    @property
    def grade_is_posted(self) -> bool:
        return bool(self.grade)

    @property
    def can_be_withdrawn(self) -> bool:
        """The withdraw rule, its one home: a student may withdraw until a grade is posted."""
        return self.is_active and not self.grade_is_posted


class PriorYearRequest(models.Model):
    """A student's request for credit for a class of an earlier school year."""

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for a decision"
        APPROVED = "approved", "Approved"
        DENIED = "denied", "Denied"

    student = models.ForeignKey(
        Student, on_delete=models.PROTECT, related_name="prior_year_requests"
    )
    course_class = models.ForeignKey(
        Class, on_delete=models.PROTECT, related_name="prior_year_requests", verbose_name="class"
    )
    articulation = models.ForeignKey(Articulation, on_delete=models.PROTECT, related_name="+")
    note = models.TextField(help_text="The student's words: why they did not register that year.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    waive_late_fee = models.BooleanField(default=False)
    decision_note = models.CharField(max_length=300, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    registration = models.OneToOneField(
        Registration,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="prior_year_request",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    history = HistoricalRecords()

    class Meta:
        verbose_name = "prior-year request"
        ordering = ["created_at"]
        constraints = [
            # Asking twice for the same class while one is open or approved is the same request.
            models.UniqueConstraint(
                fields=["student", "course_class"],
                condition=Q(status__in=["pending", "approved"]),
                name="one_open_prior_year_request_per_class",
            ),
            models.CheckConstraint(
                condition=Q(status="approved", registration__isnull=False) | ~Q(status="approved"),
                name="approved_request_has_its_registration",
            ),
        ]

    def __str__(self):
        return f"{self.student.sers_id} {self.course_class}"
