"""The catalog in the admin: what consortium staff keep by hand or load from CSV.

Lists show the columns staff decide on and fetch their relations with the
rows, so a list page makes the same few queries however long it is. Every
foreign key is an autocomplete box, since the catalog has hundreds of schools.
"""

import re

from django import forms
from django.contrib import admin, messages
from django.db import transaction
from django.db.models import Prefetch, Q
from django.http import HttpResponseRedirect
from django.urls import reverse
from import_export.admin import ImportExportModelAdmin
from import_export.formats.base_formats import CSV

from articulations.models import (
    Articulation,
    CareerCluster,
    Class,
    College,
    Consortium,
    ConsortiumYear,
    School,
    SchoolDistrict,
    SchoolYear,
    Teacher,
)
from articulations.resources import ArticulationResource, ClassResource, validity_problem
from articulations.school_year import local_today
from articulations.services import class_offer_problems
from invitations.admin_tools import ActivatedFilter, InvitationAdminMixin, InviteForm
from sers.admin_tools import (
    ConsortiumScopedAdmin,
    StatewideListAdmin,
    is_state_office,
    staff_consortium_ids,
)

SCHOOL_YEAR_SEARCH = re.compile(r"^(\d{4})(-\d{2})?$")


class CatalogImportExportAdmin(ImportExportModelAdmin):
    """CSV in and out, all or nothing."""

    import_formats = [CSV]
    export_formats = [CSV]

    def get_import_resource_kwargs(self, request, **kwargs):
        # Consortium staff import only their consortia's rows (resources.SCOPE_LOOKUPS).
        resource_kwargs = super().get_import_resource_kwargs(request, **kwargs)
        if not is_state_office(request.user):
            resource_kwargs["consortium_ids"] = staff_consortium_ids(request.user)
        return resource_kwargs

    def process_result(self, result, request):
        # The confirm step imports the file again. If the catalog changed since the
        # dry run and a row no longer fits, the resource rolled everything back:
        # say so instead of the library's "Import finished".
        if result.has_errors() or result.has_validation_errors():
            bad = len(result.invalid_rows) + len(result.error_rows)
            rows = "1 row no longer fits" if bad == 1 else f"{bad} rows no longer fit"
            messages.error(
                request,
                f"Nothing was imported: {rows} the catalog. Upload the file again to see why.",
            )
            return HttpResponseRedirect(
                reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_import")
            )
        return super().process_result(result, request)


class ConsortiumYearInline(ConsortiumScopedAdmin, admin.TabularInline):
    """A school year's own dates and fees; used under both the consortium and the year."""

    model = ConsortiumYear
    consortium_lookup = "consortium"
    extra = 0
    autocomplete_fields = ["consortium", "school_year"]
    fields = [
        "consortium",
        "school_year",
        "consortium_fee",
        "late_fee_per_prior_year",
        "registration_opens_on",
        "registration_closes_on",
        "payment_opens_on",
        "payment_closes_on",
        "grading_deadline",
        "note",
    ]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("consortium", "school_year")


@admin.register(College)
class CollegeAdmin(StatewideListAdmin, admin.ModelAdmin):
    list_display = ["name", "code"]
    search_fields = ["name", "code"]


@admin.register(Consortium)
class ConsortiumAdmin(ConsortiumScopedAdmin, admin.ModelAdmin):
    """Consortium staff see and keep their own consortia; the state office adds consortia and
    says who their staff are."""

    consortium_lookup = "pk"
    list_display = [
        "name",
        "host_college",
        "contact_email",
        "contact_phone",
        "consortium_fee",
        "late_fee_per_prior_year",
        "window",
    ]
    list_select_related = ["host_college"]
    search_fields = ["name"]
    autocomplete_fields = ["host_college", "staff"]
    inlines = [ConsortiumYearInline]
    fieldsets = [
        (None, {"fields": ["name", "host_college"]}),
        (
            "Staff",
            {
                "description": "Staff users who see and keep this consortium's rows in the "
                "admin. The state office (superusers and the “State office” group) sees "
                "every consortium's.",
                "fields": ["staff"],
            },
        ),
        ("Contact", {"fields": ["mailing_address", "contact_email", "contact_phone", "time_zone"]}),
        ("Fees", {"fields": ["consortium_fee", "late_fee_per_prior_year"]}),
        (
            "Every school year",
            {
                "description": "Month and day, in the consortium's time zone. "
                "Change single years under school year overrides below.",
                "fields": [
                    ("window_opens_month", "window_opens_day"),
                    ("window_closes_month", "window_closes_day"),
                    ("grading_deadline_month", "grading_deadline_day"),
                ],
            },
        ),
    ]

    def get_readonly_fields(self, request, obj=None):
        if is_state_office(request.user):
            return super().get_readonly_fields(request, obj)
        return [*super().get_readonly_fields(request, obj), "name", "staff"]

    def has_add_permission(self, request):
        return is_state_office(request.user) and super().has_add_permission(request)

    def has_delete_permission(self, request, obj=None):
        return is_state_office(request.user) and super().has_delete_permission(request, obj)

    @admin.display(description="registration window")
    def window(self, consortium):
        rule = consortium.window_rule
        return f"{rule.opens.month}/{rule.opens.day} – {rule.closes.month}/{rule.closes.day}"


@admin.register(SchoolYear)
class SchoolYearAdmin(StatewideListAdmin, admin.ModelAdmin):
    list_display = ["label", "starts_on", "ends_on"]
    search_fields = ["start_year"]
    inlines = [ConsortiumYearInline]

    @admin.display(description="school year", ordering="start_year")
    def label(self, school_year):
        return school_year.label

    def get_search_results(self, request, queryset, search_term):
        # Staff type the year as they write it, "2025-26", which no column holds.
        match = SCHOOL_YEAR_SEARCH.match(search_term.strip())
        if match:
            return queryset.filter(start_year=int(match[1])), False
        return super().get_search_results(request, queryset, search_term)


@admin.register(ConsortiumYear)
class ConsortiumYearAdmin(ConsortiumScopedAdmin, admin.ModelAdmin):
    consortium_lookup = "consortium"
    list_display = [
        "consortium",
        "school_year",
        "consortium_fee",
        "late_fee_per_prior_year",
        "registration_opens_on",
        "registration_closes_on",
        "grading_deadline",
        "note",
    ]
    list_filter = ["consortium", "school_year"]
    list_select_related = ["consortium", "school_year"]
    search_fields = ["consortium__name", "note"]
    autocomplete_fields = ["consortium", "school_year"]


@admin.register(SchoolDistrict)
class SchoolDistrictAdmin(ConsortiumScopedAdmin, admin.ModelAdmin):
    consortium_lookup = "consortium"
    list_display = ["name", "consortium"]
    list_filter = ["consortium"]
    list_select_related = ["consortium"]
    search_fields = ["name"]
    autocomplete_fields = ["consortium"]


@admin.register(School)
class SchoolAdmin(ConsortiumScopedAdmin, admin.ModelAdmin):
    consortium_lookup = "consortium"
    list_display = ["name", "kind", "district", "consortium"]
    list_filter = ["consortium", "kind", "district"]
    list_select_related = ["district", "consortium"]
    search_fields = ["name", "district__name"]
    autocomplete_fields = ["district", "consortium"]


@admin.register(CareerCluster)
class CareerClusterAdmin(StatewideListAdmin, admin.ModelAdmin):
    list_display = ["name", "field"]
    list_filter = ["field"]
    search_fields = ["name"]


class ValidInSchoolYearFilter(admin.SimpleListFilter):
    title = "valid in school year"
    parameter_name = "valid_in"

    def lookups(self, request, model_admin):
        return [(year.start_year, year.label) for year in SchoolYear.objects.all()]

    def queryset(self, request, queryset):
        if self.value() is None:
            return queryset
        if not self.value().isdigit():
            return queryset.none()
        return queryset.filter(Articulation.valid_in_q(int(self.value())))


class ArticulationAdminForm(forms.ModelForm):
    class Meta:
        model = Articulation
        fields = [
            "consortium",
            "hs_course_name",
            "hs_course_number",
            "district",
            "schools",
            "hs_credits",
            "college",
            "college_course_prefix",
            "college_course_number",
            "college_course_title",
            "college_credits",
            "minimum_grade",
            "career_cluster",
            "terms",
            "valid_from",
            "valid_to",
            "status",
        ]

    def clean(self):
        cleaned_data = super().clean()
        valid_from, valid_to = cleaned_data.get("valid_from"), cleaned_data.get("valid_to")
        problem = validity_problem(valid_from and valid_from.pk, valid_to and valid_to.pk)
        if problem:
            # On the field, so the database constraint's bare name is not shown as well.
            self.add_error("valid_to", problem)
        return cleaned_data


@admin.register(Articulation)
class ArticulationAdmin(ConsortiumScopedAdmin, CatalogImportExportAdmin):
    consortium_lookup = "consortium"
    form = ArticulationAdminForm
    resource_classes = [ArticulationResource]
    list_display = [
        "hs_course_name",
        "hs_course_number",
        "offered_at",
        "college",
        "college_course_display",
        "college_course_title",
        "college_credits",
        "minimum_grade",
        "validity",
        "status",
    ]
    list_filter = [
        "status",
        "consortium",
        "college",
        "career_cluster",
        ValidInSchoolYearFilter,
        "district",
    ]
    list_select_related = ["college", "district"]
    search_fields = [
        "hs_course_name",
        "hs_course_number",
        "college_course_prefix",
        "college_course_number",
        "college_course_title",
        "college__code",
        "college__name",
    ]
    autocomplete_fields = [
        "consortium",
        "district",
        "schools",
        "college",
        "career_cluster",
        "valid_from",
        "valid_to",
    ]
    fieldsets = [
        (
            "High-school course",
            {
                "fields": [
                    "consortium",
                    ("hs_course_name", "hs_course_number"),
                    "district",
                    "schools",
                    "hs_credits",
                ]
            },
        ),
        (
            "College course",
            {
                "fields": [
                    "college",
                    ("college_course_prefix", "college_course_number"),
                    "college_course_title",
                    "college_credits",
                    "minimum_grade",
                ]
            },
        ),
        (
            "In the catalog",
            {"fields": ["career_cluster", "terms", ("valid_from", "valid_to"), "status"]},
        ),
    ]

    def get_queryset(self, request):
        # The changelist skips list_select_related once a queryset selects anything, and the
        # autocomplete never reads it: select here what the rows and results show.
        queryset = super().get_queryset(request).select_related(*self.list_select_related)
        return queryset.prefetch_related("schools")

    @admin.display(description="offered at")
    def offered_at(self, articulation):
        places = [f"all of {articulation.district}"] if articulation.district_id else []
        places += [school.name for school in articulation.schools.all()]
        return ", ".join(places)

    @admin.display(description="college course", ordering="college_course_prefix")
    def college_course_display(self, articulation):
        return articulation.college_course

    @admin.display(description="valid", ordering="valid_from")
    def validity(self, articulation):
        return articulation.validity_label


class ClassAdminForm(forms.ModelForm):
    class Meta:
        model = Class
        fields = ["articulations", "school", "school_year", "teacher", "term", "period"]

    def clean(self):
        cleaned_data = super().clean()
        school = cleaned_data.get("school")
        school_year = cleaned_data.get("school_year")
        teacher = cleaned_data.get("teacher")
        articulations = cleaned_data.get("articulations")
        # A field the form refused already says why; the class rules need all four.
        if school and school_year and teacher and articulations is not None:
            problems = class_offer_problems(
                school=school,
                school_year=school_year,
                teacher=teacher,
                articulations=articulations,
            )
            if problems:
                raise forms.ValidationError(problems)
        return cleaned_data


@admin.register(Class)
class ClassAdmin(ConsortiumScopedAdmin, CatalogImportExportAdmin):
    consortium_lookup = "school__consortium"
    form = ClassAdminForm
    resource_classes = [ClassResource]
    list_display = [
        "course",
        "school",
        "district",
        "teacher",
        "school_year",
        "term",
        "period",
        "colleges",
    ]
    list_filter = [
        "school_year",
        "school__consortium",
        "school__district",
        "school",
        "articulations__college",
    ]
    list_select_related = ["school__district", "teacher__user", "school_year"]
    search_fields = [
        "articulations__hs_course_name",
        "articulations__hs_course_number",
        "school__name",
        "teacher__user__username",
        "teacher__user__last_name",
    ]
    autocomplete_fields = ["articulations", "school", "school_year", "teacher"]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related(*self.list_select_related)  # also for the autocomplete's results
            .prefetch_related(
                Prefetch("articulations", Articulation.objects.select_related("college"))
            )
        )

    @admin.display(description="course")
    def course(self, klass):
        return klass.course_name

    @admin.display(description="district", ordering="school__district__name")
    def district(self, klass):
        return klass.school.district

    @admin.display(description="colleges")
    def colleges(self, klass):
        return ", ".join(articulation.college.code for articulation in klass.articulations.all())


def approved_on_q(day) -> Q:
    """Teachers approved on ``day``: the query twin of Teacher.is_approved_on."""
    return Q(approved_on__lte=day) & (
        Q(approval_expires_on__isnull=True) | Q(approval_expires_on__gte=day)
    )


class ApprovalFilter(admin.SimpleListFilter):
    title = "approval"
    parameter_name = "approval"

    def lookups(self, request, model_admin):
        return [("approved", "approved"), ("not approved", "not approved"), ("expired", "expired")]

    def queryset(self, request, queryset):
        today = local_today()
        if self.value() == "approved":
            return queryset.filter(approved_on_q(today))
        if self.value() == "expired":
            return queryset.filter(approval_expires_on__lt=today)
        if self.value() == "not approved":
            return queryset.filter(Q(approved_on__isnull=True) | Q(approved_on__gt=today))
        return queryset


class TeacherInviteForm(InviteForm):
    """A new teacher: their login is made from the name and school email, then invited."""

    class Meta:
        model = Teacher
        fields = ["schools", "approved_on", "approval_expires_on"]
        labels = {"approved_on": "Active from", "approval_expires_on": "Active to"}
        help_texts = {
            "approved_on": "Empty: not approved yet; they see their classes once approved.",
            "approval_expires_on": "Empty: no end date. After it they cannot post grades.",
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["email"].label = "School email"

    def clean(self):
        cleaned_data = super().clean()
        starts, ends = cleaned_data.get("approved_on"), cleaned_data.get("approval_expires_on")
        if ends and not starts:
            self.add_error("approved_on", "Enter the day they are active from, or no end date.")
        elif starts and ends and ends < starts:
            self.add_error("approval_expires_on", "Enter an end on or after the day they start.")
        return cleaned_data


@admin.register(Teacher)
class TeacherAdmin(ConsortiumScopedAdmin, InvitationAdminMixin, admin.ModelAdmin):
    # A teacher belongs to the consortia of their schools.
    consortium_lookup = "schools__consortium"
    consortium_lookup_spans_many = True
    list_display = [
        "name",
        "username",
        "email",
        "school_names",
        "approval",
        "approved_on",
        "approval_expires_on",
        "approved_by",
        "activated",
    ]
    list_filter = [ApprovalFilter, ActivatedFilter, "schools__consortium", "schools__district"]
    list_select_related = ["user", "approved_by"]
    search_fields = ["user__username", "user__first_name", "user__last_name", "user__email"]
    autocomplete_fields = ["user", "schools"]
    # Set from whoever approves, here or with the list action.
    readonly_fields = ["approved_by"]
    actions = ["approve", "resend_invitation"]
    # Adding a teacher makes their login and emails them the invitation (invitations/).
    invitation_role = "teacher"
    add_form = TeacherInviteForm
    add_fieldsets = [
        (
            None,
            {
                "description": "SERS makes the teacher's login (the username is the school "
                "email) and emails them a link to choose a password. Until they do, they "
                "cannot log in.",
                "fields": [("first_name", "last_name"), "email", "schools"],
            },
        ),
        ("Approval", {"fields": [("approved_on", "approval_expires_on")]}),
    ]

    def get_queryset(self, request):
        queryset = super().get_queryset(request).select_related(*self.list_select_related)
        # A teacher shared with another consortium lists only the schools the user may see.
        schools = School.objects.all()
        if not is_state_office(request.user):
            schools = schools.filter(consortium_id__in=staff_consortium_ids(request.user))
        return queryset.prefetch_related(
            Prefetch("schools", queryset=schools, to_attr="visible_schools")
        )

    @admin.display(description="name", ordering="user__last_name")
    def name(self, teacher):
        return teacher.name

    @admin.display(description="username", ordering="user__username")
    def username(self, teacher):
        return teacher.user.username

    @admin.display(description="email", ordering="user__email")
    def email(self, teacher):
        return teacher.user.email

    @admin.display(description="schools")
    def school_names(self, teacher):
        return ", ".join(school.name for school in teacher.visible_schools)

    @admin.display(description="approval")
    def approval(self, teacher):
        today = local_today()
        if teacher.is_approved_on(today):
            return "approved"
        if teacher.approval_expires_on and teacher.approval_expires_on < today:
            return "expired"
        return "not approved"

    def get_changeform_initial_data(self, request):
        # Only the add page reads it: a new teacher is active from today unless staff say so.
        return {"approved_on": local_today(), **super().get_changeform_initial_data(request)}

    def save_model(self, request, obj, form, change):
        if not change or "approved_on" in form.changed_data:
            obj.approved_by = request.user if obj.approved_on else None
        super().save_model(request, obj, form, change)

    @admin.action(description="Approve selected teachers")
    def approve(self, request, queryset):
        today = local_today()
        changed = 0
        with transaction.atomic():
            for teacher in queryset.exclude(approved_on_q(today)):
                teacher.approved_on = today
                teacher.approved_by = request.user
                if teacher.approval_expires_on and teacher.approval_expires_on < today:
                    # The old approval ran out; the new one starts without an end date
                    # (the database refuses an end before the start).
                    teacher.approval_expires_on = None
                teacher.save(update_fields=["approved_on", "approved_by", "approval_expires_on"])
                self.log_change(request, teacher, "Approved with “Approve selected teachers”.")
                changed += 1
        unchanged = queryset.count() - changed
        message = f"Approved {changed} {'teacher' if changed == 1 else 'teachers'}."
        if unchanged:
            message += f" {unchanged} {'was' if unchanged == 1 else 'were'} already approved."
        self.message_user(request, message, messages.SUCCESS)
