"""The catalog: who awards which college credit for which high-school class.

A consortium serves school districts; districts have high schools and skill
centers; colleges award credit. An articulation says that a high-school course
earns a college course for a grade at or above its minimum. A class is such a
course taught by a teacher at a school in a school year; when the course is
articulated with more than one college, the class offers each of them and the
student chooses one.
"""

import zoneinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q

from articulations import defaults
from articulations.grades import DEFAULT_MINIMUM_GRADE, MINIMUM_GRADE_CHOICES
from articulations.school_year import (
    DEFAULT_TIME_ZONE,
    DEFAULT_WINDOW,
    MonthDay,
    WindowRule,
    school_year_dates,
    school_year_label,
)
from articulations.terms import terms_with_override
from sers.formatting import long_date

MONTH = [MinValueValidator(1), MaxValueValidator(12)]
DAY = [MinValueValidator(1), MaxValueValidator(31)]
MONEY = {"max_digits": 7, "decimal_places": 2}


def validate_time_zone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"{value} is not a time zone name like America/Los_Angeles.")


def validate_month_day(month: int, day: int, what: str) -> None:
    # Any year with February 29 will do: a window may end on the last day of February.
    try:
        MonthDay(month, day).in_year(2028)
    except ValueError:
        raise ValidationError(f"{what}: {month}/{day} is not a day of the year.") from None


class College(models.Model):
    name = models.CharField(max_length=200, unique=True)
    code = models.CharField(max_length=12, unique=True, help_text="Short code, e.g. BC.")

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class Consortium(models.Model):
    name = models.CharField(max_length=200, unique=True)
    host_college = models.ForeignKey(
        College, on_delete=models.PROTECT, null=True, blank=True, related_name="hosted_consortia"
    )
    mailing_address = models.TextField(help_text="Where students mail checks, one line per row.")
    contact_email = models.EmailField()
    contact_phone = models.CharField(max_length=30)
    time_zone = models.CharField(
        max_length=64, default=DEFAULT_TIME_ZONE, validators=[validate_time_zone]
    )
    consortium_fee = models.DecimalField(**MONEY, default=defaults.CONSORTIUM_FEE)
    late_fee_per_prior_year = models.DecimalField(**MONEY, default=defaults.LATE_FEE_PER_PRIOR_YEAR)
    window_opens_month = models.PositiveSmallIntegerField(
        default=DEFAULT_WINDOW.opens.month, validators=MONTH
    )
    window_opens_day = models.PositiveSmallIntegerField(
        default=DEFAULT_WINDOW.opens.day, validators=DAY
    )
    window_closes_month = models.PositiveSmallIntegerField(
        default=DEFAULT_WINDOW.closes.month, validators=MONTH
    )
    window_closes_day = models.PositiveSmallIntegerField(
        default=DEFAULT_WINDOW.closes.day, validators=DAY
    )
    grading_deadline_month = models.PositiveSmallIntegerField(
        default=DEFAULT_WINDOW.grading_deadline.month, validators=MONTH
    )
    grading_deadline_day = models.PositiveSmallIntegerField(
        default=DEFAULT_WINDOW.grading_deadline.day, validators=DAY
    )
    # Consortium staff see and change only their consortia's rows in the admin
    # (sers.admin_tools.ConsortiumScopedAdmin); the state office sees every consortium's.
    staff = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        related_name="staff_consortia",
        blank=True,
        help_text="Staff users who keep this consortium's rows in the admin.",
    )

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "consortia"
        constraints = [
            models.CheckConstraint(
                condition=Q(consortium_fee__gte=0) & Q(late_fee_per_prior_year__gte=0),
                name="consortium_fees_not_negative",
            ),
            models.CheckConstraint(
                condition=Q(window_opens_month__range=(1, 12))
                & Q(window_closes_month__range=(1, 12))
                & Q(grading_deadline_month__range=(1, 12))
                & Q(window_opens_day__range=(1, 31))
                & Q(window_closes_day__range=(1, 31))
                & Q(grading_deadline_day__range=(1, 31)),
                name="consortium_window_is_calendar_days",
            ),
        ]

    def __str__(self):
        return self.name

    @property
    def contact(self) -> dict:
        """The consortium's office, in the shape of settings.SERS_CONTACT: what the footer and
        every email to its students give as the place to ask."""
        return {
            "name": self.name,
            "address_lines": [
                line.strip() for line in self.mailing_address.splitlines() if line.strip()
            ],
            "email": self.contact_email,
            "phone": self.contact_phone,
        }

    def clean(self):
        validate_month_day(self.window_opens_month, self.window_opens_day, "Window opens")
        validate_month_day(self.window_closes_month, self.window_closes_day, "Window closes")
        validate_month_day(
            self.grading_deadline_month, self.grading_deadline_day, "Grading deadline"
        )
        window = school_year_dates(2027, self.window_rule).window  # any year: the same order
        if window.opens_on > window.closes_on:
            raise ValidationError(
                "Registration would close before it opens in every school year: the window "
                "runs from its opening day to its closing day within one July–June year."
            )

    @property
    def window_rule(self) -> WindowRule:
        return WindowRule(
            opens=MonthDay(self.window_opens_month, self.window_opens_day),
            closes=MonthDay(self.window_closes_month, self.window_closes_day),
            grading_deadline=MonthDay(self.grading_deadline_month, self.grading_deadline_day),
        )


class SchoolYear(models.Model):
    """July 1 – June 30, named by the year it starts in: 2025 is ``2025-26``."""

    start_year = models.PositiveSmallIntegerField(
        primary_key=True, validators=[MinValueValidator(2000), MaxValueValidator(2200)]
    )

    class Meta:
        ordering = ["-start_year"]
        constraints = [
            models.CheckConstraint(
                condition=Q(start_year__range=(2000, 2200)), name="school_year_plausible"
            )
        ]

    def __str__(self):
        return self.label

    @property
    def label(self) -> str:
        return school_year_label(self.start_year)

    @property
    def starts_on(self):
        return school_year_dates(self.start_year).starts_on

    @property
    def ends_on(self):
        return school_year_dates(self.start_year).ends_on


class ConsortiumYear(models.Model):
    """A consortium's own amounts and dates for one school year; empty means its defaults."""

    consortium = models.ForeignKey(Consortium, on_delete=models.CASCADE, related_name="years")
    school_year = models.ForeignKey(
        SchoolYear, on_delete=models.PROTECT, related_name="consortium_years"
    )
    consortium_fee = models.DecimalField(**MONEY, null=True, blank=True)
    late_fee_per_prior_year = models.DecimalField(**MONEY, null=True, blank=True)
    registration_opens_on = models.DateField(null=True, blank=True)
    registration_closes_on = models.DateField(null=True, blank=True)
    payment_opens_on = models.DateField(
        null=True, blank=True, help_text="Empty: the same as registration."
    )
    payment_closes_on = models.DateField(
        null=True, blank=True, help_text="Empty: the same as registration."
    )
    grading_deadline = models.DateField(null=True, blank=True)
    note = models.CharField(max_length=200, blank=True, help_text="Why these dates differ.")

    class Meta:
        verbose_name = "school year override"
        constraints = [
            models.UniqueConstraint(
                fields=["consortium", "school_year"], name="one_override_per_consortium_year"
            ),
            models.CheckConstraint(
                condition=(Q(consortium_fee__isnull=True) | Q(consortium_fee__gte=0))
                & (Q(late_fee_per_prior_year__isnull=True) | Q(late_fee_per_prior_year__gte=0)),
                name="override_fees_not_negative",
            ),
            models.CheckConstraint(
                condition=Q(registration_opens_on__isnull=True)
                | Q(registration_closes_on__isnull=True)
                | Q(registration_opens_on__lte=F("registration_closes_on")),
                name="registration_opens_before_it_closes",
            ),
            models.CheckConstraint(
                condition=Q(payment_opens_on__isnull=True)
                | Q(payment_closes_on__isnull=True)
                | Q(payment_opens_on__lte=F("payment_closes_on")),
                name="payment_opens_before_it_closes",
            ),
        ]

    def __str__(self):
        return f"{self.consortium} {self.school_year}"

    def clean(self):
        if not self.school_year_id:
            return
        year = school_year_dates(self.school_year_id)
        for field in (
            "registration_opens_on",
            "registration_closes_on",
            "payment_opens_on",
            "payment_closes_on",
            "grading_deadline",
        ):
            day = getattr(self, field)
            # Grading may run past June 30 by a little, but not into another year's window.
            last = year.ends_on.replace(month=9, day=30) if field == "grading_deadline" else None
            if day and not (year.starts_on <= day <= (last or year.ends_on)):
                raise ValidationError(
                    {field: f"Pick a date in the {year.label} school year (July 1 – June 30)."}
                )
        if self.consortium_id:
            self._check_windows_open_before_they_close()

    def _check_windows_open_before_they_close(self):
        terms = terms_with_override(self.consortium, self.school_year_id, self)
        for name, window in (("registration", terms.registration), ("payment", terms.payment)):
            if window.opens_on > window.closes_on:
                raise ValidationError(
                    {
                        f"{name}_closes_on": f"With these dates {name} would close on "
                        f"{long_date(window.closes_on)}, before it opens on "
                        f"{long_date(window.opens_on)}."
                    }
                )


class SchoolDistrict(models.Model):
    name = models.CharField(max_length=200, unique=True)
    consortium = models.ForeignKey(Consortium, on_delete=models.PROTECT, related_name="districts")

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class School(models.Model):
    class Kind(models.TextChoices):
        HIGH_SCHOOL = "high_school", "High school"
        SKILL_CENTER = "skill_center", "Skill center"

    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.HIGH_SCHOOL)
    district = models.ForeignKey(SchoolDistrict, on_delete=models.PROTECT, related_name="schools")
    # Usually the district's; a skill center serving several districts may sit elsewhere.
    consortium = models.ForeignKey(Consortium, on_delete=models.PROTECT, related_name="schools")

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["district", "name"], name="school_name_unique_in_district"
            )
        ]

    def __str__(self):
        return self.name


class CareerCluster(models.Model):
    """One of the national career clusters, grouped by the program's fields of study."""

    class Field(models.TextChoices):
        AGRICULTURE = "agriculture", "Agriculture"
        APPLIED_SCIENCE = "applied_science", "Applied science"
        BUSINESS = "business", "Business"
        ENGINEERING_TECHNOLOGY = "engineering_technology", "Engineering technology"
        HEALTH = "health", "Health"
        INFORMATION_TECHNOLOGY = "information_technology", "Information technology"
        TRADES = "trades", "Mechanical, industrial or practical arts and trades"

    name = models.CharField(max_length=120, unique=True)
    field = models.CharField(max_length=30, choices=Field.choices)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class Articulation(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        ACTIVE = "active", "Active"
        EXPIRED = "expired", "Expired"

    consortium = models.ForeignKey(
        Consortium, on_delete=models.PROTECT, related_name="articulations"
    )
    hs_course_name = models.CharField("high-school course", max_length=200)
    hs_course_number = models.CharField("high-school course number", max_length=30)
    # Either a whole district or a list of schools (or both: the district's and some others).
    district = models.ForeignKey(
        SchoolDistrict,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="articulations",
        help_text="Every school of this district offers the course.",
    )
    schools = models.ManyToManyField(
        School, blank=True, related_name="articulations", help_text="Or only these schools."
    )
    hs_credits = models.DecimalField("high-school credits", max_digits=4, decimal_places=2)
    college = models.ForeignKey(College, on_delete=models.PROTECT, related_name="articulations")
    college_course_prefix = models.CharField(max_length=10, help_text="e.g. BUS")
    college_course_number = models.CharField(max_length=10, help_text="e.g. 101")
    college_course_title = models.CharField(max_length=200)
    college_credits = models.DecimalField(max_digits=4, decimal_places=1)
    minimum_grade = models.CharField(
        max_length=2, choices=MINIMUM_GRADE_CHOICES, default=DEFAULT_MINIMUM_GRADE
    )
    career_cluster = models.ForeignKey(
        CareerCluster, on_delete=models.PROTECT, related_name="articulations"
    )
    terms = models.PositiveSmallIntegerField(default=1, help_text="How many terms the class runs.")
    valid_from = models.ForeignKey(SchoolYear, on_delete=models.PROTECT, related_name="+")
    valid_to = models.ForeignKey(
        SchoolYear,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="Empty: no end year.",
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)

    class Meta:
        ordering = ["hs_course_name", "college__name"]
        constraints = [
            models.UniqueConstraint(
                fields=[
                    "consortium",
                    "hs_course_number",
                    "college",
                    "college_course_prefix",
                    "college_course_number",
                    "valid_from",
                ],
                name="articulation_unique",
            ),
            # SchoolYear's key is its start year, so the years compare as numbers.
            models.CheckConstraint(
                condition=Q(valid_to__isnull=True) | Q(valid_to__gte=F("valid_from")),
                name="articulation_valid_to_after_valid_from",
            ),
            models.CheckConstraint(
                condition=Q(terms__gte=1), name="articulation_at_least_one_term"
            ),
            models.CheckConstraint(
                condition=Q(hs_credits__gte=0) & Q(college_credits__gt=0),
                name="articulation_credits_positive",
            ),
        ]

    def __str__(self):
        return f"{self.hs_course_name} → {self.college_course} ({self.college.code})"

    @property
    def college_course(self) -> str:
        return f"{self.college_course_prefix} {self.college_course_number}"

    @property
    def validity_label(self) -> str:
        start = school_year_label(self.valid_from_id)
        if self.valid_to_id is None:
            return f"{start} onward"
        if self.valid_to_id == self.valid_from_id:
            return start
        return f"{start} to {school_year_label(self.valid_to_id)}"

    def is_valid_in(self, school_year_id: int) -> bool:
        return self.valid_from_id <= school_year_id and (
            self.valid_to_id is None or school_year_id <= self.valid_to_id
        )

    @staticmethod
    def valid_in_q(start_year: int, prefix: str = "") -> Q:
        """``is_valid_in`` as a query filter; ``prefix`` reaches it through a relation.

        A school year's key is its start year, so the years compare as numbers.
        """
        return Q(**{f"{prefix}valid_from_id__lte": start_year}) & (
            Q(**{f"{prefix}valid_to__isnull": True})
            | Q(**{f"{prefix}valid_to_id__gte": start_year})
        )

    def clean(self):
        self.college_course_prefix = self.college_course_prefix.strip().upper()
        self.college_course_number = self.college_course_number.strip().upper()
        if (
            self.district_id
            and self.consortium_id
            and self.district.consortium_id != self.consortium_id
        ):
            raise ValidationError({"district": "Pick a district of this consortium."})


class Teacher(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="teacher"
    )
    schools = models.ManyToManyField(School, related_name="teachers")
    approved_on = models.DateField(
        null=True, blank=True, help_text="Empty: not approved yet; the teacher cannot sign in."
    )
    approval_expires_on = models.DateField(null=True, blank=True, help_text="Empty: no end date.")
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        ordering = ["user__last_name", "user__first_name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(approval_expires_on__isnull=True)
                | Q(approved_on__isnull=False, approval_expires_on__gte=F("approved_on")),
                name="teacher_approval_expires_after_approval",
            )
        ]

    def __str__(self):
        return self.name

    @property
    def name(self) -> str:
        return self.user.get_full_name() or self.user.get_username()

    def is_approved_on(self, day) -> bool:
        if self.approved_on is None or day < self.approved_on:
            return False
        return self.approval_expires_on is None or day <= self.approval_expires_on


class Class(models.Model):
    """An articulated course taught by a teacher at a school in a school year."""

    articulations = models.ManyToManyField(
        Articulation,
        related_name="classes",
        help_text="One per college that awards credit for this class; the student chooses one.",
    )
    teacher = models.ForeignKey(Teacher, on_delete=models.PROTECT, related_name="classes")
    school = models.ForeignKey(School, on_delete=models.PROTECT, related_name="classes")
    school_year = models.ForeignKey(SchoolYear, on_delete=models.PROTECT, related_name="classes")
    term = models.CharField(max_length=30, blank=True, help_text="Optional, e.g. Fall or S1.")
    period = models.CharField(max_length=10, blank=True, help_text="Optional, e.g. 3.")

    class Meta:
        verbose_name_plural = "classes"
        ordering = ["-school_year", "school__name", "period"]
        constraints = [
            # A teacher is in one room at a time.
            models.UniqueConstraint(
                fields=["teacher", "school_year", "term", "period"],
                condition=~Q(period=""),
                name="class_one_per_teacher_period",
            )
        ]

    def __str__(self):
        where = f"{self.school}, {school_year_label(self.school_year_id)}"
        if self.period:
            where += f", period {self.period}"
        return f"{self.course_name} ({where})"

    @property
    def course_name(self) -> str:
        # Every articulation of a class is the same high-school course; any one names it.
        first = next(iter(self.articulations.all()), None)
        return first.hs_course_name if first else "Class"
