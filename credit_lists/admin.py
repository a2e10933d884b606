"""Credit exports in the admin: an action on the credit list, and the export batches.

Staff export chosen credits with the same exporter and the same streamed CSV as the
registrar page (``credit_lists.exporters.StaffCreditExporter`` through
``export_csv_stream``), so each download is an export batch too. Batches are a
record: staff read them and download their files again, nobody edits them.

Credit records (``grading.models.Credit``) are listed here rather than in ``grading/``: for
staff the credit list is what they search and export, and exporting is this app's work.
"""

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.html import format_html
from simple_history.admin import SimpleHistoryAdmin

from articulations.models import College
from articulations.school_year import school_year_label
from credit_lists.downloads import batch_file_download, csv_download
from credit_lists.exporters import CreditFilters, StaffCreditExporter
from credit_lists.models import ExportBatch, Registrar
from credit_lists.selectors import batch_lines
from grading.admin import TeacherFilter
from grading.models import Credit
from invitations.admin_tools import ActivatedFilter, InvitationAdminMixin, InviteForm
from sers.admin_tools import (
    ConsortiumScopedAdmin,
    HistoryLookOnlyMixin,
    ReadOnlyAdminMixin,
    is_state_office,
    staff_consortium_ids,
)
from students.admin import SersIdSearchMixin


@admin.action(description="Export selected credits as CSV", permissions=["view"])
def export_selected_credits_csv(modeladmin, request, queryset):
    """The chosen rows as the registrar's CSV, streamed, recorded as a batch once it is whole.

    With "select all N" the queryset is every row the list's filters and search
    match, across pages: its ids are the batch's filter, kept on the batch.
    """
    credit_ids = tuple(queryset.order_by("pk").values_list("pk", flat=True))
    exporter = StaffCreditExporter(CreditFilters(credit_ids=credit_ids))
    return csv_download(exporter=exporter, user=request.user, via="admin", college_code="selected")


@admin.register(ExportBatch)
class ExportBatchAdmin(ReadOnlyAdminMixin, ConsortiumScopedAdmin, admin.ModelAdmin):
    """Every download of a credit list: who, when, filters, rows and the file's SHA-256.

    Consortium staff see the batches that staff of their consortia exported here (their
    consortia's credits); registrars' batches of a whole college are the state office's.
    """

    consortium_lookup = "requested_by__staff_consortia"
    consortium_lookup_spans_many = True

    list_display = [
        "created_at",
        "college",
        "requested_by",
        "via",
        "format",
        "row_count",
        "status",
        "sha256",
        "download",
    ]
    list_filter = ["status", "format", "via", ("college", admin.RelatedOnlyFieldListFilter)]
    list_select_related = ["college", "requested_by"]
    search_fields = ["sha256", "requested_by__username", "college__code", "college__name"]
    search_help_text = "SHA-256, username or college code."
    date_hierarchy = "created_at"
    fields = [
        "created_at",
        "completed_at",
        "college",
        "requested_by",
        "via",
        "format",
        "exporter",
        "filters_words",
        "status",
        "row_count",
        "sha256",
        "download",
        "last_credit_id",
        "error",
    ]
    readonly_fields = fields

    # Read-only: a batch is the record that its rows went to the college.

    @admin.display(description="filters")
    def filters_words(self, batch):
        (line,) = batch_lines([batch])
        return line.filters_words

    @admin.display(description="file")
    def download(self, batch):
        if batch.status != ExportBatch.Status.COMPLETE or not batch.file:
            return "-"
        return format_html(
            '<a href="{}">Download</a>',
            reverse("admin:credit_lists_exportbatch_download", args=[batch.pk]),
        )

    def get_urls(self):
        return [
            path(
                "<int:batch_id>/download/",
                self.admin_site.admin_view(self.download_view),
                name="credit_lists_exportbatch_download",
            ),
            *super().get_urls(),
        ]

    def download_view(self, request, batch_id: int):
        """The batch's file again, byte for byte, to staff who may see batches."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        batch = get_object_or_404(self.get_queryset(request).select_related("college"), pk=batch_id)
        college_code = batch.college.code if batch.college else "selected"
        return batch_file_download(batch, college_code=college_code)


# --- Credit earned -------------------------------------------------------------------------------


class CreditTeacherFilter(TeacherFilter):
    teacher_path = "registration__course_class__teacher"


@admin.register(Credit)
class CreditAdmin(
    ReadOnlyAdminMixin,
    ConsortiumScopedAdmin,
    SersIdSearchMixin,
    HistoryLookOnlyMixin,
    SimpleHistoryAdmin,
):
    """College credit earned, as the credit rule wrote it: staff look here, never edit.

    To change a credit, change what the rule reads: the registration's grade, or the
    year's payment or waiver. The rule then writes or removes the credit itself.
    """

    consortium_lookup = "registration__course_class__school__consortium"
    sers_id_lookup = "student__sers_id"
    actions = [export_selected_credits_csv]
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


# --- Registrars ----------------------------------------------------------------------------------


class RegistrarInviteForm(InviteForm):
    """A new registrar: their login is made from the name and email, then invited."""

    class Meta:
        model = Registrar
        fields = ["college"]


@admin.register(Registrar)
class RegistrarAdmin(ConsortiumScopedAdmin, InvitationAdminMixin, admin.ModelAdmin):
    """College registrars: each sees and exports the earned credit of one college.

    Consortium staff see the registrars of their colleges: the colleges that articulate a
    course with one of their consortia.
    """

    consortium_lookup = "college__articulations__consortium"
    consortium_lookup_spans_many = True

    list_display = ["name", "username", "email", "college", "activated"]
    list_filter = [ActivatedFilter, ("college", admin.RelatedOnlyFieldListFilter)]
    list_select_related = ["user", "college"]
    search_fields = [
        "user__username",
        "user__first_name",
        "user__last_name",
        "user__email",
        "college__name",
        "college__code",
    ]
    search_help_text = "Name, username, email, college or college code."
    autocomplete_fields = ["user", "college"]
    fields = ["user", "college"]
    actions = ["resend_invitation"]
    # Adding a registrar makes their login and emails them the invitation (invitations/).
    invitation_role = "registrar"
    add_form = RegistrarInviteForm
    add_fieldsets = [
        (
            None,
            {
                "description": "SERS makes the registrar's login (the username is the email) "
                "and emails them a link to choose a password. Until they do, they cannot log "
                "in. A registrar sees only the credit earned at their college.",
                "fields": [("first_name", "last_name"), "email", "college"],
            },
        )
    ]

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "college" and not is_state_office(request.user):
            # Colleges are a statewide list; a registrar of consortium staff is of their colleges.
            kwargs["queryset"] = College.objects.filter(
                pk__in=College.objects.filter(
                    articulations__consortium__in=staff_consortium_ids(request.user)
                ).values("pk")
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_queryset(self, request):
        # Also for the resend action, which names each row (its user and college) in the history.
        return super().get_queryset(request).select_related(*self.list_select_related)

    @admin.display(description="name", ordering="user__last_name")
    def name(self, registrar):
        return registrar.user.get_full_name() or registrar.user.get_username()

    @admin.display(description="username", ordering="user__username")
    def username(self, registrar):
        return registrar.user.get_username()

    @admin.display(description="email", ordering="user__email")
    def email(self, registrar):
        return registrar.user.email
