from django.contrib import admin, messages
from django.db.models import (
    QuerySet,
)
from django.http import HttpRequest
from django.utils.translation import ngettext

from outbox.models import OutboxEmail
from outbox.services import email_resend
from sers.admin_tools import ConsortiumScopedAdmin


@admin.register(OutboxEmail)
class OutboxEmailAdmin(ConsortiumScopedAdmin, admin.ModelAdmin):
    """What SERS sent. Consortium staff see the emails about their consortia's students."""

    consortium_lookup = "consortium_id"

    list_display = ["created_at", "kind", "recipient", "subject", "status", "attempts", "sent_at"]
    list_filter = ["status", "kind"]
    search_fields = ["recipient", "subject", "about", "unique_key"]
    list_per_page = 50
    actions = ["resend"]
    fields = [
        "status",
        "kind",
        "recipient",
        "subject",
        "about",
        "created_at",
        "attempts",
        "last_error",
        "retry_at",
        "sent_at",
        "unique_key",
        "body_text",
        "body_html",
    ]
    # The outbox is a record of what SERS sent: staff read it and resend, never edit it.
    readonly_fields = fields

    def get_search_results(self, request, queryset, search_term):
        # A SERS ID however it was typed ("tp3 07 4412", "074412") finds that student's mail.
        from sers.sers_id import InvalidSersId, parse_sers_id

        try:
            sers_id = parse_sers_id(search_term)
        except InvalidSersId:
            return super().get_search_results(request, queryset, search_term)
        return queryset.filter(about__icontains=sers_id), False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: OutboxEmail | None = None) -> bool:
        return False

    @admin.action(
        description="Resend selected emails",
        permissions=["change"],
        location=[admin.ActionLocation.CHANGE_LIST, admin.ActionLocation.CHANGE_FORM],
    )
    def resend(self, request: HttpRequest, queryset: QuerySet[OutboxEmail]) -> None:
        # A sent email is never sent twice from here; only failed or waiting ones.
        resendable = queryset.filter(
            status__in=[OutboxEmail.Status.FAILED, OutboxEmail.Status.READY]
        )
        queued = 0
        for email in resendable:
            if email_resend(email=email):
                queued += 1
                self.log_change(request, email, "Queued again for sending.")
        left_alone = queryset.count() - queued
        message = ngettext(
            "%(count)d email queued to send again.",
            "%(count)d emails queued to send again.",
            queued,
        ) % {"count": queued}
        if left_alone:
            message += " " + ngettext(
                "%(count)d was already sent and was left alone.",
                "%(count)d were already sent and were left alone.",
                left_alone,
            ) % {"count": left_alone}
        self.message_user(request, message, messages.SUCCESS if queued else messages.WARNING)
