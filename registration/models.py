"""Students and their SERS IDs, their registrations and prior-year requests."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from simple_history.models import HistoricalRecords

from articulations.grades import LetterGrade
from articulations.models import Articulation, Class, School, SchoolYear
from registration.sers_id import SERS_ID_PATTERN

GRADES = [9, 10, 11, 12]


def grade_in(expected_graduation_year: int, school_year_start: int) -> int:
    """The grade a student is in during a school year: seniors graduate the June it ends."""
    return 12 - (expected_graduation_year - (school_year_start + 1))


def graduation_year_for(grade: int, school_year_start: int) -> int:
    return school_year_start + 1 + (12 - grade)


class Student(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="student"
    )
    sers_id = models.CharField("SERS ID", max_length=11, unique=True, editable=False)
    legal_first_name = models.CharField(max_length=100)
    legal_middle_name = models.CharField(max_length=100, blank=True)
    legal_last_name = models.CharField(max_length=100)
    date_of_birth = models.DateField()
    # The grade changes every year; the class a student graduates with does not.
    expected_graduation_year = models.PositiveSmallIntegerField()
    school = models.ForeignKey(School, on_delete=models.PROTECT, related_name="students")
    street = models.CharField("street address", max_length=200)
    city = models.CharField(max_length=100)
    state = models.CharField(max_length=2, default="WA")
    zip_code = models.CharField("ZIP code", max_length=10)
    phone = models.CharField(max_length=20)
    # Not unique: siblings share a parent's address.
    email = models.EmailField()
    free_reduced_lunch = models.BooleanField(
        "receives free or reduced-price lunch",
        default=False,
        help_text="Self-declared; staff verify it when they grant the fee waiver.",
    )
    guardian_name = models.CharField("parent or guardian", max_length=200, blank=True)
    guardian_email = models.EmailField("parent or guardian email", blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["legal_last_name", "legal_first_name"]
        indexes = [
            models.Index(fields=["email"]),
            models.Index(fields=["legal_last_name", "legal_first_name"]),
            models.Index(fields=["date_of_birth"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(sers_id__regex=SERS_ID_PATTERN), name="student_sers_id_format"
            ),
            models.CheckConstraint(
                condition=Q(expected_graduation_year__range=(2000, 2200)),
                name="student_graduation_year_plausible",
            ),
        ]

    def __str__(self):
        return f"{self.full_name} ({self.sers_id})"

    @property
    def full_name(self) -> str:
        names = [self.legal_first_name, self.legal_middle_name, self.legal_last_name]
        return " ".join(name for name in names if name)

    @property
    def mailing_address_lines(self) -> list[str]:
        return [self.street, f"{self.city}, {self.state} {self.zip_code}"]

    def grade_in_school_year(self, school_year_start: int) -> int:
        return grade_in(self.expected_graduation_year, school_year_start)


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


class Credit(models.Model):
    """College credit earned by a registration: what a student puts on a college application.

    Written and removed only by ``registration.services.credit.credit_evaluate``, the
    one home of the credit rule; the row copies the college course as it was earned.
    """

    registration = models.OneToOneField(
        Registration, on_delete=models.PROTECT, related_name="credit"
    )
    student = models.ForeignKey(Student, on_delete=models.PROTECT, related_name="credits")
    college = models.ForeignKey(
        "articulations.College", on_delete=models.PROTECT, related_name="credits"
    )
    school_year = models.ForeignKey(SchoolYear, on_delete=models.PROTECT, related_name="credits")
    college_course = models.CharField(max_length=25)
    college_course_title = models.CharField(max_length=200)
    college_credits = models.DecimalField(max_digits=4, decimal_places=1)
    grade = models.CharField(max_length=2, choices=LetterGrade.choices)
    earned_on = models.DateField()
    # The first export batch that sent this row to the college: empty means "not yet exported".
    exported_batch = models.ForeignKey(
        "registration.ExportBatch",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="first_exported_credits",
    )

    history = HistoricalRecords(excluded_fields=["exported_batch"])

    class Meta:
        ordering = ["-school_year", "college_course"]
        indexes = [
            models.Index(fields=["college", "school_year"]),
            models.Index(
                fields=["college"],
                condition=Q(exported_batch__isnull=True),
                name="credit_not_yet_exported",
            ),
        ]

    def __str__(self):
        return f"{self.student.sers_id} {self.college_course} ({self.school_year})"


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


class Registrar(models.Model):
    """A college registrar: sees and exports that college's earned credit, and nothing else."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="registrar"
    )
    college = models.ForeignKey(
        "articulations.College", on_delete=models.PROTECT, related_name="registrars"
    )

    def __str__(self):
        return f"{self.user.get_full_name() or self.user.get_username()} ({self.college.code})"


class ExportBatch(models.Model):
    """One download of a credit list: who, when, which filters, how many rows, and the file's hash."""

    class Format(models.TextChoices):
        CSV = "csv", "CSV"
        XLSX = "xlsx", "Excel (XLSX)"

    class Status(models.TextChoices):
        BUILDING = "building", "Being prepared"
        COMPLETE = "complete", "Ready"
        FAILED = "failed", "Failed"

    college = models.ForeignKey(
        "articulations.College",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="export_batches",
        help_text="Empty: staff exported several colleges at once.",
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    via = models.CharField(max_length=20, default="web", help_text="web, admin or command line")
    format = models.CharField(max_length=4, choices=Format.choices)
    filters = models.JSONField(default=dict)
    exporter = models.CharField(max_length=30, default="college_credits")
    # Rows up to this credit id belong to the batch: later credits wait for the next one.
    last_credit_id = models.BigIntegerField(default=0)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.BUILDING)
    rows_total = models.PositiveIntegerField(default=0)
    rows_done = models.PositiveIntegerField(default=0)
    row_count = models.PositiveIntegerField(default=0)
    sha256 = models.CharField(max_length=64, blank=True)
    file = models.FileField(upload_to="exports/", blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "export batches"

    def __str__(self):
        return f"Export {self.pk} ({self.get_format_display()}, {self.row_count} rows)"

    @property
    def progress_percent(self) -> int:
        if not self.rows_total:
            return 0 if self.status == self.Status.BUILDING else 100
        return min(100, round(100 * self.rows_done / self.rows_total))
