"""The one-time, expiring token in an invitation link.

Django's password-reset token, under a salt of its own: an invitation link is no reset
link and a reset link is no invitation. Like a reset token it expires after
``settings.PASSWORD_RESET_TIMEOUT`` and stops working once the password is set (the
password is part of what it signs). It also works only for an active login that has no
usable password yet: a login whose person already chose a password resets it the usual way.
"""

from django.contrib.auth.tokens import PasswordResetTokenGenerator


class InvitationTokenGenerator(PasswordResetTokenGenerator):
    key_salt = "invitations.tokens.InvitationTokenGenerator"

    def check_token(self, user, token):
        if user is None or not user.is_active or user.has_usable_password():
            return False
        return super().check_token(user, token)


invitation_token_generator = InvitationTokenGenerator()
