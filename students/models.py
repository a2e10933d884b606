"""Students and their SERS IDs."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from simple_history.models import HistoricalRecords

from articulations.models import School
from sers.sers_id import SERS_ID_PATTERN

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
    def contact(self) -> dict:
        """The office this student deals with: their high school's consortium's."""
        return self.school.consortium.contact

    @property
    def mailing_address_lines(self) -> list[str]:
        return [self.street, f"{self.city}, {self.state} {self.zip_code}"]

    def grade_in_school_year(self, school_year_start: int) -> int:
        return grade_in(self.expected_graduation_year, school_year_start)
