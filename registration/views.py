import functools
from dataclasses import dataclass, field

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.template.defaultfilters import pluralize
from django.urls import reverse, reverse_lazy
from django.utils.decorators import method_decorator
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_ratelimit.decorators import ratelimit

from articulations.models import Articulation, Class
from articulations.school_year import local_today, school_year_label
from articulations.selectors import current_school_year, current_terms, year_terms
from payments.selectors import fee_facts
from registration.downloads import batch_file_download, csv_download
from registration.exports import CollegeCreditExporter
from registration.forms import (
    CreditFilterForm,
    ForgotLoginForm,
    LoginForm,
    OutboxPasswordResetForm,
    PriorYearRequestForm,
    ProfileForm,
    RegisterClassForm,
    RosterForm,
    SchoolPickForm,
    SignupForm,
)
from registration.models import ExportBatch
from registration.selectors import (
    batch_lines,
    classes_open_for_registration,
    credit_counts,
    credit_list_rows,
    credits_for_certificate,
    offered_articulations,
    open_prior_year_requests,
    prior_years_with_classes,
    registrar_batch,
    registrar_batches,
    registrar_filter_choices,
    registrar_for_user,
    registration_of_student,
    registrations_by_year,
    roster_lines,
    student_for_user,
    teacher_class,
    teacher_classes_still_grading,
    teacher_for_user,
)
from registration.selectors import teacher_classes as classes_of_teacher
from registration.services.accounts import (
    AccountError,
    forgot_login_send,
    student_create,
    student_update_profile,
)
from registration.services.exports import export_xlsx_start
from registration.services.registrations import (
    RegistrationRefused,
    class_terms,
    prior_year_request_create,
    registration_create,
    registration_window_refusal,
    registration_withdraw,
)
from registration.services.teaching import roster_save

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
    facts = fee_facts(student)
    return render(
        request,
        "registration/registrations.html",
        {
            "student": student,
            "years": registrations_by_year(student, facts.owed_by_year, facts.late_fee_years),
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


@dataclass
class ClassChoice:
    """Where a register or prior-year post ended.

    ``done`` is what the service made; ``college_step`` the class whose colleges the page
    asks about (the class list and school picker are hidden then), with ``colleges`` the
    ones it offers.
    """

    done: object | None = None
    college_step: Class | None = None
    colleges: list[Articulation] = field(default_factory=list)


def _choose_class(request, form, create) -> ClassChoice:
    """Validate the choice of class (and college), then ``create(course_class=, articulation=)``.

    The service decides: a refusal about the college keeps (or puts) the page on the college
    step, with the message beside the colleges; any other refusal goes back to the class list.
    The first time a class with several colleges is chosen, the college step has no error.
    """
    if request.method != "POST":
        return ClassChoice()
    on_college_step = request.POST.get("step") == "college"
    if not form.is_valid():
        course_class = form.cleaned_data.get("course_class")
        if course_class is not None and on_college_step and "articulation" in form.errors:
            return ClassChoice(
                college_step=course_class, colleges=offered_articulations(course_class)
            )
        return ClassChoice()
    course_class = form.cleaned_data["course_class"]
    try:
        done = create(course_class=course_class, articulation=form.cleaned_data["articulation"])
    except RegistrationRefused as error:
        if error.field != "articulation":
            form.add_error(error.field or "course_class", str(error))
            return ClassChoice()
        if on_college_step or form.cleaned_data["articulation"] is not None:
            form.add_error("articulation", str(error))
        return ClassChoice(college_step=course_class, colleges=offered_articulations(course_class))
    return ClassChoice(done=done)


@login_required
@require_http_methods(["GET", "POST"])
def register(request):
    student = student_for_user(request.user)
    picker, school = _picked_school(request, student)
    terms = current_terms(school.consortium)
    refusal = registration_window_refusal(terms)
    classes = [] if refusal else classes_open_for_registration(school, terms.start_year)
    form = RegisterClassForm(request.POST if request.method == "POST" else None, classes=classes)
    choice = (
        ClassChoice()
        if refusal
        else _choose_class(request, form, functools.partial(registration_create, student=student))
    )
    if choice.done is not None:
        registration = choice.done
        messages.success(
            request,
            f"You registered {registration.course_class.course_name} for {terms.label}. "
            f"We emailed a confirmation to {student.email}.",
        )
        return redirect(f"{reverse('registration:registrations')}#registration-{registration.pk}")
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
            "chosen_class": choice.college_step,
            "colleges": choice.colleges,
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
    # What that year costs if approved: its own amounts, for the school's consortium.
    terms = year_terms(school.consortium, year) if year else None
    form = PriorYearRequestForm(request.POST if request.method == "POST" else None, classes=classes)
    choice = _choose_class(
        request,
        form,
        lambda **chosen: prior_year_request_create(
            student=student, note=form.cleaned_data["note"], **chosen
        ),
    )
    if choice.done is not None:
        course_class = choice.done.course_class
        messages.success(
            request,
            f"We have your request for {course_class.course_name} "
            f"({course_class.school_year.label}). We will email you our decision.",
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
            "year_options": [
                (start_year, school_year_label(start_year)) for start_year in year_choices
            ],
            "year": year,
            "terms": terms,
            "classes": classes,
            "form": form,
            "chosen_class": choice.college_step,
            "colleges": choice.colleges,
        },
    )


def _picked_year(request, year_choices: list[int]) -> int | None:
    typed = request.GET.get("year", "")
    if typed.isdigit() and int(typed) in year_choices:
        return int(typed)
    return year_choices[0] if year_choices else None


@login_required
def certificate(request, start_year: int):
    student = student_for_user(request.user)
    credits = credits_for_certificate(student, start_year)
    consortia = sorted(
        {credit.registration.course_class.school.consortium.name for credit in credits}
    )
    return render(
        request,
        "registration/certificate.html",
        {
            "student": student,
            "credits": credits,
            "consortia": consortia,
            "label": school_year_label(start_year),
            "total": sum(credit.college_credits for credit in credits),
        },
    )


# --- Teachers: my classes and the roster ---------------------------------------------------


def _not_approved(request, teacher):
    """The page an unapproved (or no longer approved) teacher sees instead of their classes."""
    today = local_today()
    expired_on = (
        teacher.approval_expires_on
        if teacher.approved_on
        and teacher.approval_expires_on
        and today > teacher.approval_expires_on
        else None
    )
    return render(
        request,
        "registration/teacher_not_approved.html",
        {"teacher": teacher, "expired_on": expired_on},
        status=403,
    )


@login_required
def teacher_classes(request):
    teacher = teacher_for_user(request.user)
    if not teacher.is_approved_on(local_today()):
        return _not_approved(request, teacher)
    school_year = current_school_year()
    return render(
        request,
        "registration/teacher_classes.html",
        {
            "teacher": teacher,
            "school_year": school_year,
            "classes": classes_of_teacher(teacher, school_year.start_year),
            "still_grading": teacher_classes_still_grading(teacher, school_year.start_year - 1),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def roster(request, class_id: int):
    teacher = teacher_for_user(request.user)
    if not teacher.is_approved_on(local_today()):
        return _not_approved(request, teacher)
    course_class = teacher_class(teacher, class_id)
    lines = roster_lines(course_class)
    form = RosterForm(request.POST if request.method == "POST" else None, lines=lines)
    if request.method == "POST" and form.is_valid():
        try:
            changed = roster_save(
                teacher=teacher, course_class=course_class, entries=form.entries()
            )
        except RegistrationRefused as error:
            form.add_error(error.field if error.field in form.fields else None, str(error))
        else:
            messages.success(
                request, f"Roster saved: {changed} student{pluralize(changed)} updated."
            )
            return redirect("registration:roster", class_id=course_class.pk)
    terms = class_terms(course_class)
    return render(
        request,
        "registration/roster.html",
        {
            "teacher": teacher,
            "course_class": course_class,
            "terms": terms,
            "grading_is_open": terms.grading_is_open(),
            "form": form,
            "lines": lines,
        },
    )


# --- College registrars: the college's credit list and its downloads ------------------------

CREDITS_PER_PAGE = 50


def _registrar_page(request, registrar, data, *, status: int = 200):
    """The credit list: counts, a page of rows and the latest batches; a bad filter shows none.

    A fixed number of queries however many rows: the filter lists, the counts, one
    page of rows with their students and schools, and the latest batches.
    """
    college_id = registrar.college_id
    form = CreditFilterForm(data, choices=registrar_filter_choices(college_id))
    counts = page = page_numbers = None
    if not form.is_bound or form.is_valid():
        credits = CollegeCreditExporter(form.credit_filters(college_id)).queryset()
        counts = credit_counts(credits)
        page = Paginator(credit_list_rows(credits), CREDITS_PER_PAGE).get_page(
            request.GET.get("page")
        )
        page_numbers = page.paginator.get_elided_page_range(page.number, on_each_side=1, on_ends=1)
    return render(
        request,
        "registration/registrar.html",
        {
            "registrar": registrar,
            "form": form,
            "counts": counts,
            "page": page,
            "page_numbers": page_numbers,
            "download_fields": form.download_fields(),
            "batches": registrar_batches(college_id),
        },
        status=status,
    )


@login_required
@require_GET
def registrar_credits(request):
    registrar = registrar_for_user(request.user)
    # Only ?page=… is no filter at all: the form stays unbound, every row shows.
    filters = request.GET.copy()
    filters.pop("page", None)
    return _registrar_page(request, registrar, filters or None)


def _filters_posted(request, registrar):
    """The filters a download form posted, for the registrar's college; or the page with errors."""
    form = CreditFilterForm(request.POST)
    if not form.is_valid():
        return None, _registrar_page(request, registrar, request.POST, status=400)
    return form.credit_filters(registrar.college_id), None


@login_required
@require_POST
def registrar_csv(request):
    """The CSV of the current filters, streamed; the batch is recorded once the last row went out."""
    registrar = registrar_for_user(request.user)
    filters, error_page = _filters_posted(request, registrar)
    if error_page:
        return error_page
    return csv_download(
        exporter=CollegeCreditExporter(filters),
        user=request.user,
        via="web",
        college_code=registrar.college.code,
    )


@login_required
@require_POST
def registrar_xlsx(request):
    """Queue the Excel file of the current filters; its page shows the progress."""
    registrar = registrar_for_user(request.user)
    filters, error_page = _filters_posted(request, registrar)
    if error_page:
        return error_page
    batch = export_xlsx_start(
        exporter=CollegeCreditExporter(filters), requested_by=request.user, via="web"
    )
    return redirect("registration:registrar_batch", batch_id=batch.pk)


@login_required
@require_GET
def registrar_batch_page(request, batch_id: int):
    registrar = registrar_for_user(request.user)
    batch = registrar_batch(registrar, batch_id)
    (line,) = batch_lines([batch])
    return render(
        request,
        "registration/registrar_batch.html",
        {
            "registrar": registrar,
            "line": line,
            "batch": batch,
            "building": batch.status == ExportBatch.Status.BUILDING,
        },
    )


@login_required
@require_GET
def registrar_batch_download(request, batch_id: int):
    """The batch's file again, byte for byte: its SHA-256 is the one on the page."""
    registrar = registrar_for_user(request.user)
    batch = registrar_batch(registrar, batch_id)
    return batch_file_download(batch, college_code=registrar.college.code)
