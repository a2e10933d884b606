"""Fee waivers in the admin: decided in bulk (through ``waiver_grant``/``waiver_deny``), with
a warning before granting a waiver on a year with money in; free-lunch waivers opened."""

import stripe
from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Case, IntegerField, Value, When
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.text import Truncator
from simple_history.admin import SimpleHistoryAdmin

from articulations.school_year import school_year_label
from payments.admin.common import StudentYearLinks, fee_accounts, related_column, user_name
from payments.models import Payment, Waiver
from payments.selectors import YearAccount
from payments.services.waivers import free_lunch_waivers_open, waiver_deny, waiver_grant
from sers.admin_tools import (
    ConsortiumScopedAdmin,
    StatusThroughServicesMixin,
    confirmed,
    is_state_office,
    plural,
    scoped_rows,
    staff_consortium_ids,
)
from sers.formatting import dollars
from students.admin import SersIdSearchMixin
from students.models import Student


class WaiverDecisionForm(forms.Form):
    note = forms.CharField(
        label="Note to the student (optional)",
        help_text="Sent in the decision email and kept with each waiver.",
        required=False,
        max_length=Waiver._meta.get_field("decision_note").max_length,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
    )


def money_in_warnings(waivers) -> list[str]:
    """Why granting each of these waiting waivers would leave its year overpaid, in words.

    One line per waiver whose year already has money paid, or a card payment still
    processing (a bank transfer); the accounts come from the selector in fixed queries.
    """
    waiting = [waiver for waiver in waivers if waiver.status == Waiver.Status.REQUESTED]
    accounts = fee_accounts([waiver.student_year for waiver in waiting])
    warnings = []
    for waiver in waiting:
        account = accounts.get(waiver.student_year_id)
        if account is not None:
            warning = money_in_warning(account)
            if warning:
                warnings.append(warning)
    return warnings


def money_in_warning(account: YearAccount) -> str:
    """What granting a waiver does to a year with money in; "" when there is none to lose.

    A granted waiver takes the fees to $0.00, so every dollar paid becomes an overpayment
    (balance = fees − payments − waivers), and fees are non-refundable. A year already
    waived is overpaid already: a second waiver changes nothing there.
    """
    processing = account.processing_checkout
    if account.granted_waiver or not (account.total_paid > 0 or processing):
        return ""
    student = account.student
    paid = account.total_paid
    facts = []
    if paid > 0:
        facts.append(f"{dollars(paid)} already paid ({payments_in_words(account.payments)})")
    if processing:
        facts.append(
            f"a card payment of {dollars(processing.amount)} is still processing "
            "(a bank transfer that has not cleared)"
        )
    if paid > 0 and processing:
        outcome = (
            f"Granting this waiver makes the year overpaid by {dollars(paid)}, and by "
            f"{dollars(paid + processing.amount)} if the bank transfer goes through."
        )
    elif processing:
        outcome = (
            "If the bank transfer goes through, granting this waiver makes the year overpaid "
            f"by {dollars(processing.amount)}."
        )
    else:
        outcome = f"Granting this waiver makes the year overpaid by {dollars(paid)}."
    return (
        f"{student.sers_id} {student.full_name}, {account.label}: {', and '.join(facts)}. "
        f"{outcome} Fees are non-refundable: nothing is paid back."
    )


def payments_in_words(payments: list[Payment]) -> str:
    """The year's payments as staff find them: method and receipt, amounts when several."""
    if len(payments) == 1:
        payment = payments[0]
        return f"{payment.get_method_display().lower()}, receipt {payment.receipt_number}"
    return "; ".join(
        f"{payment.get_method_display().lower()} {dollars(payment.amount)}, "
        f"receipt {payment.receipt_number}"
        for payment in payments
    )


REQUESTED_FIRST = Case(
    When(status=Waiver.Status.REQUESTED, then=Value(0)),
    default=Value(1),
    output_field=IntegerField(),
).asc()


@admin.register(Waiver)
class WaiverAdmin(
    ConsortiumScopedAdmin,
    StudentYearLinks,
    SersIdSearchMixin,
    StatusThroughServicesMixin,
    SimpleHistoryAdmin,
):
    consortium_lookup = "student_year__consortium"
    sers_id_lookup = "student_year__student__sers_id"
    list_display = [
        "sers_id",
        "student_name",
        "year",
        "reason",
        "status",
        "short_note",
        "created_at",
        "decided_by_name",
    ]
    list_filter = [
        "status",
        "reason",
        "student_year__school_year",
        ("student_year__consortium", admin.RelatedOnlyFieldListFilter),
    ]
    list_select_related = [
        "student_year__student",
        "student_year__consortium",
        # Each row's name (the checkbox label) names its school year.
        "student_year__school_year",
        "decided_by",
    ]
    ordering = [REQUESTED_FIRST, "created_at"]
    search_fields = [
        "student_year__student__legal_first_name",
        "student_year__student__legal_last_name",
    ]
    search_help_text = "SERS ID (any form, like tp3 07 4412) or student name."
    readonly_fields = [
        "student_link",
        "student_year_link",
        "fee_account",
        "free_reduced_lunch",
        "reason",
        "note",
        "created_at",
        "status",
        "decision_note",
        "decided_by_name",
        "decided_at",
    ]
    fieldsets = [
        (
            "Request",
            {
                "fields": [
                    "student_link",
                    "student_year_link",
                    "fee_account",
                    "free_reduced_lunch",
                    "reason",
                    "note",
                    "created_at",
                ]
            },
        ),
        (
            "Decision",
            {
                "description": "To decide, select the waiver on the list and choose “Grant "
                "selected waivers” or “Deny selected waivers”. The student gets an email.",
                "fields": ["status", "decision_note", "decided_by_name", "decided_at"],
            },
        ),
    ]
    actions = ["grant", "deny"]

    def has_add_permission(self, request):
        # Students ask on their fees page; free-lunch waivers are opened from the list.
        return False

    def has_change_permission(self, request, obj=None):
        # The page shows a waiver; deciding is the list's actions, through the services.
        if obj is not None:
            return False
        return super().has_change_permission(request)

    def describe(self, waiver):
        student = waiver.student_year.student
        return (
            f"{student.sers_id} {student.full_name} – {waiver.get_reason_display()}, "
            f"{school_year_label(waiver.student_year.school_year_id)} "
            f"({waiver.get_status_display()})"
        )

    sers_id = related_column("SERS ID", "student_year__student__sers_id")
    student_name = related_column(
        "student",
        "student_year__student__full_name",
        ordering="student_year__student__legal_last_name",
    )
    year = related_column(
        "school year",
        "student_year__school_year_id",
        ordering="student_year__school_year",
        show=school_year_label,
    )

    @admin.display(description="note")
    def short_note(self, waiver):
        return Truncator(waiver.note).chars(60)

    @admin.display(description="decided by", ordering="decided_by__last_name")
    def decided_by_name(self, waiver):
        return user_name(waiver.decided_by) if waiver.decided_by_id else "-"

    @admin.display(description="free or reduced-price lunch (student's profile)", boolean=True)
    def free_reduced_lunch(self, waiver):
        return waiver.student_year.student.free_reduced_lunch

    # --- Deciding in bulk --------------------------------------------------------------------

    @admin.action(description="Grant selected waivers", permissions=["change"])
    def grant(self, request, queryset):
        return self._decide(
            request,
            queryset,
            action="grant",
            decide=waiver_grant,
            title="Grant fee waivers",
            intro="The fees of each student's year become $0.00 (the consortium fee and any late "
            "fee). Each student gets an email.",
            button="Grant these waivers",
            done="Granted",
        )

    @admin.action(description="Deny selected waivers", permissions=["change"])
    def deny(self, request, queryset):
        return self._decide(
            request,
            queryset,
            action="deny",
            decide=waiver_deny,
            title="Deny fee waivers",
            intro="Each student gets an email saying the waiver was denied, with the note you "
            "give here, and still owes the year's fees.",
            button="Deny these waivers",
            done="Denied",
        )

    def _decide(self, request, queryset, *, action, decide, title, intro, button, done):
        queryset = queryset.select_related("student_year__student").order_by("created_at", "pk")
        form = WaiverDecisionForm(request.POST if confirmed(request) else None)
        if not form.is_valid():
            page = self.confirm_action(
                request,
                queryset,
                action=action,
                title=title,
                intro=intro,
                note=self._already_decided_note(queryset),
                button=button,
                form=form,
            )
            if action == "grant":
                # Money already in (or on its way) stays when the fees become $0.00: say so
                # before staff confirm, not after the year shows up overpaid.
                page.template_name = "admin/payments/waiver/grant_confirmation.html"
                page.context_data["money_in"] = money_in_warnings(queryset)
            return page
        note = form.cleaned_data["note"]
        changed = already = 0
        unreachable = []
        for waiver in queryset:
            try:
                decided = decide(waiver=waiver, staff_user=request.user, note=note)
            except stripe.StripeError:
                unreachable.append(waiver.student_year.student.sers_id)
                continue
            if decided:
                self.log_change(request, waiver, f"{done}. {note}".strip())
                changed += 1
            else:
                already += 1
        message = f"{done} {plural(changed, 'waiver')}."
        if already:
            message += (
                f" {plural(already, 'was', 'were')} already decided and left as "
                f"{'it was' if already == 1 else 'they were'}."
            )
        self.message_user(request, message, messages.SUCCESS if changed else messages.WARNING)
        if unreachable:
            self.message_user(
                request,
                f"Not decided, because Stripe did not answer while closing an open card payment "
                f"page: {', '.join(unreachable)}. Try these again in a minute.",
                messages.ERROR,
            )
        return None

    def _already_decided_note(self, queryset) -> str:
        decided = queryset.exclude(status=Waiver.Status.REQUESTED).count()
        if decided == 0:
            return ""
        if decided == 1:
            return "1 of these is already decided and will be left as it is."
        return f"{decided} of these are already decided and will be left as they are."

    # --- Opening the free-lunch waivers ------------------------------------------------------

    def get_urls(self):
        return [
            path(
                "open-free-lunch/",
                self.admin_site.admin_view(self.open_free_lunch_view),
                name="payments_waiver_open_free_lunch",
            ),
            *super().get_urls(),
        ]

    def open_free_lunch_view(self, request):
        """Asks once, then opens a waiting waiver for every unpaid free/reduced-lunch year."""
        if not self.has_change_permission(request):
            raise PermissionDenied
        changelist = reverse("admin:payments_waiver_changelist")
        if request.method == "POST":
            created = free_lunch_waivers_open(
                consortium_ids=None
                if is_state_office(request.user)
                else staff_consortium_ids(request.user)
            )
            if created:
                self.message_user(
                    request,
                    f"Opened {plural(created, 'waiting free/reduced-lunch waiver')}. "
                    "They are listed here, waiting for your decision.",
                    messages.SUCCESS,
                )
            else:
                self.message_user(
                    request,
                    "No new waivers: every unpaid year of a student on free or reduced-price "
                    "lunch already has one.",
                    messages.INFO,
                )
            return HttpResponseRedirect(
                f"{changelist}?status__exact={Waiver.Status.REQUESTED}"
                f"&reason__exact={Waiver.Reason.FREE_REDUCED_LUNCH}"
            )
        context = {
            **self.admin_site.each_context(request),
            "title": "Open waiting free/reduced-lunch waivers",
            "subtitle": None,
            "opts": self.opts,
            "students": scoped_rows(
                self.admin_site, request, Student.objects.filter(free_reduced_lunch=True)
            ).count(),
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/payments/waiver/open_free_lunch.html", context)
