"""The prior-year queue in the admin: staff approve or deny students' requests.

Every decision goes through ``registration.services``; a bulk action asks once, then says
how many rows changed. Registrations themselves (with their grades) are in ``grading/admin.py``.
"""

from django import forms
from django.contrib import admin, messages
from django.db.models import Case, IntegerField, Value, When
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.text import Truncator
from simple_history.admin import SimpleHistoryAdmin

from articulations.school_year import school_year_label
from registration.models import PriorYearRequest
from registration.services import (
    RegistrationRefused,
    prior_year_request_approve,
    prior_year_request_deny,
)
from sers.admin_tools import ConsortiumScopedAdmin, StatusThroughServicesMixin, confirmed, plural
from students.admin import SersIdSearchMixin

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
class PriorYearRequestAdmin(
    ConsortiumScopedAdmin, SersIdSearchMixin, StatusThroughServicesMixin, SimpleHistoryAdmin
):
    consortium_lookup = "course_class__school__consortium"
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
