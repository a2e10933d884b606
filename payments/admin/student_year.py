"""Student fee years in the admin: the list of what needs attention (flagged years, failed
card payments, failed webhooks), each year with its payments, waivers and card pages."""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.views.main import SEARCH_VAR, ChangeList
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.urls import reverse
from django.utils.html import format_html
from simple_history.admin import SimpleHistoryAdmin

from articulations.school_year import school_year_label
from payments.admin.common import StudentYearLinks, account_of, fee_accounts, related_column
from payments.admin.stripe_records import handled_since
from payments.models import CheckoutSession, Payment, StripeWebhookFailure, StudentYear, Waiver
from payments.selectors import YearAccount
from sers.admin_tools import ConsortiumScopedAdmin, StatusThroughServicesMixin, confirmed, plural
from sers.formatting import dollars
from students.admin import SersIdSearchMixin


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
    ConsortiumScopedAdmin,
    StudentYearLinks,
    SersIdSearchMixin,
    StatusThroughServicesMixin,
    SimpleHistoryAdmin,
):
    student_year_path = ""
    consortium_lookup = "consortium"
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
