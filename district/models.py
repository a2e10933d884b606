"""District and school staff, and the log of every look-up of a student's record they make.

Career specialists, counselors and district CTE directors belong to one school district,
or to some of its schools. They look up their schools' students at ``/district/``; each
look-up is a ``StudentLookup`` row that consortium staff read in the admin and nobody edits.
Which students a staff member may see is said in one place: ``district.selectors``.
"""

from django.conf import settings
from django.db import models
from django.utils import timezone

from articulations.models import School, SchoolDistrict
from students.models import Student


class DistrictStaff(models.Model):
    """A district or school staff member: sees the students of their schools, nothing else."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="district_staff"
    )
    district = models.ForeignKey(
        SchoolDistrict, on_delete=models.PROTECT, related_name="district_staff"
    )
    # Chosen schools must be the district's: the admin form and ``district_staff_save`` check
    # it (a database constraint cannot reach through a many-to-many), and the selectors
    # ignore any other school that slipped in.
    schools = models.ManyToManyField(
        School,
        blank=True,
        related_name="district_staff",
        help_text="Empty: every school of the district. Or only these schools of the district.",
    )

    class Meta:
        verbose_name = "district or school staff member"
        verbose_name_plural = "district and school staff"
        ordering = ["user__last_name", "user__first_name", "user__username"]

    def __str__(self):
        return f"{self.name} ({self.district})"

    @property
    def name(self) -> str:
        return self.user.get_full_name() or self.user.get_username()


class StudentLookup(models.Model):
    """One look-up of a student's record by district or school staff: who, when, where.

    Written by ``district.services`` only, never changed: the admin shows it read-only.
    """

    class Page(models.TextChoices):
        SEARCH = "search", "Search results"
        RECORD = "record", "Student record"
        LOGIN_REMINDER = "login_reminder", "Login reminder sent"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name="who"
    )
    student = models.ForeignKey(Student, on_delete=models.PROTECT, related_name="+")
    page = models.CharField(max_length=20, choices=Page.choices)
    query = models.CharField(
        max_length=200, blank=True, help_text="What was typed in the search, for search results."
    )
    looked_up_at = models.DateTimeField("when", default=timezone.now)
    # The click that sent a login reminder: unique, so a click sent twice (a double click, a
    # resent form) mails once.
    click_id = models.UUIDField(null=True, blank=True, unique=True, editable=False)

    class Meta:
        verbose_name = "student look-up"
        ordering = ["-looked_up_at", "-pk"]
        indexes = [
            # The admin lists newest first, filtered by who, which student or when.
            models.Index(fields=["-looked_up_at"], name="lookup_when"),
            models.Index(fields=["student", "-looked_up_at"], name="lookup_student_when"),
            models.Index(fields=["user", "-looked_up_at"], name="lookup_user_when"),
        ]

    def __str__(self):
        return f"{self.get_page_display()}, {timezone.localtime(self.looked_up_at):%Y-%m-%d %H:%M}"
