"""Payments in the admin: listed and totalled, found by receipt number or SERS ID, and checks
and money orders recorded (through ``payment_record_offline``). Payments are a ledger: staff
add checks and money orders, never edit or delete a payment."""

import re
from decimal import Decimal

import stripe
from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.widgets import AdminDateWidget
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Sum
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from simple_history.admin import SimpleHistoryAdmin

from articulations.models import Consortium, SchoolYear
from articulations.school_year import local_today, school_year_label, start_year_on
from payments.admin.common import StudentYearLinks, account_of, related_column, user_name
from payments.models import Payment
from payments.selectors import year_accounts
from payments.services.ledger import PaymentRefused
from payments.services.offline import payment_record_offline
from sers.admin_tools import (
    DATE_FORMATS,
    ConsortiumScopedAdmin,
    StatusThroughServicesMixin,
    scoped_rows,
)
from sers.formatting import dollars
from sers.sers_id import EXAMPLE, InvalidSersId, parse_sers_id
from students.admin import sers_id_matches
from students.models import Student

# A receipt number as printed on the receipt, R-0000012, or typed loosely: r12.
RECEIPT_NUMBER = re.compile(r"^R-?\s*0*([0-9]{1,9})$", re.IGNORECASE)


STRIPE_UNREACHABLE = (
    "Stripe did not answer while closing the student's open card payment page, so nothing "
    "was recorded. Try again in a minute."
)


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

    def __init__(self, *args, students=None, consortia=None, **kwargs):
        super().__init__(*args, **kwargs)
        # The students and consortia the staff user may record a check for: their consortia's.
        self.students = Student.objects.all() if students is None else students
        if consortia is not None:
            self.fields["consortium"].queryset = consortia
        today = local_today()
        self.fields["school_year"].initial = start_year_on(today)
        self.fields["received_on"].initial = today

    def clean_sers_id(self):
        typed = self.cleaned_data["sers_id"]
        try:
            sers_id = parse_sers_id(typed)
        except InvalidSersId as error:
            raise forms.ValidationError(str(error)) from None
        # Another consortium's student is "not found" with the same words as a missing one.
        student = self.students.filter(sers_id=sers_id).first()
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
            allowed = self.fields["consortium"].queryset
            found = cleaned_data["consortium"]
            if found is not None and not allowed.filter(pk=found.pk).exists():
                cleaned_data["consortium"] = None
                self.add_error("consortium", "Choose the consortium the check was mailed to.")
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
class PaymentAdmin(
    ConsortiumScopedAdmin, StudentYearLinks, StatusThroughServicesMixin, SimpleHistoryAdmin
):
    consortium_lookup = "student_year__consortium"
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
        form = RecordOfflinePaymentForm(
            request.POST if request.method == "POST" else None,
            students=scoped_rows(self.admin_site, request, Student.objects.all()),
            consortia=scoped_rows(self.admin_site, request, Consortium.objects.order_by("name")),
        )
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
