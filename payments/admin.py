"""Fees in the admin: checks recorded, payments listed and totalled, waivers decided.

Every write goes through ``payments.services`` (a check is recorded by
``payment_record_offline``, a waiver decided by ``waiver_grant``/``waiver_deny``)
and every balance and state comes from ``payments.selectors``. Payments are a
ledger: staff add checks and money orders, never edit or delete a payment.
Lists fetch their relations with the rows, so a page makes the same few queries
however long it is; a SERS ID typed in any form finds that student's rows.
"""

import re
from decimal import Decimal

import stripe
from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.views.main import SEARCH_VAR, ChangeList
from django.contrib.admin.widgets import AdminDateWidget
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import (
    Case,
    Count,
    Exists,
    IntegerField,
    OuterRef,
    Sum,
    Value,
    When,
)
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.text import Truncator
from simple_history.admin import SimpleHistoryAdmin

from articulations.models import Consortium, SchoolYear
from articulations.school_year import local_today, school_year_label, start_year_on
from payments.models import (
    CheckoutSession,
    Payment,
    StripeEvent,
    StripeWebhookFailure,
    StudentYear,
    Waiver,
)
from payments.selectors import YearAccount, accounts_of_student_years, year_account, year_accounts
from payments.services import (
    PaymentRefused,
    free_lunch_waivers_open,
    payment_record_offline,
    waiver_deny,
    waiver_grant,
)
from sers.admin_tools import DATE_FORMATS, StatusThroughServicesMixin, confirmed, plural
from sers.formatting import dollars
from sers.sers_id import EXAMPLE, InvalidSersId, parse_sers_id
from students.admin import SersIdSearchMixin, sers_id_matches
from students.models import Student

# A receipt number as printed on the receipt, R-0000012, or typed loosely: r12.
RECEIPT_NUMBER = re.compile(r"^R-?\s*0*([0-9]{1,9})$", re.IGNORECASE)

STRIPE_UNREACHABLE = (
    "Stripe did not answer while closing the student's open card payment page, so nothing "
    "was recorded. Try again in a minute."
)


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


class ReadOnlyAdminMixin:
    """A record SERS keeps: staff look, never add, change or delete here."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


# --- Payments ----------------------------------------------------------------------------------


class DollarsField(forms.DecimalField):
    """An amount as staff copy it from a check: 50, 50.00, $50.00 or $1,050.00."""

    def to_python(self, value):
        if isinstance(value, str):
            value = value.strip().replace("$", "").replace(",", "")
        return super().to_python(value)


class RecordOfflinePaymentForm(forms.Form):
    sers_id = forms.CharField(
        label="SERS ID",
        max_length=30,
        help_text=f"As written on the check or its stub, in any form: {EXAMPLE}, "
        "tp3 07 4412 or 074412.",
        widget=forms.TextInput({"autocomplete": "off", "autofocus": True}),
        error_messages={"required": "Enter the student's SERS ID."},
    )
    school_year = forms.ModelChoiceField(
        label="School year",
        queryset=SchoolYear.objects.order_by("-start_year"),
        error_messages={"required": "Choose the school year the fee is for."},
    )
    consortium = forms.ModelChoiceField(
        label="Consortium",
        queryset=Consortium.objects.order_by("name"),
        required=False,
        empty_label="The consortium of the student's classes that year",
        help_text="Leave as it is unless the student has classes with two consortia that year.",
    )
    method = forms.ChoiceField(
        label="Paid by",
        choices=[
            (Payment.Method.CHECK, Payment.Method.CHECK.label),
            (Payment.Method.MONEY_ORDER, Payment.Method.MONEY_ORDER.label),
        ],
        initial=Payment.Method.CHECK,
        widget=forms.RadioSelect,
    )
    payer = forms.CharField(
        label="Payer",
        max_length=Payment._meta.get_field("payer").max_length,
        help_text="The name printed on the check or money order.",
        error_messages={"required": "Enter the name on the check or money order."},
    )
    reference = forms.CharField(
        label="Check or money-order number",
        max_length=Payment._meta.get_field("reference").max_length,
        error_messages={"required": "Enter the check or money-order number."},
    )
    amount = DollarsField(
        label="Amount",
        max_digits=7,
        decimal_places=2,
        help_text="In dollars, like 50.00.",
        error_messages={
            "required": "Enter the amount.",
            "invalid": "Enter the amount in dollars, like 50.00.",
        },
    )
    received_on = forms.DateField(
        label="Date received",
        input_formats=DATE_FORMATS,
        widget=AdminDateWidget,
        help_text="The day the consortium received it, like 2/1/2027.",
        error_messages={
            "required": "Enter the date the check arrived.",
            "invalid": "Enter the date like 2/1/2027.",
        },
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        today = local_today()
        self.fields["school_year"].initial = start_year_on(today)
        self.fields["received_on"].initial = today

    def clean_sers_id(self):
        typed = self.cleaned_data["sers_id"]
        try:
            sers_id = parse_sers_id(typed)
        except InvalidSersId as error:
            raise forms.ValidationError(str(error)) from None
        student = Student.objects.filter(sers_id=sers_id).first()
        if student is None:
            raise forms.ValidationError(
                f"No student has the SERS ID {sers_id}. Check it against the check or its "
                "stub, or find the student under Students by name."
            )
        self.student = student
        return sers_id

    def clean_received_on(self):
        received_on = self.cleaned_data["received_on"]
        if received_on > local_today():
            raise forms.ValidationError("The date received cannot be in the future.")
        return received_on

    def clean(self):
        cleaned_data = super().clean()
        school_year = cleaned_data.get("school_year")
        student = getattr(self, "student", None)
        if student and school_year and not cleaned_data.get("consortium"):
            cleaned_data["consortium"] = self._consortium_of(student, school_year)
        return cleaned_data

    def _consortium_of(self, student: Student, school_year: SchoolYear) -> Consortium | None:
        that_year = [
            account
            for account in year_accounts(student)
            if account.terms.start_year == school_year.start_year
        ]
        candidates = [account for account in that_year if account.has_registration] or that_year
        if len(candidates) == 1:
            return candidates[0].consortium
        if not candidates:
            self.add_error(
                "consortium",
                f"{student.sers_id} has no classes registered in {school_year.label}. "
                "Choose the consortium the check was mailed to.",
            )
        else:
            names = ", ".join(account.consortium.name for account in candidates)
            self.add_error(
                "consortium",
                f"{student.sers_id} has classes with more than one consortium in "
                f"{school_year.label} ({names}): choose the one the check was mailed to.",
            )
        return None


def payment_totals(queryset) -> list[dict]:
    """Count and sum per school year and method of the listed payments, in one query."""
    groups = list(
        queryset.order_by()
        .values("student_year__school_year", "method")
        .annotate(count=Count("pk"), total=Sum("amount"))
        .order_by("-student_year__school_year", "method")
    )
    rows = [
        {
            "year": school_year_label(group["student_year__school_year"]),
            "method": Payment.Method(group["method"]).label,
            "count": group["count"],
            "total": dollars(group["total"]),
        }
        for group in groups
    ]
    if len(rows) > 1:
        rows.append(
            {
                "year": "All years",
                "method": "All methods",
                "count": sum(group["count"] for group in groups),
                "total": dollars(sum((group["total"] for group in groups), Decimal("0"))),
                "is_total": True,
            }
        )
    return rows


@admin.register(Payment)
class PaymentAdmin(StudentYearLinks, StatusThroughServicesMixin, SimpleHistoryAdmin):
    list_display = [
        "receipt",
        "sers_id",
        "student_name",
        "year",
        "consortium",
        "method",
        "amount_display",
        "reference",
        "received_on",
        "recorded_by_name",
        "overpayment",
    ]
    list_filter = [
        "student_year__school_year",
        "method",
        ("student_year__consortium", admin.RelatedOnlyFieldListFilter),
        "is_overpayment",
    ]
    date_hierarchy = "received_on"
    list_select_related = ["student_year__student", "student_year__consortium", "recorded_by"]
    search_fields = [
        "student_year__student__legal_first_name",
        "student_year__student__legal_last_name",
        "payer",
        "reference",
        "stripe_checkout_session_id",
        "stripe_payment_intent_id",
    ]
    search_help_text = (
        "SERS ID (any form, like tp3 07 4412), receipt number (R-0000012), student or payer "
        "name, check number, or a Stripe id (cs_…, pi_…)."
    )
    readonly_fields = [
        "receipt",
        "student_link",
        "student_year_link",
        "fee_account",
        "method",
        "amount_display",
        "payer",
        "reference",
        "received_on",
        "is_overpayment",
        "recorded_by_name",
        "created_at",
        "stripe_checkout_session_id",
        "stripe_payment_intent_id",
    ]
    fieldsets = [
        (None, {"fields": ["receipt", "student_link", "student_year_link", "fee_account"]}),
        (
            "Payment",
            {
                "description": "Payments are never changed or deleted: fees are non-refundable, "
                "and an overpayment stays on record, flagged.",
                "fields": [
                    "method",
                    "amount_display",
                    "payer",
                    "reference",
                    "received_on",
                    "is_overpayment",
                ],
            },
        ),
        (
            "Record",
            {
                "fields": [
                    "recorded_by_name",
                    "created_at",
                    "stripe_checkout_session_id",
                    "stripe_payment_intent_id",
                ]
            },
        ),
    ]
    add_form_template = "admin/payments/payment/record_offline.html"

    # --- Never edited, never deleted ---------------------------------------------------------

    def has_change_permission(self, request, obj=None):
        return False

    # --- Columns -----------------------------------------------------------------------------

    def describe(self, payment):
        return f"{payment.receipt_number} {payment}"

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
    consortium = related_column("consortium", "student_year__consortium__name")

    @admin.display(description="receipt", ordering="pk")
    def receipt(self, payment):
        return payment.receipt_number

    @admin.display(description="amount", ordering="amount")
    def amount_display(self, payment):
        return dollars(payment.amount)

    @admin.display(description="overpayment", boolean=True, ordering="is_overpayment")
    def overpayment(self, payment):
        return payment.is_overpayment

    @admin.display(description="recorded by", ordering="recorded_by__last_name")
    def recorded_by_name(self, payment):
        if payment.recorded_by_id is None:
            return "Stripe" if payment.method == Payment.Method.CARD else "-"
        return user_name(payment.recorded_by)

    # --- Search ------------------------------------------------------------------------------

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        receipt = RECEIPT_NUMBER.match(term)
        if receipt:
            return queryset.filter(pk=int(receipt[1])), False
        found = sers_id_matches(queryset, term, "student_year__student__sers_id")
        if found is not None:
            # Six digits are a SERS ID without its prefix, or a check number.
            return found | queryset.filter(reference=term), False
        return super().get_search_results(request, queryset, search_term)

    # --- The list, with totals ---------------------------------------------------------------

    def changelist_view(self, request, extra_context=None):
        response = super().changelist_view(request, extra_context)
        context = getattr(response, "context_data", None)
        if context and "cl" in context:
            # Over the rows the filters and the search chose, not just this page.
            context["totals"] = payment_totals(context["cl"].queryset)
        return response

    # --- Recording a check or money order ----------------------------------------------------

    def add_view(self, request, form_url="", extra_context=None):
        """The page where staff record a check or money order; the service does the write."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = RecordOfflinePaymentForm(request.POST if request.method == "POST" else None)
        if request.method == "POST" and form.is_valid():
            payment = self._record(request, form)
            if payment is not None:
                return self._recorded(request, payment)
        fieldsets = [
            (None, {"fields": ["sers_id", "school_year", "consortium"]}),
            (
                "The check or money order",
                {"fields": ["method", "payer", "reference", "amount", "received_on"]},
            ),
        ]
        admin_form = helpers.AdminForm(form, fieldsets, {}, model_admin=self)
        context = {
            **self.admin_site.each_context(request),
            "title": "Record a check or money order",
            "subtitle": None,
            "opts": self.opts,
            "adminform": admin_form,
            "form": form,
            "errors": helpers.AdminErrorList(form, []),
            "media": self.media + form.media,
            "has_view_permission": self.has_view_permission(request),
            **(extra_context or {}),
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, self.add_form_template, context)

    def _record(self, request, form) -> Payment | None:
        data = form.cleaned_data
        try:
            return payment_record_offline(
                student=form.student,
                consortium_id=data["consortium"].pk,
                start_year=data["school_year"].start_year,
                method=data["method"],
                payer=data["payer"],
                reference=data["reference"],
                amount=data["amount"],
                received_on=data["received_on"],
                staff_user=request.user,
            )
        except PaymentRefused as refusal:
            form.add_error(refusal.field if refusal.field in form.fields else None, str(refusal))
        except stripe.StripeError:
            form.add_error(None, STRIPE_UNREACHABLE)
        return None

    def _recorded(self, request, payment):
        self.log_addition(request, payment, [{"added": {}}])
        student = payment.student_year.student
        account = account_of(payment.student_year)
        self.message_user(
            request,
            f"Recorded receipt {payment.receipt_number}: {payment.get_method_display().lower()} "
            f"{payment.reference}, {dollars(payment.amount)}, for {student.sers_id} "
            f"{student.full_name}. {school_year_label(payment.student_year.school_year_id)} is "
            f"now {account.state.label.lower()}, balance {dollars(account.balance)}. "
            f"A receipt is emailed to {student.email}.",
            messages.SUCCESS,
        )
        if payment.is_overpayment:  # the service's decision, under the year's lock
            self.message_user(
                request,
                f"This is more than {student.sers_id} owed for the year. It is kept and flagged "
                "as an overpayment on the list of fee years that need attention; fees are "
                "non-refundable.",
                messages.WARNING,
            )
        if "_addanother" in request.POST:
            return HttpResponseRedirect(reverse("admin:payments_payment_add"))
        return HttpResponseRedirect(reverse("admin:payments_payment_change", args=[payment.pk]))


# --- Waivers -----------------------------------------------------------------------------------


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
    StudentYearLinks, SersIdSearchMixin, StatusThroughServicesMixin, SimpleHistoryAdmin
):
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
            created = free_lunch_waivers_open()
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
            "students": Student.objects.filter(free_reduced_lunch=True).count(),
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/payments/waiver/open_free_lunch.html", context)


# --- Student fee years: what needs attention ---------------------------------------------------


class NeedsAttentionFilter(admin.SimpleListFilter):
    """Opens on the years that need attention; a search looks at every year."""

    title = "needs attention"
    parameter_name = "attention"
    NEEDS = "yes"
    CARD_FAILED = "card_failed"
    NOTHING = "no"
    ALL = "all"

    def __init__(self, request, params, model, model_admin):
        super().__init__(request, params, model, model_admin)
        self.default = self.ALL if request.GET.get(SEARCH_VAR) else self.NEEDS

    def lookups(self, request, model_admin):
        return [
            (self.NEEDS, "Needs attention"),
            (self.CARD_FAILED, "A card payment failed"),
            (self.NOTHING, "Nothing to look at"),
            (self.ALL, "All"),
        ]

    def value(self):
        return super().value() or self.default

    def queryset(self, request, queryset):
        value = self.value()
        if value == self.NEEDS:
            return queryset.filter(needs_attention=True)
        if value == self.NOTHING:
            return queryset.filter(needs_attention=False)
        if value == self.CARD_FAILED:
            return queryset.filter(
                Exists(
                    CheckoutSession.objects.filter(
                        student_year=OuterRef("pk"), status=CheckoutSession.Status.FAILED
                    )
                )
            )
        return queryset

    def choices(self, changelist):
        for lookup, title in self.lookup_choices:
            yield {
                "selected": self.value() == lookup,
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }


class FeeAccountChangeList(ChangeList):
    def get_results(self, request):
        super().get_results(request)
        # The page's accounts at once; the rows are the ones the template shows.
        rows = list(self.result_list)
        accounts = fee_accounts(rows)
        for row in rows:
            row.fee_account_of_list = accounts[row.pk]


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class PaymentInline(ReadOnlyInline):
    model = Payment
    fields = [
        "receipt",
        "method",
        "amount_display",
        "payer",
        "reference",
        "received_on",
        "is_overpayment",
        "recorded_by",
    ]
    readonly_fields = fields
    ordering = ["received_on", "pk"]

    @admin.display(description="receipt")
    def receipt(self, payment):
        return format_html(
            '<a href="{}">{}</a>',
            reverse("admin:payments_payment_change", args=[payment.pk]),
            payment.receipt_number,
        )

    @admin.display(description="amount")
    def amount_display(self, payment):
        return dollars(payment.amount)


class WaiverInline(ReadOnlyInline):
    model = Waiver
    fields = ["waiver", "status", "note", "decision_note", "decided_by", "decided_at"]
    readonly_fields = fields

    @admin.display(description="waiver")
    def waiver(self, waiver):
        return format_html(
            '<a href="{}">{}</a>',
            reverse("admin:payments_waiver_change", args=[waiver.pk]),
            waiver.get_reason_display(),
        )


class CheckoutSessionInline(ReadOnlyInline):
    model = CheckoutSession
    verbose_name = "card payment page (Stripe Checkout)"
    verbose_name_plural = "card payment pages (Stripe Checkout)"
    fields = ["stripe_session_id", "attempt", "amount_display", "status", "created_at"]
    readonly_fields = fields
    ordering = ["attempt"]

    @admin.display(description="amount")
    def amount_display(self, checkout):
        return dollars(checkout.amount)


class DealtWithForm(forms.Form):
    note = forms.CharField(
        label="What was done (optional)",
        help_text="Kept in each year's history.",
        required=False,
        max_length=100,
        widget=forms.TextInput(attrs={"size": 60}),
    )


@admin.register(StudentYear)
class StudentYearAdmin(
    StudentYearLinks, SersIdSearchMixin, StatusThroughServicesMixin, SimpleHistoryAdmin
):
    student_year_path = ""
    sers_id_lookup = "student__sers_id"
    list_display = [
        "sers_id",
        "student_name",
        "year",
        "consortium_name",
        "fee_state",
        "balance",
        "needs_attention",
        "attention_note",
    ]
    list_filter = [
        NeedsAttentionFilter,
        "school_year",
        ("consortium", admin.RelatedOnlyFieldListFilter),
    ]
    # Each row's name (the checkbox label) names its school year.
    list_select_related = ["student", "consortium", "school_year"]
    ordering = ["-school_year", "student__legal_last_name", "student__legal_first_name"]
    search_fields = ["student__legal_first_name", "student__legal_last_name"]
    search_help_text = "SERS ID (any form, like tp3 07 4412) or student name."
    readonly_fields = ["student_link", "school_year", "consortium", "fee_account", "created_at"]
    fieldsets = [
        (
            None,
            {"fields": ["student_link", "school_year", "consortium", "fee_account", "created_at"]},
        ),
        ("Attention", {"fields": ["needs_attention", "attention_note"]}),
    ]
    inlines = [PaymentInline, WaiverInline, CheckoutSessionInline]
    actions = ["mark_dealt_with"]

    def has_add_permission(self, request):
        # A fee year opens when the student pays, asks for a waiver or staff record a check.
        return False

    def get_changelist(self, request, **kwargs):
        return FeeAccountChangeList

    def changelist_view(self, request, extra_context=None):
        # Failed webhooks are part of what needs attention: one click away, with their count.
        failures = StripeWebhookFailure.objects.filter(~Exists(handled_since())).count()
        return super().changelist_view(
            request, {"webhook_failures": failures, **(extra_context or {})}
        )

    def describe(self, student_year):
        note = f": {student_year.attention_note}" if student_year.attention_note else ""
        return (
            f"{student_year.student.sers_id} {student_year.student.full_name}, "
            f"{school_year_label(student_year.school_year_id)}, {student_year.consortium}{note}"
        )

    sers_id = related_column("SERS ID", "student__sers_id")
    student_name = related_column(
        "student", "student__full_name", ordering="student__legal_last_name"
    )
    year = related_column(
        "school year", "school_year_id", ordering="school_year", show=school_year_label
    )
    consortium_name = related_column("consortium", "consortium__name")

    def _list_account(self, student_year) -> YearAccount | None:
        account = getattr(student_year, "fee_account_of_list", None)
        return account if account is not None else account_of(student_year)

    @admin.display(description="fee state")
    def fee_state(self, student_year):
        return self._list_account(student_year).state.label

    @admin.display(description="balance")
    def balance(self, student_year):
        return dollars(self._list_account(student_year).balance)

    def _not_flagged_note(self, count: int) -> str:
        if count == 0:
            return ""
        if count == 1:
            return "1 of these does not need attention and will be left as it is."
        return f"{count} of these do not need attention and will be left as they are."

    @admin.action(description="Mark as dealt with", permissions=["change"])
    def mark_dealt_with(self, request, queryset):
        queryset = queryset.select_related("student", "consortium").order_by("pk")
        form = DealtWithForm(request.POST if confirmed(request) else None)
        if not form.is_valid():
            flagged_off = queryset.filter(needs_attention=False).count()
            return self.confirm_action(
                request,
                queryset,
                action="mark_dealt_with",
                title="Mark fee years as dealt with",
                intro="These years leave the needs-attention list. Their payments, waivers and "
                "notes stay as they are.",
                note=self._not_flagged_note(flagged_off),
                button="Mark as dealt with",
                form=form,
            )
        note = form.cleaned_data["note"]
        cleared = already = 0
        for student_year in queryset:
            # The lock the payment services take: an overpayment arriving now is not lost.
            with transaction.atomic():
                locked = StudentYear.objects.select_for_update().get(pk=student_year.pk)
                if not locked.needs_attention:
                    already += 1
                    continue
                locked.needs_attention = False
                locked._change_reason = f"Dealt with: {note}" if note else "Dealt with"
                locked.save(update_fields=["needs_attention"])
            self.log_change(request, locked, f"Marked as dealt with. {note}".strip())
            cleared += 1
        message = f"Marked {plural(cleared, 'fee year')} as dealt with."
        if already:
            message += (
                f" {plural(already, 'was', 'were')} not on the list and left as "
                f"{'it was' if already == 1 else 'they were'}."
            )
        self.message_user(request, message, messages.SUCCESS if cleared else messages.WARNING)
        return None


# --- Stripe's side: card payment pages, events, failed webhooks --------------------------------


@admin.register(CheckoutSession)
class CheckoutSessionAdmin(
    StudentYearLinks, SersIdSearchMixin, ReadOnlyAdminMixin, admin.ModelAdmin
):
    sers_id_lookup = "student_year__student__sers_id"
    list_display = [
        "stripe_session_id",
        "sers_id",
        "student_name",
        "year",
        "amount_display",
        "attempt",
        "status",
        "created_at",
    ]
    list_filter = ["status", "student_year__school_year"]
    list_select_related = ["student_year__student", "student_year__consortium"]
    search_fields = ["stripe_session_id", "student_year__student__legal_last_name"]
    search_help_text = "SERS ID (any form), Stripe session id (cs_…) or student last name."
    fields = [
        "stripe_session_id",
        "student_link",
        "student_year_link",
        "amount_display",
        "attempt",
        "status",
        "url",
        "created_at",
    ]
    readonly_fields = fields

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

    @admin.display(description="amount", ordering="amount")
    def amount_display(self, checkout):
        return dollars(checkout.amount)


@admin.register(StripeEvent)
class StripeEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["event_id", "type", "stripe_session_id", "received_at"]
    list_filter = ["type"]
    search_fields = ["event_id", "stripe_session_id"]
    search_help_text = "Stripe event id (evt_…) or session id (cs_…)."
    fields = list_display
    readonly_fields = fields


def handled_since():
    """The event of a failure handled by a later delivery: Stripe retried, and it worked."""
    return StripeEvent.objects.filter(event_id=OuterRef("event_id"))


class WebhookFailureStateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("failing", "Not handled yet"), ("handled", "Handled by a later delivery")]

    def queryset(self, request, queryset):
        if self.value() == "failing":
            return queryset.filter(handled=False)
        if self.value() == "handled":
            return queryset.filter(handled=True)
        return queryset


@admin.register(StripeWebhookFailure)
class StripeWebhookFailureAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["event_id", "type", "short_error", "failed_at", "handled_later"]
    list_filter = [WebhookFailureStateFilter, "type"]
    search_fields = ["event_id", "type", "error"]
    search_help_text = "Stripe event id (evt_…), event type or part of the error."
    fields = ["event_id", "type", "error", "failed_at", "handled_later"]
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(handled=Exists(handled_since()))

    @admin.display(description="error")
    def short_error(self, failure):
        return Truncator(failure.error).chars(100)

    @admin.display(description="handled by a later delivery", boolean=True, ordering="handled")
    def handled_later(self, failure):
        return failure.handled
