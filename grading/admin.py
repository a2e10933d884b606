"""Registrations in the admin, with their grades and the grade-file import.

The registration admin lives here, not in ``registration/``, because staff post and change
grades on it, and grades belong to grading (which may use registration, not the reverse)."""

import csv
import datetime as dt

from django import forms
from django.contrib import admin, messages
from django.core import signing
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from simple_history.admin import SimpleHistoryAdmin

from articulations.grades import LetterGrade
from articulations.models import Teacher
from articulations.school_year import school_year_label
from grading.models import Credit
from grading.selectors import student_status
from grading.services.credit import credit_evaluate, credit_reevaluate_year, registration_delete
from grading.services.teaching import (
    GradeRow,
    grade_set_by_staff,
    grades_import,
    grades_import_preview,
)
from registration.models import Registration
from registration.selectors import offered_articulations
from registration.services import (
    RegistrationRefused,
)
from sers.admin_tools import (
    ConsortiumScopedAdmin,
    StatusThroughServicesMixin,
    confirmed,
    plural,
    scoped_rows,
)
from sers.sers_id import EXAMPLE as SERS_ID_EXAMPLE
from students.admin import SersIdSearchMixin
from students.models import Student


class TeacherFilter(admin.SimpleListFilter):
    """The teachers of the listed rows' classes, by name, in one query however many."""

    title = "teacher"
    parameter_name = "teacher"
    teacher_path = "course_class__teacher"

    def lookups(self, request, model_admin):
        # The teachers of the rows this user may see (their consortia's), never others'.
        teacher_ids = model_admin.get_queryset(request).order_by().values(self.teacher_path)
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
            # The same answer the student's register page and the service give.
            offered = offered_articulations(course_class)
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


def grade_rows_read(csv_text: str, **scope) -> tuple[list[GradeRow], str]:
    """The preview rows, or none and why the file could not be read as CSV."""
    try:
        return grades_import_preview(csv_text, **scope), ""
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
class RegistrationAdmin(
    ConsortiumScopedAdmin, SersIdSearchMixin, StatusThroughServicesMixin, SimpleHistoryAdmin
):
    consortium_lookup = "course_class__school__consortium"
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
        # Only the user's consortia's students and registrations: others read as not found.
        scope = {
            "students": scoped_rows(self.admin_site, request, Student.objects.all()),
            "registrations": scoped_rows(self.admin_site, request, Registration.objects.all()),
        }
        if request.method == "POST" and "csv" in request.POST:
            confirm_form = GradeConfirmForm(request.POST)
            if not confirm_form.is_valid():
                upload_form = GradeFileForm()
                problem = confirm_form.errors["csv"][0]
            else:
                csv_text = confirm_form.cleaned_data["csv"]
                try:
                    posted = grades_import(csv_text=csv_text, staff_user=request.user, **scope)
                except RegistrationRefused as refusal:
                    # Something changed since the preview: show the file as it reads now.
                    self.message_user(request, str(refusal), messages.ERROR)
                    rows, problem = grade_rows_read(csv_text, **scope)
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
                rows, problem = grade_rows_read(csv_text, **scope)
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
        return TemplateResponse(request, "admin/grading/grade_import.html", context)

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
            if registration_delete(
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
