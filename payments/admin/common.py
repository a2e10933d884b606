"""What the fee admins share: a year's account in words and in fixed queries, list columns
that follow a path, links to the student and the fee year, look-only records."""

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from articulations.school_year import school_year_label
from payments.models import StudentYear
from payments.selectors import YearAccount, accounts_of_student_years, year_account
from sers.formatting import dollars


def user_name(user) -> str:
    if user is None:
        return "-"
    return user.get_full_name() or user.get_username()


def account_summary(account: YearAccount | None) -> str:
    """A year's state and balance in one line, as staff read it."""
    if account is None:
        return "-"
    summary = f"{account.state.label}, balance {dollars(account.balance)}"
    return (
        f"{summary} (fees {dollars(account.total_charged)}, paid {dollars(account.total_paid)}, "
        f"waived {dollars(account.waived_amount)})"
    )


def account_of(student_year: StudentYear) -> YearAccount | None:
    """The year's account from the one selector (a few queries: change pages, not lists)."""
    return year_account(
        student_year.student, student_year.consortium_id, student_year.school_year_id
    )


def fee_accounts(student_years: list[StudentYear]) -> dict[int, YearAccount]:
    """The account of each student-year on a list page: the selector's, in fixed queries."""
    return accounts_of_student_years(student_years)


def related_column(description: str, path: str, *, ordering: str | None = None, show=str):
    """A list column showing ``path`` (``student_year__student__sers_id``), sortable."""
    attributes = path.split("__")

    @admin.display(description=description, ordering=ordering or path)
    def column(model_admin, obj):
        for attribute in attributes:
            obj = getattr(obj, attribute)
        return show(obj)

    return column


class StudentYearLinks:
    """Read-only fields of rows that hang off a student-year (``student_year_path`` to it)."""

    student_year_path = "student_year"

    def _student_year(self, obj) -> StudentYear:
        return getattr(obj, self.student_year_path) if self.student_year_path else obj

    @admin.display(description="student")
    def student_link(self, obj):
        student = self._student_year(obj).student
        return format_html(
            '<a href="{}">{} {}</a>',
            reverse("admin:students_student_change", args=[student.pk]),
            student.sers_id,
            student.full_name,
        )

    @admin.display(description="fee year")
    def student_year_link(self, obj):
        student_year = self._student_year(obj)
        return format_html(
            '<a href="{}">{}, {}</a>',
            reverse("admin:payments_studentyear_change", args=[student_year.pk]),
            school_year_label(student_year.school_year_id),
            student_year.consortium.name,
        )

    @admin.display(description="the student's year now")
    def fee_account(self, obj):
        return account_summary(account_of(self._student_year(obj)))
