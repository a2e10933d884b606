"""Credit earned: the record a student puts on a college application."""

from django.db import models
from django.db.models import Q
from simple_history.models import HistoricalRecords

from articulations.grades import LetterGrade
from articulations.models import SchoolYear
from registration.models import Registration
from students.models import Student


class Credit(models.Model):
    """College credit earned by a registration: what a student puts on a college application.

    Written and removed only by ``grading.services.credit_evaluate``, the
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
        "credit_lists.ExportBatch",
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
