"""The one form an invited person fills in: the password they choose."""

from django import forms
from django.contrib.auth.forms import SetPasswordForm


class InvitationPasswordForm(SetPasswordForm):
    """Django's set-password form in SERS's words, the validators' errors on the first box."""

    error_messages = {
        "password_mismatch": "The two passwords are different. Type the same one twice.",
    }

    new_password1 = forms.CharField(
        label="Password",
        strip=False,
        widget=forms.PasswordInput({"autocomplete": "new-password", "autofocus": True}),
        help_text="At least 8 characters. Not just numbers, not a common password, and not "
        "like your name or email.",
        error_messages={"required": "Choose a password."},
    )
    new_password2 = forms.CharField(
        label="Password again",
        strip=False,
        widget=forms.PasswordInput({"autocomplete": "new-password"}),
        error_messages={"required": "Type your password again."},
    )

    def clean(self):
        self.validate_passwords("new_password1", "new_password2")
        if "new_password2" not in self.errors:
            # The password's problems belong beside the box where it was chosen.
            self.validate_password_for_user(self.user, "new_password1")
        return self.cleaned_data
