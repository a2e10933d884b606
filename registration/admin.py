"""Students, registrations and the prior-year queue in the admin, where consortium staff work.

Lists show the columns staff decide on and fetch their relations with the rows, so
a list page makes the same few queries however long it is. A SERS ID typed in the
search box in any form finds that student's rows exactly. Every change of status
goes through ``registration.services.registrations``: staff never hard-delete a
registration, and a bulk action asks once, then says how many rows changed.
Grades likewise: a grade staff change on the form, or import from a CSV, is posted
by ``registration.services.teaching``, which records who and re-checks the credit;
credit records are written only by the credit rule, so the admin only shows them.
"""

import csv
import datetime as dt

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core import signing
from django.core.exceptions import PermissionDenied
from django.db.models import Case, IntegerField, QuerySet, Value, When
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.text import Truncator
from simple_history.admin import SimpleHistoryAdmin

from articulations.grades import LetterGrade
from articulations.models import Teacher
from articulations.school_year import school_year_label
from registration.models import Credit, PriorYearRequest, Registration, Student
from registration.selectors import student_status
from registration.sers_id import EXAMPLE as SERS_ID_EXAMPLE
from registration.sers_id import InvalidSersId, parse_sers_id
from registration.services.accounts import password_reset_email_queue, student_login_email_follow
from registration.services.credit import credit_evaluate, credit_reevaluate_year
from registration.services.registrations import (
    RegistrationRefused,
    prior_year_request_approve,
    prior_year_request_deny,
    registration_delete_by_staff,
)
from registration.services.teaching import (
    GradeRow,
    grade_set_by_staff,
    grades_import,
    grades_import_preview,
)

# Dates of birth as staff type them from a letter or an email.
DATE_FORMATS = ["%m/%d/%Y", "%Y-%m-%d", "%m-%d-%Y", "%m/%d/%y"]

# How many of the selected rows a confirmation page names; the rest are counted.
CONFIRMATION_ROWS_SHOWN = 50


def parse_typed_date(text: str) -> dt.date | None:
    for date_format in DATE_FORMATS:
        try:
            return dt.datetime.strptime(text.strip(), date_format).date()  # noqa: DTZ007 - a date, no time
        except ValueError:
            continue
    return None


def sers_id_matches(queryset: QuerySet, search_term: str, lookup: str) -> QuerySet | None:
    """The rows whose ``lookup`` is the SERS ID typed (in any form), or None if it is not one."""
    try:
        sers_id = parse_sers_id(search_term)
    except InvalidSersId:
        return None
    return queryset.filter(**{lookup: sers_id})


def plural(count: int, singular: str, plural_form: str | None = None) -> str:
    return f"{count} {singular if count == 1 else (plural_form or singular + 's')}"


class SersIdSearchMixin:
    """A SERS ID in the search box is an exact match, however it was typed."""

    sers_id_lookup = "sers_id"

    def get_search_results(self, request, queryset, search_term):
        found = sers_id_matches(queryset, search_term, self.sers_id_lookup)
        if found is not None:
            return found, False
        return super().get_search_results(request, queryset, search_term)


class HistoryLookOnlyMixin:
    """Old versions on the history page can be looked at, not restored.

    Reverting would write old values back without the service that guards them.
    """

    def revert_disabled(self, request, obj=None):
        return True

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        if request.method == "POST":
            raise PermissionDenied
        return super().history_form_view(request, object_id, version_id, extra_context)


class TeacherFilter(admin.SimpleListFilter):
    """The teachers of the listed rows' classes, by name, in one query however many."""

    title = "teacher"
    parameter_name = "teacher"
    teacher_path = "course_class__teacher"

    def lookups(self, request, model_admin):
        teacher_ids = model_admin.model._default_manager.values(self.teacher_path)
        teachers = Teacher.objects.filter(pk__in=teacher_ids).select_related("user")
        return [(str(teacher.pk), teacher.name) for teacher in teachers]

    def queryset(self, request, queryset):
        value = self.value()
        if value and value.isdigit():
            return queryset.filter(**{self.teacher_path: int(value)})
        return queryset


class HasGradeFilter(admin.SimpleListFilter):
    title = "grade posted"
    parameter_name = "graded"

    def lookups(self, request, model_admin):
        return [("yes", "Yes"), ("no", "No")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.exclude(grade="")
        if self.value() == "no":
            return queryset.filter(grade="")
        return queryset


class StatusThroughServicesMixin(HistoryLookOnlyMixin):
    """No hard delete, and no reverting to an old version from the history page."""

    def has_delete_permission(self, request, obj=None):
        return False

    def get_actions(self, request, action_location=admin.ActionLocation.CHANGE_LIST):
        actions = super().get_actions(request, action_location=action_location)
        actions.pop("delete_selected", None)
        return actions

    def confirm_action(
        self,
        request,
        queryset,
        *,
        action: str,
        title: str,
        intro: str,
        button: str,
        form: forms.Form | None = None,
        note: str = "",
    ) -> TemplateResponse:
        """The page a bulk action shows before it changes anything: the rows, a form, one button."""
        count = queryset.count()
        rows = [self.describe(obj) for obj in queryset[:CONFIRMATION_ROWS_SHOWN]]
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "subtitle": None,
            "opts": self.opts,
            "intro": intro,
            "note": note,
            "count": count,
            "rows": rows,
            "more": count - len(rows),
            "form": form,
            "button": button,
            "action": action,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "selected": request.POST.getlist(helpers.ACTION_CHECKBOX_NAME),
            "select_across": request.POST.get("select_across", "0"),
            "media": self.media + (form.media if form else forms.Media()),
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/registration/action_confirmation.html", context)

    def describe(self, obj) -> str:
        return str(obj)


def confirmed(request) -> bool:
    """Whether this POST is the answer from a confirmation page, not the first click."""
    return request.POST.get("confirmed") == "yes"


# --- Students --------------------------------------------------------------------------------


@admin.register(Student)
class StudentAdmin(SersIdSearchMixin, SimpleHistoryAdmin):
    list_display = [
        "sers_id",
        "legal_last_name",
        "legal_first_name",
        "date_of_birth",
        "school",
        "expected_graduation_year",
        "email",
        "free_reduced_lunch",
    ]
    list_filter = ["school__district", "school", "expected_graduation_year", "free_reduced_lunch"]
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
    actions = ["send_password_reset_link"]

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


# --- Registrations ---------------------------------------------------------------------------


GRADE_CHOICES = [("", "No grade"), *LetterGrade.choices]


class RegistrationAdminForm(forms.ModelForm):
    # Not the model field (RegistrationAdmin excludes that): a grade is posted by
    # grade_set_by_staff (who, when, credit), never by the form's plain save.
    grade = forms.ChoiceField(
        choices=GRADE_CHOICES,
        required=False,
        # "Changed" means changed from what staff saw on the page, not from the database:
        # saving another field must not undo a grade the teacher posted meanwhile.
        show_hidden_initial=True,
        help_text="You can change a grade at any time, also after the grading deadline. "
        "Saving re-checks the student's college credit and keeps the change in the "
        "history with your name.",
    )

    # Staff may undo a teacher's wrong "not in the class", also after the grading deadline.
    enrollment = forms.ChoiceField(
        choices=Registration.Enrollment.choices,
        show_hidden_initial=True,
        help_text="The teacher's word on the roster. Saving re-checks the college credit.",
    )

    class Meta:
        model = Registration
        fields = ["student", "course_class", "articulation", "school_year", "late_fee_waived"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "grade" in self.fields:
            self.initial.setdefault("grade", self.instance.grade)
        if "enrollment" in self.fields:
            self.initial.setdefault("enrollment", self.instance.enrollment)

    def clean(self):
        cleaned_data = super().clean()
        enrollment = cleaned_data.get("enrollment") or self.instance.enrollment
        if (
            {"grade", "enrollment"} & set(self.changed_data)
            and cleaned_data.get("grade")
            and enrollment == Registration.Enrollment.REJECTED
        ):
            self.add_error(
                "grade",
                "The teacher marked this student not in the class, so they cannot get a "
                "grade. Choose “No grade”.",
            )
        # On the fields, so the database constraints' bare names are not shown as well.
        if cleaned_data.get("late_fee_waived") and not self.instance.is_late:
            self.add_error(
                "late_fee_waived",
                "Only a prior-year (late) registration has a late fee to waive. "
                "Untick “Late fee waived”.",
            )
        course_class = cleaned_data.get("course_class")
        articulation = cleaned_data.get("articulation")
        school_year = cleaned_data.get("school_year")
        if course_class and articulation:
            offered = list(course_class.articulations.select_related("college"))
            if articulation not in offered:
                colleges = ", ".join(
                    f"{offer.college_course} at {offer.college}" for offer in offered
                )
                self.add_error(
                    "articulation",
                    f"Pick a college course this class offers: {colleges or 'it offers none'}.",
                )
        if course_class and school_year and course_class.school_year_id != school_year.pk:
            self.add_error(
                "school_year",
                f"The class is taught in {school_year_label(course_class.school_year_id)}: "
                "pick that school year.",
            )
        return cleaned_data


# --- Grade import: the forms of its two steps ---------------------------------------------------

GRADE_FILE_MAX_BYTES = 1_000_000
GRADE_FILE_SALT = "registration.admin.grade_import"
# How long a preview can be confirmed: long enough to read it, short enough to be current.
GRADE_PREVIEW_MAX_AGE = dt.timedelta(hours=1)


class GradeFileForm(forms.Form):
    file = forms.FileField(
        label="CSV file",
        widget=forms.FileInput(attrs={"accept": ".csv,text/csv"}),
        help_text="A .csv file saved as UTF-8 (in Excel: “CSV UTF-8 (Comma delimited)”).",
        error_messages={
            "required": "Choose a CSV file to upload.",
            "empty": "The file is empty. Choose the CSV file with the grades.",
            "invalid": "Choose a CSV file to upload.",
        },
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > GRADE_FILE_MAX_BYTES:
            raise forms.ValidationError(
                "The file is larger than 1 MB. Split it into smaller files and upload each."
            )
        try:
            # utf-8-sig: spreadsheets put a byte-order mark in front; without one it is plain UTF-8.
            text = upload.read().decode("utf-8-sig")
        except UnicodeDecodeError:
            raise forms.ValidationError(
                "The file is not UTF-8 text. In your spreadsheet, save it as "
                "“CSV UTF-8 (Comma delimited)” and upload it again."
            ) from None
        if not text.strip():
            raise forms.ValidationError("The file is empty. Choose the CSV file with the grades.")
        return text


class GradeConfirmForm(forms.Form):
    """The previewed file, signed, so the grades posted are the ones staff saw."""

    csv = forms.CharField(widget=forms.HiddenInput)

    def clean_csv(self):
        try:
            return signing.loads(
                self.cleaned_data["csv"], salt=GRADE_FILE_SALT, max_age=GRADE_PREVIEW_MAX_AGE
            )
        except signing.SignatureExpired:
            raise forms.ValidationError(
                "This preview is more than an hour old. Upload the file again."
            ) from None
        except signing.BadSignature:
            raise forms.ValidationError(
                "This preview could not be read back. Upload the file again."
            ) from None

    @staticmethod
    def sign(csv_text: str) -> str:
        return signing.dumps(csv_text, salt=GRADE_FILE_SALT, compress=True)


def grade_row_outcome(row: GradeRow) -> str:
    """What the preview says about a row that has no errors."""
    was = row.registration.grade
    if was == row.grade:
        return f"Grade {row.grade} is already posted: no change"
    return f"Will post grade {row.grade} (was {was or 'no grade'})"


def grade_rows_read(csv_text: str) -> tuple[list[GradeRow], str]:
    """The preview rows, or none and why the file could not be read as CSV."""
    try:
        return grades_import_preview(csv_text), ""
    except csv.Error as error:
        return [], (
            f"The file could not be read as CSV ({error}). Save it from your spreadsheet "
            "as “CSV UTF-8 (Comma delimited)” and upload it again."
        )


class DeleteRegistrationsForm(forms.Form):
    reason = forms.CharField(
        label="Why are these registrations deleted?",
        help_text="Kept with each registration and in its history.",
        max_length=Registration._meta.get_field("status_reason").max_length,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        error_messages={"required": "Say why the registrations are deleted."},
    )


@admin.register(Registration)
class RegistrationAdmin(SersIdSearchMixin, StatusThroughServicesMixin, SimpleHistoryAdmin):
    form = RegistrationAdminForm
    # The form's ``grade`` is its own field: excluding the model field keeps the form's
    # save from writing it, so only save_model's call to grade_set_by_staff does.
    exclude = ["grade"]
    sers_id_lookup = "student__sers_id"
    list_display = [
        "sers_id",
        "student_name",
        "course",
        "school",
        "teacher",
        "college",
        "college_course",
        "year",
        "status",
        "enrollment",
        "grade",
        "grade_posted_at",
        "student_status_word",
        "is_late",
        "late_fee_waived",
        "registered_at",
    ]
    list_filter = [
        "school_year",
        ("course_class__school__consortium", admin.RelatedOnlyFieldListFilter),
        ("course_class__school", admin.RelatedOnlyFieldListFilter),
        ("articulation__college", admin.RelatedOnlyFieldListFilter),
        TeacherFilter,
        "status",
        "enrollment",
        HasGradeFilter,
        "is_late",
        "late_fee_waived",
    ]
    list_select_related = [
        "student",
        "course_class__school",
        "course_class__teacher__user",
        "articulation__college",
        "school_year",
        # The student status word asks whether credit was earned.
        "credit",
    ]
    search_fields = [
        "student__legal_first_name",
        "student__legal_last_name",
        "student__user__username",
    ]
    search_help_text = "SERS ID (any form, like tp3 07 4412), student name or username."
    autocomplete_fields = ["student", "course_class", "articulation", "school_year"]
    readonly_fields = [
        "status",
        "status_reason",
        "changed_by",
        "registered_at",
        "updated_at",
        "is_late",
        "enrollment_decided_at",
        "grade_posted_at",
        "student_status_word",
    ]
    fieldsets = [
        (None, {"fields": ["student", "course_class", "articulation", "school_year"]}),
        (
            "Status",
            {
                "description": "To delete a registration, use “Delete selected registrations "
                "(kept in history)” on the list.",
                "fields": ["status", "status_reason", "changed_by", "registered_at", "updated_at"],
            },
        ),
        (
            "Late fee",
            {
                "description": "A prior-year registration, from an approved request, owes the "
                "late fee for its school year unless it is waived.",
                "fields": ["is_late", "late_fee_waived"],
            },
        ),
        (
            "Enrollment and grade",
            {
                "description": "Teachers confirm enrollment and post grades on their roster "
                "until the grading deadline; you can change a grade here at any time.",
                "fields": [
                    ("enrollment", "enrollment_decided_at"),
                    ("grade", "grade_posted_at"),
                    "student_status_word",
                ],
            },
        ),
    ]
    actions = ["delete_kept_in_history"]

    def get_queryset(self, request):
        # A row's name (the checkbox label, the history) is its class's course name,
        # read from the class's articulations.
        return super().get_queryset(request).prefetch_related("course_class__articulations")

    def has_add_permission(self, request):
        # A registration is made by the student (the rules and the confirmation email
        # live in registration_create) or by approving a prior-year request.
        return False

    # The fields a credit is made from, besides the grade.
    CREDIT_FIELDS = {"student", "course_class", "articulation", "school_year"}

    def save_model(self, request, obj, form, change):
        # Grade and enrollment are not on the model form's save (see RegistrationAdminForm):
        # the other fields are saved plainly, then those two go through the service.
        roster_fields = {"grade", "enrollment"}
        grade_changed = change and bool(roster_fields & set(form.changed_data))
        if set(form.changed_data) - roster_fields or not change:
            obj.changed_by = request.user
            super().save_model(request, obj, form, change)
            if "late_fee_waived" in form.changed_data:
                # Waiving the late fee can settle the year, and a settled year earns credit.
                credit_reevaluate_year(student=obj.student, start_year=obj.school_year_id)
            if change and self.CREDIT_FIELDS & set(form.changed_data):
                # Another student, class, college or year: the credit follows (or goes).
                credit_evaluate(registration=obj)
        if grade_changed:
            self._set_grade(
                request, obj, form.cleaned_data["grade"], form.cleaned_data.get("enrollment")
            )

    def _set_grade(self, request, registration, grade, enrollment=None):
        was = registration.grade
        try:
            grade_set_by_staff(
                registration=registration,
                grade=grade,
                enrollment=enrollment,
                staff_user=request.user,
            )
        except RegistrationRefused as refusal:
            self.message_user(request, f"The grade was not changed: {refusal}", messages.ERROR)
            return
        registration.refresh_from_db()
        has_credit = Credit.objects.filter(registration=registration).exists()
        self.message_user(
            request,
            f"Grade for {registration.student.sers_id} changed from {was or 'no grade'} to "
            f"{registration.grade or 'no grade'}. The student now reads: "
            f"{student_status(registration, has_credit=has_credit)}.",
            messages.SUCCESS,
        )

    def describe(self, registration):
        return (
            f"{registration.student.sers_id} {registration.student.full_name} – "
            f"{registration.articulation.hs_course_name}, {registration.course_class.school}, "
            f"{school_year_label(registration.school_year_id)} "
            f"({registration.get_status_display()})"
        )

    @admin.display(description="SERS ID", ordering="student__sers_id")
    def sers_id(self, registration):
        return registration.student.sers_id

    @admin.display(description="student", ordering="student__legal_last_name")
    def student_name(self, registration):
        return registration.student.full_name

    @admin.display(description="class", ordering="articulation__hs_course_name")
    def course(self, registration):
        # The class number is what a grade import file names the class by.
        return f"{registration.articulation.hs_course_name} (class {registration.course_class_id})"

    @admin.display(description="school", ordering="course_class__school__name")
    def school(self, registration):
        return registration.course_class.school

    @admin.display(description="teacher", ordering="course_class__teacher__user__last_name")
    def teacher(self, registration):
        return registration.course_class.teacher.name

    @admin.display(description="college", ordering="articulation__college__code")
    def college(self, registration):
        return registration.articulation.college.code

    @admin.display(description="college course", ordering="articulation__college_course_prefix")
    def college_course(self, registration):
        return registration.articulation.college_course

    @admin.display(description="school year", ordering="school_year")
    def year(self, registration):
        return school_year_label(registration.school_year_id)

    @admin.display(description="student status")
    def student_status_word(self, registration):
        if not registration.pk:
            return "-"
        # On the list the credit comes with the row: a missing one is cached as missing.
        return student_status(registration, has_credit=hasattr(registration, "credit"))

    # --- Importing grades from a CSV file -----------------------------------------------------

    def get_urls(self):
        return [
            path(
                "import-grades/",
                self.admin_site.admin_view(self.import_grades_view),
                name="registration_registration_import_grades",
            ),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "can_import_grades": self.has_change_permission(request),
        }
        return super().changelist_view(request, extra_context)

    def import_grades_view(self, request):
        """Upload, preview every row, then post all the grades or none (grades_import)."""
        if not self.has_change_permission(request):
            raise PermissionDenied
        upload_form = GradeFileForm()
        rows, csv_text, problem = [], "", ""
        if request.method == "POST" and "csv" in request.POST:
            confirm_form = GradeConfirmForm(request.POST)
            if not confirm_form.is_valid():
                upload_form = GradeFileForm()
                problem = confirm_form.errors["csv"][0]
            else:
                csv_text = confirm_form.cleaned_data["csv"]
                try:
                    posted = grades_import(csv_text=csv_text, staff_user=request.user)
                except RegistrationRefused as refusal:
                    # Something changed since the preview: show the file as it reads now.
                    self.message_user(request, str(refusal), messages.ERROR)
                    rows, problem = grade_rows_read(csv_text)
                else:
                    self.message_user(
                        request, f"Posted {plural(posted, 'grade')}.", messages.SUCCESS
                    )
                    return HttpResponseRedirect(
                        reverse("admin:registration_registration_changelist")
                    )
        elif request.method == "POST":
            upload_form = GradeFileForm(request.POST, request.FILES)
            if upload_form.is_valid():
                csv_text = upload_form.cleaned_data["file"]
                rows, problem = grade_rows_read(csv_text)
        return self._import_grades_page(request, upload_form, rows, csv_text, problem)

    def _import_grades_page(self, request, upload_form, rows, csv_text, problem):
        lines = [{"row": row, "outcome": grade_row_outcome(row) if row.ok else ""} for row in rows]
        bad = sum(1 for row in rows if not row.ok)
        changing = sum(1 for row in rows if row.ok and row.registration.grade != row.grade)
        can_post = bool(rows) and not bad and changing > 0
        context = {
            **self.admin_site.each_context(request),
            "title": "Import grades from CSV",
            "subtitle": None,
            "opts": self.opts,
            "form": upload_form,
            "problem": problem,
            "lines": lines,
            "bad": bad,
            "changing": changing,
            "can_post": can_post,
            "post_button": f"Post {plural(changing, 'grade')}",
            "signed_csv": GradeConfirmForm.sign(csv_text) if can_post else "",
            "sers_id_example": SERS_ID_EXAMPLE,
            "grades": ", ".join(grade.value for grade in LetterGrade),
            "max_megabytes": GRADE_FILE_MAX_BYTES // 1_000_000,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/registration/grade_import.html", context)

    @admin.action(description="Delete selected registrations (kept in history)")
    def delete_kept_in_history(self, request, queryset):
        queryset = queryset.select_related(
            "student", "course_class__school", "articulation"
        ).order_by("pk")
        form = DeleteRegistrationsForm(request.POST if confirmed(request) else None)
        if not form.is_valid():
            return self.confirm_action(
                request,
                queryset,
                action="delete_kept_in_history",
                title="Delete registrations",
                intro="These registrations will be marked “Deleted by staff”. They stay in the "
                "database and in their history, with your name and the reason.",
                button="Delete these registrations",
                form=form,
            )
        reason = form.cleaned_data["reason"]
        deleted = already = 0
        for registration in queryset:
            if registration_delete_by_staff(
                registration=registration, staff_user=request.user, reason=reason
            ):
                self.log_change(request, registration, f"Deleted (kept in history): {reason}")
                deleted += 1
            else:
                already += 1
        message = f"Deleted {plural(deleted, 'registration')}."
        if already:
            message += f" {plural(already, 'was', 'were')} already deleted and left as they were."
        self.message_user(request, message, messages.SUCCESS if deleted else messages.WARNING)
        return None


# --- Credit earned -------------------------------------------------------------------------------


class CreditTeacherFilter(TeacherFilter):
    teacher_path = "registration__course_class__teacher"


@admin.register(Credit)
class CreditAdmin(SersIdSearchMixin, HistoryLookOnlyMixin, SimpleHistoryAdmin):
    """College credit earned, as the credit rule wrote it: staff look here, never edit.

    To change a credit, change what the rule reads: the registration's grade, or the
    year's payment or waiver. The rule then writes or removes the credit itself.
    """

    sers_id_lookup = "student__sers_id"
    list_display = [
        "sers_id",
        "student_name",
        "course",
        "college_code",
        "college_credits",
        "grade",
        "year",
        "earned_on",
        "school",
        "teacher",
    ]
    list_filter = [
        "school_year",
        ("college", admin.RelatedOnlyFieldListFilter),
        ("registration__course_class__school", admin.RelatedOnlyFieldListFilter),
        CreditTeacherFilter,
        "grade",
    ]
    list_select_related = [
        "student",
        "college",
        "school_year",
        "registration__course_class__school",
        "registration__course_class__teacher__user",
    ]
    search_fields = [
        "student__legal_first_name",
        "student__legal_last_name",
        "college_course",
        "college_course_title",
    ]
    search_help_text = (
        "SERS ID (any form, like tp3 07 4412), student name, or college course (BUS 101)."
    )
    fieldsets = [
        (
            None,
            {
                "description": "Credit is written only by the credit rule: a grade at or above "
                "the minimum, the year's fee paid or waived, and a registration that is not "
                "withdrawn. To change it, change the grade on the registration, or record a "
                "payment or a waiver.",
                "fields": [
                    "registration",
                    "student",
                    "college",
                    "school_year",
                    ("college_course", "college_course_title"),
                    "college_credits",
                    "grade",
                    "earned_on",
                ],
            },
        )
    ]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="SERS ID", ordering="student__sers_id")
    def sers_id(self, credit):
        return credit.student.sers_id

    @admin.display(description="student", ordering="student__legal_last_name")
    def student_name(self, credit):
        return credit.student.full_name

    @admin.display(description="college course", ordering="college_course")
    def course(self, credit):
        return f"{credit.college_course} {credit.college_course_title}"

    @admin.display(description="college", ordering="college__code")
    def college_code(self, credit):
        return credit.college.code

    @admin.display(description="school year", ordering="school_year")
    def year(self, credit):
        return school_year_label(credit.school_year_id)

    @admin.display(description="school", ordering="registration__course_class__school__name")
    def school(self, credit):
        return credit.registration.course_class.school

    @admin.display(
        description="teacher", ordering="registration__course_class__teacher__user__last_name"
    )
    def teacher(self, credit):
        return credit.registration.course_class.teacher.name


# --- Prior-year requests ---------------------------------------------------------------------


class PriorYearRequestAdminForm(forms.ModelForm):
    class Meta:
        model = PriorYearRequest
        fields = ["status", "waive_late_fee", "decision_note"]
        labels = {
            "status": "Decision",
            "waive_late_fee": "Waive the late fee (multi-term class over two school years)",
            "decision_note": "Note to the student",
        }
        help_texts = {
            "status": "Approving registers the class for its school year, marked late, and adds "
            "that year's late fee unless you waive it. The student gets an email either way.",
            "decision_note": "Sent in the decision email. When you deny, say why.",
        }
        widgets = {"decision_note": forms.Textarea(attrs={"rows": 3, "cols": 60})}


class DenyRequestsForm(forms.Form):
    reason = forms.CharField(
        label="Reason (optional)",
        help_text="The student reads this in the decision email.",
        required=False,
        max_length=PriorYearRequest._meta.get_field("decision_note").max_length,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
    )


class ConfirmForm(forms.Form):
    """Nothing to fill in: the page asks once and the button answers."""


PENDING_FIRST = Case(
    When(status=PriorYearRequest.Status.PENDING, then=Value(0)),
    default=Value(1),
    output_field=IntegerField(),
).asc()


@admin.register(PriorYearRequest)
class PriorYearRequestAdmin(SersIdSearchMixin, StatusThroughServicesMixin, SimpleHistoryAdmin):
    form = PriorYearRequestAdminForm
    sers_id_lookup = "student__sers_id"
    list_display = [
        "sers_id",
        "student_name",
        "course",
        "school",
        "year",
        "college",
        "short_note",
        "status",
        "created_at",
        "decided_by",
        "decided_at",
    ]
    list_filter = [
        "status",
        "course_class__school_year",
        ("course_class__school", admin.RelatedOnlyFieldListFilter),
        ("articulation__college", admin.RelatedOnlyFieldListFilter),
    ]
    list_select_related = [
        "student",
        "course_class__school",
        "course_class__school_year",
        "articulation__college",
        "decided_by",
    ]
    ordering = [PENDING_FIRST, "created_at"]
    search_fields = [
        "student__legal_first_name",
        "student__legal_last_name",
        "student__user__username",
    ]
    search_help_text = "SERS ID (any form, like tp3 07 4412), student name or username."
    radio_fields = {"status": admin.VERTICAL}
    request_fields = ["student", "course_class", "articulation", "note", "created_at"]
    decision_record_fields = ["decided_by", "decided_at", "registration"]
    fieldsets = [
        ("Request", {"fields": request_fields}),
        ("Decision", {"fields": ["status", "waive_late_fee", "decision_note"]}),
        ("Decided", {"fields": decision_record_fields}),
    ]
    actions = ["approve", "approve_waiving_late_fee", "deny"]

    def get_queryset(self, request):
        # A row's name (the checkbox label, the history) names its class's course.
        return super().get_queryset(request).prefetch_related("course_class__articulations")

    def has_add_permission(self, request):
        # Students ask, on /registrations/prior-year/; staff decide.
        return False

    def get_readonly_fields(self, request, obj=None):
        fixed = [*self.request_fields, *self.decision_record_fields]
        if obj is not None and obj.status != PriorYearRequest.Status.PENDING:
            # Decided: the email has gone, the registration exists. It stays as it is.
            return [*fixed, "status", "waive_late_fee", "decision_note"]
        return fixed

    def describe(self, prior_year_request):
        return (
            f"{prior_year_request.student.sers_id} {prior_year_request.student.full_name} – "
            f"{prior_year_request.articulation.hs_course_name}, "
            f"{prior_year_request.course_class.school}, "
            f"{school_year_label(prior_year_request.course_class.school_year_id)} "
            f"({prior_year_request.get_status_display()})"
        )

    @admin.display(description="SERS ID", ordering="student__sers_id")
    def sers_id(self, prior_year_request):
        return prior_year_request.student.sers_id

    @admin.display(description="student", ordering="student__legal_last_name")
    def student_name(self, prior_year_request):
        return prior_year_request.student.full_name

    @admin.display(description="class", ordering="articulation__hs_course_name")
    def course(self, prior_year_request):
        return prior_year_request.articulation.hs_course_name

    @admin.display(description="school", ordering="course_class__school__name")
    def school(self, prior_year_request):
        return prior_year_request.course_class.school

    @admin.display(description="school year", ordering="course_class__school_year")
    def year(self, prior_year_request):
        return school_year_label(prior_year_request.course_class.school_year_id)

    @admin.display(description="college", ordering="articulation__college__code")
    def college(self, prior_year_request):
        return prior_year_request.articulation.college.code

    @admin.display(description="note")
    def short_note(self, prior_year_request):
        return Truncator(prior_year_request.note).chars(60)

    # --- Deciding on the change form -------------------------------------------------------

    def save_model(self, request, obj, form, change):
        decision = obj.status
        if not change or "status" not in form.changed_data or decision == obj.Status.PENDING:
            super().save_model(request, obj, form, change)
            return
        if decision == obj.Status.APPROVED and "decision_note" in form.changed_data:
            # Saved first, still pending, so that the decision email carries it.
            obj.status = obj.Status.PENDING
            super().save_model(request, obj, form, change)
        try:
            if decision == obj.Status.APPROVED:
                done = prior_year_request_approve(
                    request=obj, staff_user=request.user, waive_late_fee=obj.waive_late_fee
                )
            else:
                done = prior_year_request_deny(
                    request=obj, staff_user=request.user, reason=obj.decision_note
                )
        except RegistrationRefused as refusal:
            request.prior_year_decision = (messages.ERROR, f"Nothing was decided: {refusal}")
            obj.refresh_from_db()
            return
        obj.refresh_from_db()
        if done:
            request.prior_year_decision = (
                messages.SUCCESS,
                f"{obj.get_status_display()}: {self.describe(obj)}. The student gets an email.",
            )
        else:
            request.prior_year_decision = (
                messages.WARNING,
                "Someone decided this request meanwhile; it was left as it was.",
            )

    def log_change(self, request, obj, message):
        outcome = getattr(request, "prior_year_decision", None)
        if outcome and outcome[0] != messages.SUCCESS:
            return None
        return super().log_change(request, obj, message)

    def response_change(self, request, obj):
        outcome = getattr(request, "prior_year_decision", None)
        if outcome is None:
            return super().response_change(request, obj)
        level, text = outcome
        self.message_user(request, text, level)
        if level == messages.ERROR:
            return HttpResponseRedirect(request.path)
        return HttpResponseRedirect(
            reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_changelist")
        )

    # --- Deciding in bulk ------------------------------------------------------------------

    @admin.action(description="Approve selected requests (charge the late fee)")
    def approve(self, request, queryset):
        return self._approve(request, queryset, action="approve", waive_late_fee=False)

    @admin.action(
        description="Approve selected requests and waive the late fee "
        "(multi-term class over two years)"
    )
    def approve_waiving_late_fee(self, request, queryset):
        return self._approve(
            request, queryset, action="approve_waiving_late_fee", waive_late_fee=True
        )

    def _approve(self, request, queryset, *, action, waive_late_fee):
        queryset = self._for_decision(queryset)
        form = ConfirmForm(request.POST if confirmed(request) else None)
        if not form.is_valid():
            fee = (
                "The late fee is waived."
                if waive_late_fee
                else "Each school year owes its late fee once, however many classes it has."
            )
            return self.confirm_action(
                request,
                queryset,
                action=action,
                title="Approve prior-year requests",
                intro="Each class will be registered for its school year, marked late. "
                f"{fee} Each student gets an email.",
                note=self._already_decided_note(queryset),
                button="Approve these requests",
            )
        approved, already, refused = 0, 0, []
        for prior_year_request in queryset:
            try:
                done = prior_year_request_approve(
                    request=prior_year_request,
                    staff_user=request.user,
                    waive_late_fee=waive_late_fee,
                )
            except RegistrationRefused as refusal:
                refused.append(f"{prior_year_request.student.sers_id}: {refusal}")
                continue
            if done:
                waived = " and waived the late fee" if waive_late_fee else ""
                self.log_change(request, prior_year_request, f"Approved{waived}.")
                approved += 1
            else:
                already += 1
        self._report(request, f"Approved {plural(approved, 'request')}.", approved, already)
        if refused:
            self.message_user(
                request,
                f"{plural(len(refused), 'request was', 'requests were')} not approved: "
                + " ".join(refused),
                messages.ERROR,
            )
        return None

    @admin.action(description="Deny selected requests")
    def deny(self, request, queryset):
        queryset = self._for_decision(queryset)
        form = DenyRequestsForm(request.POST if confirmed(request) else None)
        if not form.is_valid():
            return self.confirm_action(
                request,
                queryset,
                action="deny",
                title="Deny prior-year requests",
                intro="Each student gets an email saying the request was denied, with the "
                "reason you give here.",
                note=self._already_decided_note(queryset),
                button="Deny these requests",
                form=form,
            )
        reason = form.cleaned_data["reason"]
        denied = already = 0
        for prior_year_request in queryset:
            if prior_year_request_deny(
                request=prior_year_request, staff_user=request.user, reason=reason
            ):
                self.log_change(request, prior_year_request, f"Denied. {reason}".strip())
                denied += 1
            else:
                already += 1
        self._report(request, f"Denied {plural(denied, 'request')}.", denied, already)
        return None

    def _for_decision(self, queryset):
        return queryset.select_related("student", "course_class__school", "articulation").order_by(
            "created_at", "pk"
        )

    def _already_decided_note(self, queryset) -> str:
        decided = queryset.exclude(status=PriorYearRequest.Status.PENDING).count()
        if decided == 0:
            return ""
        if decided == 1:
            return "1 of these is already decided and will be left as it is."
        return f"{decided} of these are already decided and will be left as they are."

    def _report(self, request, message, changed, already):
        if already:
            message += (
                f" {plural(already, 'was', 'were')} already decided and left as "
                f"{'it was' if already == 1 else 'they were'}."
            )
        self.message_user(request, message, messages.SUCCESS if changed else messages.WARNING)


from registration import admin_exports  # noqa: E402,F401
