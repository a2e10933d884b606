"""Stripe's side in the admin, to look at only: card payment pages (Checkout sessions), the
events handled, and webhook deliveries that failed (and whether a later one worked)."""

from django.contrib import admin
from django.db.models import Exists, OuterRef
from django.utils.text import Truncator

from articulations.school_year import school_year_label
from payments.admin.common import StudentYearLinks, related_column
from payments.models import CheckoutSession, StripeEvent, StripeWebhookFailure
from sers.admin_tools import ConsortiumScopedAdmin, ReadOnlyAdminMixin
from sers.formatting import dollars
from students.admin import SersIdSearchMixin


@admin.register(CheckoutSession)
class CheckoutSessionAdmin(
    ConsortiumScopedAdmin, StudentYearLinks, SersIdSearchMixin, ReadOnlyAdminMixin, admin.ModelAdmin
):
    consortium_lookup = "student_year__consortium"
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
