"""Students in the admin, and the SERS ID search every student-related admin uses."""

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.urls import reverse
from django.utils.html import format_html
from simple_history.admin import SimpleHistoryAdmin

from sers.admin_tools import ConsortiumScopedAdmin, HistoryLookOnlyMixin, parse_typed_date, plural
from sers.sers_id import InvalidSersId, parse_sers_id
from students.models import Student
from students.services import (
    password_reset_email_queue,
    student_login_email_follow,
    student_set_active,
)


def sers_id_matches(queryset: QuerySet, search_term: str, lookup: str) -> QuerySet | None:
    """The rows whose ``lookup`` is the SERS ID typed (in any form), or None if it is not one."""
    try:
        sers_id = parse_sers_id(search_term)
    except InvalidSersId:
        return None
    return queryset.filter(**{lookup: sers_id})


class SersIdSearchMixin:
    """A SERS ID in the search box is an exact match, however it was typed."""

    sers_id_lookup = "sers_id"

    def get_search_results(self, request, queryset, search_term):
        found = sers_id_matches(queryset, search_term, self.sers_id_lookup)
        if found is not None:
            return found, False
        return super().get_search_results(request, queryset, search_term)


# --- Students --------------------------------------------------------------------------------


@admin.register(Student)
class StudentAdmin(
    ConsortiumScopedAdmin, SersIdSearchMixin, HistoryLookOnlyMixin, SimpleHistoryAdmin
):
    # A student belongs to the consortium of their high school.
    consortium_lookup = "school__consortium"
    list_display = [
        "sers_id",
        "legal_last_name",
        "legal_first_name",
        "date_of_birth",
        "school",
        "expected_graduation_year",
        "email",
        "free_reduced_lunch",
        "account_open",
    ]
    list_filter = [
        "school__district",
        "school",
        "expected_graduation_year",
        "free_reduced_lunch",
        ("user__is_active", admin.BooleanFieldListFilter),
    ]
    list_select_related = ["school", "user"]
    search_fields = [
        "legal_first_name",
        "legal_last_name",
        "email",
        "user__username",
        "school__name",
        "guardian_email",
    ]
    search_help_text = (
        "SERS ID (any form, like tp3 07 4412), name, email, username, school, "
        "or date of birth (4/27/2010)."
    )
    autocomplete_fields = ["school"]
    readonly_fields = ["sers_id", "user_links", "emails_link", "created_at", "updated_at"]
    fieldsets = [
        (None, {"fields": ["sers_id", "user_links", "emails_link"]}),
        (
            "Student",
            {
                "fields": [
                    ("legal_first_name", "legal_middle_name", "legal_last_name"),
                    "date_of_birth",
                    "expected_graduation_year",
                    "school",
                    "free_reduced_lunch",
                ]
            },
        ),
        (
            "Contact",
            {
                "fields": [
                    "email",
                    "phone",
                    "street",
                    ("city", "state", "zip_code"),
                    "guardian_name",
                    "guardian_email",
                ]
            },
        ),
        ("Record", {"fields": ["created_at", "updated_at"]}),
    ]
    actions = ["send_password_reset_link", "close_accounts", "reopen_accounts"]

    def has_delete_permission(self, request, obj=None):
        # A student is never deleted: the SERS ID stays theirs, on every email and receipt.
        # "Close the account" stops the login instead.
        return False

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if "email" in form.changed_data:
            # Or "Email a password reset link" would go to the old address.
            student_login_email_follow(student=obj)

    def get_search_results(self, request, queryset, search_term):
        # A date of birth is an exact match too. Dates first: "3/5/2009" would
        # otherwise read as the six digits of a SERS ID.
        born = parse_typed_date(search_term)
        if born is not None:
            return queryset.filter(date_of_birth=born), False
        return super().get_search_results(request, queryset, search_term)

    @admin.display(description="account open", boolean=True, ordering="user__is_active")
    def account_open(self, student):
        return student.user.is_active

    @admin.display(description="Login")
    def user_links(self, student):
        if not student.pk:
            return "-"
        return format_html(
            '{} · <a href="{}">Set a new password</a>',
            student.user.get_username(),
            reverse("admin:auth_user_password_change", args=[student.user_id]),
        )

    @admin.display(description="Emails")
    def emails_link(self, student):
        if not student.pk:
            return "-"
        return format_html(
            '<a href="{}?q={}">Emails sent to this student</a>',
            reverse("admin:outbox_outboxemail_changelist"),
            student.sers_id,
        )

    @admin.action(description="Email a password reset link")
    def send_password_reset_link(self, request, queryset):
        count = 0
        for student in queryset.select_related("user"):
            password_reset_email_queue(user=student.user)
            count += 1
        self.message_user(
            request, f"Password reset links queued for {count} student(s).", messages.SUCCESS
        )

    @admin.action(description="Close the accounts (no more logins; the record stays)")
    def close_accounts(self, request, queryset):
        self._set_active(request, queryset, active=False, done="Closed")

    @admin.action(description="Reopen the accounts")
    def reopen_accounts(self, request, queryset):
        self._set_active(request, queryset, active=True, done="Reopened")

    def _set_active(self, request, queryset, *, active: bool, done: str):
        changed = 0
        for student in queryset.select_related("user"):
            if student_set_active(student=student, active=active):
                self.log_change(request, student, f"{done} the account.")
                changed += 1
        self.message_user(
            request,
            f"{done} {plural(changed, 'account')}.",
            messages.SUCCESS if changed else messages.WARNING,
        )
