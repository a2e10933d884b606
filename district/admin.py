"""District and school staff in the admin, and the log of their look-ups (read-only).

Consortium staff add a district or school staff member here: their name and email, the
district, and optionally some of its schools (none: the whole district). SERS makes the login
and emails the invitation to choose a password (``invitations.admin_tools``), as for teachers
and registrars; the change page moves an existing login to another district or other schools.
The access log is the record of who looked at which student's record, when and on which page:
staff read and filter it, nobody edits or deletes a row.
"""

from django import forms
from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from district.models import DistrictStaff, StudentLookup
from district.services import schools_outside_district_refusal
from invitations.admin_tools import ActivatedFilter, InvitationAdminMixin, InviteForm
from sers.admin_tools import ConsortiumScopedAdmin, ReadOnlyAdminMixin
from students.admin import SersIdSearchMixin


class SchoolsOfTheDistrictCheck:
    """Refuses, on the schools field, a school of another district (``district.services``)."""

    def clean(self):
        cleaned = super().clean()
        refusal = schools_outside_district_refusal(
            cleaned.get("district"), cleaned.get("schools") or []
        )
        if refusal:
            self.add_error("schools", refusal)
        return cleaned


class DistrictStaffForm(SchoolsOfTheDistrictCheck, forms.ModelForm):
    """The change page: an existing login, its district and schools."""

    class Meta:
        model = DistrictStaff
        fields = ["user", "district", "schools"]


class DistrictStaffInviteForm(SchoolsOfTheDistrictCheck, InviteForm):
    """A new staff member: their login is made from the name and email, then invited."""

    class Meta:
        model = DistrictStaff
        fields = ["district", "schools"]


@admin.register(DistrictStaff)
class DistrictStaffAdmin(ConsortiumScopedAdmin, InvitationAdminMixin, admin.ModelAdmin):
    consortium_lookup = "district__consortium"
    form = DistrictStaffForm
    list_display = ["name", "username", "email", "district", "sees", "activated", "lookups"]
    list_filter = [ActivatedFilter, "district__consortium", "district"]
    list_select_related = ["user", "district"]
    search_fields = [
        "user__username",
        "user__first_name",
        "user__last_name",
        "user__email",
        "district__name",
        "schools__name",
    ]
    search_help_text = "Username, name, email, district or school."
    autocomplete_fields = ["user", "district", "schools"]
    actions = ["resend_invitation"]
    # Adding a staff member makes their login and emails them the invitation (invitations/).
    invitation_role = "district"
    add_form = DistrictStaffInviteForm
    add_fieldsets = [
        (
            None,
            {
                "description": "SERS makes the staff member's login (the username is the "
                "email) and emails them a link to choose a password. Until they do, they "
                "cannot log in. They see the students of the schools chosen here, or of "
                "every school of the district when none is chosen.",
                "fields": [("first_name", "last_name"), "email", "district", "schools"],
            },
        )
    ]

    def get_queryset(self, request):
        # Selected here, not only in the list: the resend action names each row (its user and
        # district) in the history.
        queryset = super().get_queryset(request).select_related(*self.list_select_related)
        return queryset.prefetch_related("schools")

    @admin.display(description="name", ordering="user__last_name")
    def name(self, staff):
        return staff.name

    @admin.display(description="username", ordering="user__username")
    def username(self, staff):
        return staff.user.get_username()

    @admin.display(description="email", ordering="user__email")
    def email(self, staff):
        return staff.user.email

    @admin.display(description="sees the students of")
    def sees(self, staff):
        schools = [school.name for school in staff.schools.all()]
        return ", ".join(sorted(schools)) if schools else f"Every school of {staff.district}"

    @admin.display(description="look-ups")
    def lookups(self, staff):
        url = reverse("admin:district_studentlookup_changelist")
        return format_html('<a href="{}?user__id__exact={}">Their look-ups</a>', url, staff.user_id)


@admin.register(StudentLookup)
class StudentLookupAdmin(
    ReadOnlyAdminMixin, ConsortiumScopedAdmin, SersIdSearchMixin, admin.ModelAdmin
):
    """Who looked at which student's record, when, on which page: read, never changed."""

    # A look-up belongs to the consortium of the student looked at.
    consortium_lookup = "student__school__consortium"

    sers_id_lookup = "student__sers_id"
    list_display = ["looked_up_at", "who", "sers_id", "student_name", "page", "query"]
    list_filter = [
        ("user", admin.RelatedOnlyFieldListFilter),
        "page",
        "looked_up_at",
        ("user__district_staff__district", admin.RelatedOnlyFieldListFilter),
    ]
    list_select_related = ["user", "student"]
    search_fields = ["student__legal_last_name", "student__legal_first_name", "user__username"]
    search_help_text = "SERS ID (any form, like tp3 07 4412), student's name, or staff username."
    date_hierarchy = "looked_up_at"
    fields = ["looked_up_at", "user", "student", "page", "query"]
    readonly_fields = fields

    # Read-only: the log is the record of who saw a student's record: it stays whole.

    @admin.display(description="who", ordering="user__username")
    def who(self, lookup):
        return lookup.user.get_full_name() or lookup.user.get_username()

    @admin.display(description="SERS ID", ordering="student__sers_id")
    def sers_id(self, lookup):
        return lookup.student.sers_id

    @admin.display(description="student", ordering="student__legal_last_name")
    def student_name(self, lookup):
        return lookup.student.full_name
