"""A student's classes followed to credit, certificates, and teachers' rosters."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.template.defaultfilters import pluralize
from django.views.decorators.http import require_http_methods

from articulations.school_year import local_today, school_year_label
from articulations.selectors import current_school_year
from grading.forms import RosterForm
from grading.selectors import (
    credits_for_certificate,
    next_steps,
    registrations_by_year,
    roster_lines,
    teacher_class,
    teacher_classes_still_grading,
    teacher_for_user,
)
from grading.selectors import teacher_classes as classes_of_teacher
from grading.services.teaching import roster_save
from registration.fee_status import fee_facts
from registration.selectors import open_prior_year_requests
from registration.services import (
    RegistrationRefused,
    class_terms,
)
from students.selectors import student_for_user

# --- Registrations ------------------------------------------------------------------------


@login_required
def registrations(request):
    student = student_for_user(request.user)
    facts = fee_facts(student)
    years = registrations_by_year(student, facts.owed_by_year, facts.late_fee_years)
    return render(
        request,
        "grading/registrations.html",
        {
            "student": student,
            "years": years,
            "next_steps": next_steps(student, years, facts),
            "open_requests": open_prior_year_requests(student),
        },
    )


@login_required
def certificate(request, start_year: int):
    student = student_for_user(request.user)
    credits = credits_for_certificate(student, start_year)
    consortia = sorted(
        {credit.registration.course_class.school.consortium.name for credit in credits}
    )
    return render(
        request,
        "grading/certificate.html",
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
        "grading/teacher_not_approved.html",
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
        "grading/teacher_classes.html",
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
            return redirect("grading:roster", class_id=course_class.pk)
    terms = class_terms(course_class)
    return render(
        request,
        "grading/roster.html",
        {
            "teacher": teacher,
            "course_class": course_class,
            "terms": terms,
            "grading_is_open": terms.grading_is_open(),
            "form": form,
            "lines": lines,
        },
    )
