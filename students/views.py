"""Accounts: sign-up, profile, log-in and recovery."""

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.utils.decorators import method_decorator
from django.views.decorators.http import require_http_methods
from django_ratelimit.decorators import ratelimit

from students.forms import (
    ForgotLoginForm,
    LoginForm,
    OutboxPasswordResetForm,
    ProfileForm,
    SignupForm,
)
from students.selectors import landing_url, student_for_user
from students.services import (
    AccountError,
    forgot_login_send,
    student_create,
    student_update_profile,
)

# Enough for a student who mistypes; too few to probe which addresses have accounts.
RECOVERY_RATE_PER_IP = "10/h"
RECOVERY_RATE_PER_EMAIL = "3/h"
TOO_MANY = (
    "You have asked several times in the last hour. Check your inbox and spam folder, "
    "or try again in an hour."
)


@require_http_methods(["GET", "POST"])
def signup(request):
    if request.user.is_authenticated and hasattr(request.user, "student"):
        return redirect("students:profile")
    form = SignupForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            student = student_create(**form.account_fields())
        except AccountError as error:
            form.add_error(error.field, str(error))
        else:
            login(request, student.user, backend="students.auth.UsernameOrSersIdBackend")
            return redirect("students:welcome")
    return render(request, "students/signup.html", {"form": form})


@login_required
def welcome(request):
    return render(request, "students/welcome.html", {"student": student_for_user(request.user)})


@login_required
def profile(request):
    return render(request, "students/profile.html", {"student": student_for_user(request.user)})


@login_required
@require_http_methods(["GET", "POST"])
def profile_edit(request):
    student = student_for_user(request.user)
    form = ProfileForm(request.POST if request.method == "POST" else None, instance=student)
    if request.method == "POST" and form.is_valid():
        student_update_profile(student=student, changes=form.profile_changes())
        messages.success(request, "Your profile is saved.")
        return redirect("students:profile")
    return render(request, "students/profile_edit.html", {"form": form, "student": student})


@require_http_methods(["GET", "POST"])
@ratelimit(key="ip", rate=RECOVERY_RATE_PER_IP, method="POST", block=False)
@ratelimit(key="post:email", rate=RECOVERY_RATE_PER_EMAIL, method="POST", block=False)
def forgot_login(request):
    form = ForgotLoginForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        if getattr(request, "limited", False):
            form.add_error(None, TOO_MANY)
        else:
            forgot_login_send(email=form.cleaned_data["email"])
            # The same answer whether or not the address is known.
            return render(
                request,
                "students/forgot_login_sent.html",
                {"email": form.cleaned_data["email"]},
            )
    return render(request, "students/forgot_login.html", {"form": form})


class LoginView(auth_views.LoginView):
    """Log in by username or SERS ID; then to the page where the user's work is (or back to
    the page that asked for the login)."""

    authentication_form = LoginForm

    def get_default_redirect_url(self):
        return landing_url(self.request.user)


@method_decorator(
    ratelimit(key="ip", rate=RECOVERY_RATE_PER_IP, method="POST", block=False), name="post"
)
@method_decorator(
    ratelimit(key="post:email", rate=RECOVERY_RATE_PER_EMAIL, method="POST", block=False),
    name="post",
)
class PasswordResetView(auth_views.PasswordResetView):
    form_class = OutboxPasswordResetForm
    template_name = "students/password_reset.html"
    success_url = reverse_lazy("password_reset_done")

    def form_valid(self, form):
        if getattr(self.request, "limited", False):
            form.add_error(None, TOO_MANY)
            return self.form_invalid(form)
        return super().form_valid(form)
