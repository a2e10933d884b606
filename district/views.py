"""District and school staff: find a student of their schools, remind a login, see the lists.

Every page starts in ``district_staff_page``: a visitor who is not logged in goes to the log-in
page; a logged-in user who is not district or school staff gets a 403 page. The scope (whose
students the page may show) comes from ``district.selectors.district_scope``, never from
the request.
"""

import uuid
from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST
from django_ratelimit.core import is_ratelimited

from articulations.school_year import school_year_label
from district.forms import ListFilterForm, LoginReminderForm, StudentSearchForm
from district.models import StudentLookup
from district.selectors import (
    STUDENT_LISTS,
    district_scope,
    student_list_of,
    student_list_page,
    student_of_scope,
    student_record,
    student_search,
    this_year,
    year_choices,
)
from district.services import ReminderRefused, login_reminder_send, student_lookups_log

# A counselor looks up many students on a busy day; a script trying names does not get far.
SEARCH_RATE = "120/h"
REMINDER_RATE = "30/h"
TOO_MANY_SEARCHES = (
    "You have searched many times in the last hour. Wait a few minutes, then try again."
)


def district_staff_page(view):
    """Log in first; then district or school staff only (403 for anyone else)."""

    @login_required
    @wraps(view)
    def page(request, *args, **kwargs):
        scope = district_scope(request.user)
        if scope is None:
            return render(request, "district/not_district_staff.html", status=403)
        return view(request, scope, *args, **kwargs)

    return page


def _limited(request, group: str, rate: str) -> bool:
    return is_ratelimited(
        request, group=group, key="user", rate=rate, method=request.method, increment=True
    )


@require_GET
@district_staff_page
def home(request, scope):
    return render(
        request,
        "district/home.html",
        {
            "scope": scope,
            "form": StudentSearchForm(),
            "terms": this_year(scope),
            "lists": STUDENT_LISTS.values(),
        },
    )


@require_GET
@district_staff_page
def search(request, scope):
    form = StudentSearchForm(request.GET)
    results = None
    status = 400  # until a search is made: the form says what to type
    if form.is_valid():
        if _limited(request, "district-search", SEARCH_RATE):
            form.add_error("q", TOO_MANY_SEARCHES)
            status = 429
        else:
            results = student_search(scope, form.cleaned_data["q"])
            if len(results.students) == 1 and not results.more:
                # One match: straight to the record (which logs the look-up itself).
                return redirect("district:student", sers_id=results.students[0].sers_id)
            student_lookups_log(
                user=request.user,
                students=results.students,
                page=StudentLookup.Page.SEARCH,
                query=form.cleaned_data["q"],
            )
            status = 200
    return render(
        request,
        "district/search.html",
        {"scope": scope, "form": form, "results": results},
        status=status,
    )


@require_GET
@district_staff_page
def student(request, scope, sers_id: str):
    student = student_of_scope(scope, sers_id)
    student_lookups_log(user=request.user, students=[student], page=StudentLookup.Page.RECORD)
    return render(
        request,
        "district/student.html",
        {
            "scope": scope,
            "record": student_record(scope, student),
            "reminder_form": LoginReminderForm(initial={"click_id": uuid.uuid4()}),
        },
    )


@require_POST
@district_staff_page
def login_reminder(request, scope, sers_id: str):
    student = student_of_scope(scope, sers_id)
    form = LoginReminderForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Reload this page, then send the login reminder again.")
    elif _limited(request, "district-reminder", REMINDER_RATE):
        messages.error(
            request, "You have sent many login reminders in the last hour. Try again later."
        )
    else:
        try:
            login_reminder_send(
                user=request.user, student=student, click_id=form.cleaned_data["click_id"]
            )
        except ReminderRefused as refusal:
            messages.error(request, str(refusal))
        else:
            # The same words for a click posted twice: the one email went out.
            messages.success(
                request,
                f"We emailed a login reminder to {student.email}: every username and SERS ID "
                "registered to that address, with a link to reset the password.",
            )
    return redirect("district:student", sers_id=student.sers_id)


@require_GET
@district_staff_page
def student_list(request, scope, slug: str):
    chosen_list = student_list_of(slug)
    terms = this_year(scope)
    # Only a chosen year or school binds the form: ?page=… alone is this year's list.
    filters = request.GET if {"year", "school"} & set(request.GET) else None
    form = ListFilterForm(filters, years=year_choices(terms), schools=scope.schools)
    page = None
    start_year = terms.start_year
    if not form.is_bound or form.is_valid():
        start_year, school_id = form.choice()
        page = student_list_page(
            scope,
            chosen_list,
            start_year=start_year,
            school_id=school_id,
            page_number=request.GET.get("page"),
        )
    label = school_year_label(start_year)
    return render(
        request,
        "district/list.html",
        {
            "scope": scope,
            "form": form,
            "list": chosen_list,
            "title": chosen_list.title_for(label),
            "empty": chosen_list.empty_for(label),
            "page": page,
            "count_words": chosen_list.count_words(page.paginator.count)
            if page is not None
            else "",
            "page_numbers": (
                page.paginator.get_elided_page_range(page.number, on_each_side=1, on_ends=1)
                if page is not None
                else []
            ),
        },
        status=400 if page is None else 200,
    )
