"""Registering a class, withdrawing, and asking for prior-year credit."""

import functools
from dataclasses import dataclass, field

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from articulations.models import Articulation, Class
from articulations.school_year import school_year_label
from articulations.selectors import current_terms, year_terms
from registration.forms import PriorYearRequestForm, RegisterClassForm, SchoolPickForm
from registration.selectors import (
    classes_open_for_registration,
    offered_articulations,
    prior_years_with_classes,
    registration_of_student,
)
from registration.services import (
    RegistrationRefused,
    prior_year_request_create,
    registration_create,
    registration_window_refusal,
    registration_withdraw,
)
from students.selectors import student_for_user


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
        return redirect(f"{reverse('grading:registrations')}#registration-{registration.pk}")
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
            return redirect("grading:registrations")
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
        return redirect("grading:registrations")
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
