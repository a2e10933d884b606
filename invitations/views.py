"""The invitation link: choose a password, then log in.

Django's password-reset confirm view with the invitation's own token: the link's token is
moved into the session and the browser sent on to a URL without it, so it never leaks
through a Referer header. After the password is set the person logs in on the ordinary
log-in page, which takes each role to its work (this app sits below the one that knows
where that is).
"""

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.urls import reverse_lazy

from invitations.forms import InvitationPasswordForm
from invitations.services import link_lifetime
from invitations.tokens import invitation_token_generator


class InvitationAcceptView(auth_views.PasswordResetConfirmView):
    form_class = InvitationPasswordForm
    token_generator = invitation_token_generator
    template_name = "invitations/accept.html"
    success_url = reverse_lazy("login")
    title = "Choose your password"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["link_lifetime"] = link_lifetime()
        if self.validlink:
            context["username"] = self.user.get_username()
        return context

    def form_valid(self, form):
        response = super().form_valid(form)
        messages.success(
            self.request,
            f"Your password is set. Log in with your username, {self.user.get_username()}, "
            "and the password you just chose.",
        )
        return response
