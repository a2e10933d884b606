"""Admin building blocks for the people staff invite: teachers, registrars, district staff.

A role's admin (``articulations.admin.TeacherAdmin``, ``credit_lists.admin.RegistrarAdmin``)
mixes in ``InvitationAdminMixin``: its add page asks for the person's name and email with
an ``InviteForm`` and makes the login through ``user_invite``, which mails the invitation;
its change page stays the role's own. The list gets an "activated" column and filter, and
the action "Resend the invitation" for those who have not chosen a password yet.
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import model_ngettext
from django.db import transaction
from django.http import HttpResponseRedirect

from invitations.services import (
    EMAIL_MAX_LENGTH,
    InvitationRefused,
    activated_q,
    email_in_use_problem,
    invitation_send,
    is_activated,
    user_invite,
)


class InviteForm(forms.ModelForm):
    """The add form of an invited role: the person's name and email, then the role's fields.

    Subclasses name the role's own fields in ``Meta`` (never ``user``: it is made here).
    """

    first_name = forms.CharField(
        label="First name", max_length=150, error_messages={"required": "Enter the first name."}
    )
    last_name = forms.CharField(
        label="Last name", max_length=150, error_messages={"required": "Enter the last name."}
    )
    email = forms.EmailField(
        label="Email",
        max_length=EMAIL_MAX_LENGTH,
        help_text="Their username, and where SERS sends the invitation to choose a password.",
        error_messages={
            "required": "Enter the email address.",
            "invalid": "Enter an email address like name@example.org.",
        },
    )

    def clean_email(self):
        email = self.cleaned_data["email"].strip()
        problem = email_in_use_problem(email)
        if problem:
            raise forms.ValidationError(problem)
        return email


class ActivatedFilter(admin.SimpleListFilter):
    """Who has followed the invitation and chosen a password, through the row's ``user``."""

    title = "activated"
    parameter_name = "activated"

    def lookups(self, request, model_admin):
        return [("yes", "yes"), ("no", "no: invitation not followed yet")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(activated_q("user"))
        if self.value() == "no":
            return queryset.exclude(activated_q("user"))
        return queryset


class InvitationAdminMixin:
    """Mix into the ModelAdmin of a model with a ``user`` OneToOne (see the module's doc)."""

    invitation_role: str  # a key of invitations.services.ROLES
    add_form: type[InviteForm]
    add_fieldsets: list

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            kwargs["form"] = self.add_form
        return super().get_form(request, obj, **kwargs)

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return self.add_fieldsets
        return super().get_fieldsets(request, obj)

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except InvitationRefused as refused:
            # The form checked the email; another staff member took it since. Nothing was saved.
            self.message_user(request, str(refused), messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    def save_model(self, request, obj, form, change):
        if not change:
            obj.user = user_invite(
                email=form.cleaned_data["email"],
                first_name=form.cleaned_data["first_name"],
                last_name=form.cleaned_data["last_name"],
                invited_by=request.user,
                role=self.invitation_role,
            )
            self.message_user(
                request,
                f"SERS emailed {obj.user.email} an invitation to choose a password. "
                "Until they do, they cannot log in.",
                messages.INFO,
            )
        super().save_model(request, obj, form, change)

    @admin.display(description="activated")
    def activated(self, obj):
        return "yes" if is_activated(obj.user) else "no"

    @admin.action(description="Resend the invitation", permissions=["change"])
    def resend_invitation(self, request, queryset):
        waiting = list(queryset.exclude(activated_q("user")).select_related("user"))
        with transaction.atomic():
            for row in waiting:
                invitation_send(user=row.user, role=self.invitation_role, sent_by=request.user)
                self.log_change(request, row, "Sent the invitation again.")
        sent = len(waiting)
        message = f"Sent the invitation again to {sent} {model_ngettext(self.opts, sent)}."
        activated = queryset.count() - sent
        if activated:
            message += (
                f" {activated} {'has' if activated == 1 else 'have'} already chosen a password "
                "and got nothing."
            )
        self.message_user(request, message, messages.SUCCESS)
