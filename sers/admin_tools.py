"""Admin building blocks every app's admin shares: typed dates, counted words, look-only history,
status changes through services with a confirmation page."""

import datetime as dt

from django import forms
from django.contrib import admin
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse

# Dates of birth as staff type them from a letter or an email.
DATE_FORMATS = ["%m/%d/%Y", "%Y-%m-%d", "%m-%d-%Y", "%m/%d/%y"]

# How many of the selected rows a confirmation page names; the rest are counted.
CONFIRMATION_ROWS_SHOWN = 50


def parse_typed_date(text: str) -> dt.date | None:
    for date_format in DATE_FORMATS:
        try:
            return dt.datetime.strptime(text.strip(), date_format).date()  # noqa: DTZ007 - a date, no time
        except ValueError:
            continue
    return None


def plural(count: int, singular: str, plural_form: str | None = None) -> str:
    return f"{count} {singular if count == 1 else (plural_form or singular + 's')}"


class HistoryLookOnlyMixin:
    """Old versions on the history page can be looked at, not restored.

    Reverting would write old values back without the service that guards them.
    """

    def revert_disabled(self, request, obj=None):
        return True

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        if request.method == "POST":
            raise PermissionDenied
        return super().history_form_view(request, object_id, version_id, extra_context)


class StatusThroughServicesMixin(HistoryLookOnlyMixin):
    """No hard delete, and no reverting to an old version from the history page."""

    def has_delete_permission(self, request, obj=None):
        return False

    def get_actions(self, request, action_location=admin.ActionLocation.CHANGE_LIST):
        actions = super().get_actions(request, action_location=action_location)
        actions.pop("delete_selected", None)
        return actions

    def confirm_action(
        self,
        request,
        queryset,
        *,
        action: str,
        title: str,
        intro: str,
        button: str,
        form: forms.Form | None = None,
        note: str = "",
    ) -> TemplateResponse:
        """The page a bulk action shows before it changes anything: the rows, a form, one button."""
        count = queryset.count()
        rows = [self.describe(obj) for obj in queryset[:CONFIRMATION_ROWS_SHOWN]]
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "subtitle": None,
            "opts": self.opts,
            "intro": intro,
            "note": note,
            "count": count,
            "rows": rows,
            "more": count - len(rows),
            "form": form,
            "button": button,
            "action": action,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "selected": request.POST.getlist(helpers.ACTION_CHECKBOX_NAME),
            "select_across": request.POST.get("select_across", "0"),
            "media": self.media + (form.media if form else forms.Media()),
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/action_confirmation.html", context)

    def describe(self, obj) -> str:
        return str(obj)


def confirmed(request) -> bool:
    """Whether this POST is the answer from a confirmation page, not the first click."""
    return request.POST.get("confirmed") == "yes"
