"""College registrars and the export batches of their credit lists."""

from django.conf import settings
from django.db import models


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
