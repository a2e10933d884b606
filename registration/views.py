from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils.decorators import method_decorator
from django.views.decorators.http import require_http_methods
from django_ratelimit.decorators import ratelimit

from articulations.selectors import current_terms
from registration.forms import (
    ForgotLoginForm,
    LoginForm,
    OutboxPasswordResetForm,
    PriorYearRequestForm,
    ProfileForm,
    RegisterClassForm,
    SchoolPickForm,
    SignupForm,
)
from registration.selectors import (
    classes_open_for_registration,
    open_prior_year_requests,
    prior_years_with_classes,
    registration_of_student,
    registrations_by_year,
    student_for_user,
)
from registration.services.accounts import (
    AccountError,
    forgot_login_send,
    student_create,
    student_update_profile,
)
from registration.services.registrations import (
    RegistrationRefused,
    prior_year_request_create,
    registration_create,
    registration_window_refusal,
    registration_withdraw,
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
        return redirect("registration:profile")
    form = SignupForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            student = student_create(**form.account_fields())
        except AccountError as error:
            form.add_error(error.field, str(error))
        else:
            login(request, student.user, backend="registration.auth.UsernameOrSersIdBackend")
            return redirect("registration:welcome")
    return render(request, "registration/signup.html", {"form": form})


@login_required
def welcome(request):
    return render(request, "registration/welcome.html", {"student": student_for_user(request.user)})


@login_required
def profile(request):
    return render(request, "registration/profile.html", {"student": student_for_user(request.user)})


@login_required
@require_http_methods(["GET", "POST"])
def profile_edit(request):
    student = student_for_user(request.user)
    form = ProfileForm(request.POST if request.method == "POST" else None, instance=student)
    if request.method == "POST" and form.is_valid():
        student_update_profile(student=student, changes=form.profile_changes())
        messages.success(request, "Your profile is saved.")
        return redirect("registration:profile")
    return render(request, "registration/profile_edit.html", {"form": form, "student": student})


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
                "registration/forgot_login_sent.html",
                {"email": form.cleaned_data["email"]},
            )
    return render(request, "registration/forgot_login.html", {"form": form})


class LoginView(auth_views.LoginView):
    authentication_form = LoginForm


@method_decorator(
    ratelimit(key="ip", rate=RECOVERY_RATE_PER_IP, method="POST", block=False), name="post"
)
@method_decorator(
    ratelimit(key="post:email", rate=RECOVERY_RATE_PER_EMAIL, method="POST", block=False),
    name="post",
)
class PasswordResetView(auth_views.PasswordResetView):
    form_class = OutboxPasswordResetForm
    template_name = "registration/password_reset.html"
    success_url = reverse_lazy("password_reset_done")

    def form_valid(self, form):
        if getattr(self.request, "limited", False):
            form.add_error(None, TOO_MANY)
            return self.form_invalid(form)
        return super().form_valid(form)


# --- Registrations ------------------------------------------------------------------------


@login_required
def registrations(request):
    student = student_for_user(request.user)
    return render(
        request,
        "registration/registrations.html",
        {
            "student": student,
            "years": registrations_by_year(student),
            "open_requests": open_prior_year_requests(student),
        },
    )


def _picked_school(request, student):
    """The school whose classes are listed: ?school=…, else the student's own."""
    picker = SchoolPickForm(request.GET or None, initial={"school": student.school})
    school = (
        picker.cleaned_data["school"] if picker.is_bound and picker.is_valid() else student.school
    )
    return picker, school


def _needs_college_choice(form) -> bool:
    """True when the chosen class offers several colleges and none is chosen yet."""
    course_class = form.cleaned_data["course_class"]
    return form.cleaned_data["articulation"] is None and len(course_class.articulations.all()) > 1


@login_required
@require_http_methods(["GET", "POST"])
def register(request):
    student = student_for_user(request.user)
    picker, school = _picked_school(request, student)
    terms = current_terms(school.consortium)
    refusal = registration_window_refusal(terms)
    classes = [] if refusal else classes_open_for_registration(school, terms.start_year)
    form = RegisterClassForm(request.POST if request.method == "POST" else None, classes=classes)
    chosen_class = None
    if request.method == "POST" and not refusal and form.is_valid():
        chosen_class = form.cleaned_data["course_class"]
        if not _needs_college_choice(form):
            try:
                registration = registration_create(
                    student=student,
                    course_class=chosen_class,
                    articulation=form.cleaned_data["articulation"],
                )
            except RegistrationRefused as error:
                form.add_error(error.field, str(error))
            else:
                messages.success(
                    request,
                    f"You registered {chosen_class.course_name} for {terms.label}. "
                    f"We emailed a confirmation to {student.email}.",
                )
                return redirect(
                    f"{reverse('registration:registrations')}#registration-{registration.pk}"
                )
    return render(
        request,
        "registration/register.html",
        {
            "student": student,
            "picker": picker,
            "school": school,
            "terms": terms,
            "refusal": refusal,
            "classes": classes,
            "form": form,
            "chosen_class": chosen_class,
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def withdraw(request, registration_id: int):
    student = student_for_user(request.user)
    registration = registration_of_student(student, registration_id)
    error = None
    if request.method == "POST":
        try:
            registration_withdraw(registration=registration)
        except RegistrationRefused as refusal:
            error = str(refusal)
        else:
            messages.success(
                request, f"You withdrew from {registration.articulation.hs_course_name}."
            )
            return redirect("registration:registrations")
    return render(
        request,
        "registration/withdraw.html",
        {"student": student, "registration": registration, "error": error},
    )


@login_required
@require_http_methods(["GET", "POST"])
def prior_year(request):
    student = student_for_user(request.user)
    picker, school = _picked_school(request, student)
    this_year = current_terms(school.consortium).start_year
    year_choices = prior_years_with_classes(school, before=this_year)
    year = _picked_year(request, year_choices)
    classes = classes_open_for_registration(school, year) if year else []
    form = PriorYearRequestForm(request.POST if request.method == "POST" else None, classes=classes)
    chosen_class = None
    if request.method == "POST" and form.is_valid():
        chosen_class = form.cleaned_data["course_class"]
        if not _needs_college_choice(form):
            try:
                prior_year_request_create(
                    student=student,
                    course_class=chosen_class,
                    articulation=form.cleaned_data["articulation"],
                    note=form.cleaned_data["note"],
                )
            except RegistrationRefused as error:
                form.add_error(error.field, str(error))
            else:
                messages.success(
                    request,
                    f"We have your request for {chosen_class.course_name} "
                    f"({chosen_class.school_year.label}). We will email you our decision.",
                )
                return redirect("registration:registrations")
    return render(
        request,
        "registration/prior_year.html",
        {
            "student": student,
            "picker": picker,
            "school": school,
            "year_choices": year_choices,
            "year": year,
            "classes": classes,
            "form": form,
            "chosen_class": chosen_class,
        },
    )


def _picked_year(request, year_choices: list[int]) -> int | None:
    typed = request.GET.get("year", "")
    if typed.isdigit() and int(typed) in year_choices:
        return int(typed)
    return year_choices[0] if year_choices else None
