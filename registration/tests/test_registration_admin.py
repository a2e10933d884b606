"""Staff work on registrations and the prior-year queue in the admin."""

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext

from articulations.tests.factories import ClassFactory, SchoolYearFactory, UserFactory
from outbox.models import OutboxEmail
from registration.models import PriorYearRequest, Registration
from registration.tests.factories import StudentFactory

pytestmark = pytest.mark.django_db

REGISTRATIONS = "/admin/registration/registration/"
REQUESTS = "/admin/registration/prioryearrequest/"
DELETE_ACTION = "delete_kept_in_history"


# --- Local helpers: rows made through the ORM, as the services would leave them ---------------


def make_class(start_year=2026, **kwargs):
    return ClassFactory(school_year=SchoolYearFactory(start_year=start_year), **kwargs)


def make_registration(*, student=None, course_class=None, **fields):
    course_class = course_class or make_class()
    # Graduating in 2028: grade 10 in 2025-26, grade 11 in 2026-27.
    student = student or StudentFactory(school=course_class.school)
    return Registration.objects.create(
        student=student,
        course_class=course_class,
        articulation=course_class.articulations.get(),
        school_year=course_class.school_year,
        **fields,
    )


def make_request(*, student=None, course_class=None, **fields):
    course_class = course_class or make_class(start_year=2025)
    student = student or StudentFactory(school=course_class.school)
    return PriorYearRequest.objects.create(
        student=student,
        course_class=course_class,
        articulation=course_class.articulations.get(),
        note="I did not know I had to register that year.",
        **fields,
    )


def typed_forms(sers_id):
    """Three ways staff type an ID read out over the phone or copied from an email."""
    return [sers_id.lower().replace("-", " "), sers_id.replace("-", ""), sers_id.lower()]


def listed(client, url, **params):
    response = client.get(url, params)
    assert response.status_code == 200
    return list(response.context["cl"].result_list)


def ask(client, url, action, objects):
    """Pick an action for ``objects`` on the list: the page that asks first."""
    return client.post(
        url, {"action": action, "_selected_action": [obj.pk for obj in objects], "index": 0}
    )


def run_action(client, url, action, objects, **answer):
    """Pick an action, then answer its confirmation page with ``answer``; the page after."""
    page = ask(client, url, action, objects)
    assert page.status_code == 200
    assert page.templates[0].name == "admin/action_confirmation.html"
    data = {
        "action": action,
        "_selected_action": [obj.pk for obj in objects],
        "select_across": "0",
        "confirmed": "yes",
        **answer,
    }
    return client.post(url, data, follow=True)


def text(response):
    return response.content.decode()


# --- Pages -------------------------------------------------------------------------------------


def test_the_registration_pages_open(admin_client):
    registration = make_registration()

    assert admin_client.get(REGISTRATIONS).status_code == 200
    page = admin_client.get(f"{REGISTRATIONS}{registration.pk}/change/")
    assert page.status_code == 200
    assert registration.student.sers_id in text(page)
    assert admin_client.get(f"{REGISTRATIONS}{registration.pk}/history/").status_code == 200


def test_the_prior_year_pages_open(admin_client):
    prior_year_request = make_request()

    assert admin_client.get(REQUESTS).status_code == 200
    page = admin_client.get(f"{REQUESTS}{prior_year_request.pk}/change/")
    assert page.status_code == 200
    assert prior_year_request.note in text(page)
    assert admin_client.get(f"{REQUESTS}{prior_year_request.pk}/history/").status_code == 200


def test_the_list_shows_what_staff_decide_on(admin_client):
    registration = make_registration(is_late=True, late_fee_waived=True)
    articulation = registration.articulation

    page = text(admin_client.get(REGISTRATIONS))

    for shown in [
        registration.student.sers_id,
        registration.student.full_name,
        articulation.hs_course_name,
        registration.course_class.school.name,
        registration.course_class.teacher.name,
        articulation.college.code,
        articulation.college_course,
        "2026-27",
        "Registered",
    ]:
        assert shown in page


def test_a_non_staff_user_is_refused_the_admin(client):
    student = StudentFactory()
    client.force_login(student.user)

    for url in (REGISTRATIONS, REQUESTS):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/admin/login/")


def test_staff_without_permissions_are_refused(client):
    client.force_login(UserFactory(is_staff=True))

    assert client.get(REGISTRATIONS).status_code == 403
    assert client.get(REQUESTS).status_code == 403


@pytest.mark.parametrize(
    ("url", "make"), [(REGISTRATIONS, make_registration), (REQUESTS, make_request)]
)
def test_the_lists_make_the_same_queries_for_many_rows(admin_client, url, make):
    for _ in range(2):
        make()
    with CaptureQueriesContext(connection) as few:
        assert admin_client.get(url).status_code == 200
    for _ in range(13):
        make()

    with CaptureQueriesContext(connection) as many:
        response = admin_client.get(url)

    assert response.context["cl"].result_count == 15
    assert len(many.captured_queries) == len(few.captured_queries)


# --- Search and filters ------------------------------------------------------------------------


@pytest.mark.parametrize("form", [0, 1, 2])
def test_staff_find_registrations_by_sers_id_typed_any_way(admin_client, form):
    registration, _other = make_registration(), make_registration()

    term = typed_forms(registration.student.sers_id)[form]

    assert listed(admin_client, REGISTRATIONS, q=term) == [registration]


@pytest.mark.parametrize("form", [0, 1, 2])
def test_staff_find_prior_year_requests_by_sers_id_typed_any_way(admin_client, form):
    prior_year_request, _other = make_request(), make_request()

    term = typed_forms(prior_year_request.student.sers_id)[form]

    assert listed(admin_client, REQUESTS, q=term) == [prior_year_request]


def test_staff_find_registrations_by_name_or_username(admin_client):
    registration = make_registration(student=StudentFactory(legal_last_name="Okonkwo"))
    make_registration()

    assert listed(admin_client, REGISTRATIONS, q="okonkwo") == [registration]
    assert listed(admin_client, REGISTRATIONS, q="Maya Okonkwo") == [registration]
    username = registration.student.user.username
    assert listed(admin_client, REGISTRATIONS, q=username) == [registration]


def test_the_registration_list_filters_by_year_status_and_lateness(admin_client):
    this_year = make_registration()
    late = make_registration(course_class=make_class(start_year=2025), is_late=True)
    deleted = make_registration(status=Registration.Status.DELETED)

    assert listed(admin_client, REGISTRATIONS, school_year__start_year__exact=2025) == [late]
    assert listed(admin_client, REGISTRATIONS, is_late__exact=1) == [late]
    assert listed(admin_client, REGISTRATIONS, status__exact="deleted") == [deleted]
    college = this_year.articulation.college
    assert listed(admin_client, REGISTRATIONS, articulation__college__id__exact=college.pk) == [
        this_year
    ]


def test_the_queue_shows_pending_requests_first_oldest_first(admin_client):
    denied = make_request(status=PriorYearRequest.Status.DENIED)
    older, newer = make_request(), make_request()

    assert listed(admin_client, REQUESTS) == [older, newer, denied]
    assert listed(admin_client, REQUESTS, status__exact="denied") == [denied]


# --- Deleting a registration, kept in history --------------------------------------------------


def test_deleting_asks_for_a_reason_first_and_changes_nothing_yet(admin_client):
    registration = make_registration()

    page = ask(admin_client, REGISTRATIONS, DELETE_ACTION, [registration])

    assert page.status_code == 200
    assert "Why are these registrations deleted?" in text(page)
    assert registration.student.sers_id in text(page)
    registration.refresh_from_db()
    assert registration.status == Registration.Status.REGISTERED


def test_staff_delete_registrations_and_they_stay_in_history(admin_client, admin_user):
    registrations = [make_registration(), make_registration()]

    response = run_action(
        admin_client, REGISTRATIONS, DELETE_ACTION, registrations, reason="Wrong class"
    )

    assert "Deleted 2 registrations." in text(response)
    for registration in registrations:
        registration.refresh_from_db()  # still in the database
        assert registration.status == Registration.Status.DELETED
        assert registration.status_reason == "Wrong class"
        assert registration.changed_by == admin_user
        latest = registration.history.latest("history_date")
        assert latest.status == Registration.Status.DELETED
        assert latest.history_user == admin_user


def test_deleting_again_is_reported_and_changes_nothing(admin_client, admin_user):
    other_staff = UserFactory(is_staff=True)
    gone = make_registration(
        status=Registration.Status.DELETED, status_reason="Duplicate", changed_by=other_staff
    )
    kept = make_registration()

    response = run_action(admin_client, REGISTRATIONS, DELETE_ACTION, [gone, kept], reason="Oops")

    assert "Deleted 1 registration. 1 was already deleted" in text(response)
    gone.refresh_from_db()
    assert (gone.status_reason, gone.changed_by) == ("Duplicate", other_staff)


@pytest.mark.parametrize("reason", ["", "   "])
def test_deleting_without_a_reason_is_refused(admin_client, reason):
    registration = make_registration()

    response = run_action(admin_client, REGISTRATIONS, DELETE_ACTION, [registration], reason=reason)

    assert response.status_code == 200
    assert "There is a problem" in text(response)
    assert "Say why the registrations are deleted." in text(response)
    registration.refresh_from_db()
    assert registration.status == Registration.Status.REGISTERED


def test_deleting_every_registration_of_a_filtered_list(admin_client):
    late = [make_registration(course_class=make_class(start_year=2025)) for _ in range(2)]
    this_year = make_registration()
    url = f"{REGISTRATIONS}?school_year__start_year__exact=2025"
    # "Select all": the page's own boxes are sent too, and select_across says "all of them".
    selection = {"action": DELETE_ACTION, "_selected_action": [late[0].pk], "select_across": "1"}

    page = admin_client.post(url, {**selection, "index": 0})
    assert "2 selected" in text(page)
    response = admin_client.post(url, {**selection, "confirmed": "yes", "reason": "Old year"})

    assert response.status_code == 302
    assert Registration.objects.filter(status=Registration.Status.DELETED).count() == 2
    this_year.refresh_from_db()
    assert this_year.status == Registration.Status.REGISTERED


@pytest.mark.parametrize(
    ("url", "make"), [(REGISTRATIONS, make_registration), (REQUESTS, make_request)]
)
def test_hard_delete_is_not_offered(admin_client, url, make):
    obj = make()

    assert admin_client.get(f"{url}{obj.pk}/delete/").status_code == 403
    choices = dict(admin_client.get(url).context["action_form"].fields["action"].choices)
    assert "delete_selected" not in choices
    admin_client.post(
        url, {"action": "delete_selected", "_selected_action": [obj.pk], "post": "yes"}
    )
    assert type(obj).objects.filter(pk=obj.pk).exists()


def test_history_shows_old_versions_but_does_not_restore_them(admin_client, admin_user):
    registration = make_registration()
    first = registration.history.earliest("history_date")
    run_action(admin_client, REGISTRATIONS, DELETE_ACTION, [registration], reason="Wrong class")
    version = f"{REGISTRATIONS}{registration.pk}/history/{first.history_id}/"

    assert admin_client.get(version).status_code == 200
    assert admin_client.post(version, {}).status_code == 403
    registration.refresh_from_db()
    assert registration.status == Registration.Status.DELETED


# --- Editing a registration ----------------------------------------------------------------------


def change_form_data(client, url):
    form = client.get(url).context["adminform"].form
    return {name: form[name].value() or "" for name in form.fields}


def test_status_and_who_changed_it_are_read_only(admin_client):
    registration = make_registration()

    form = admin_client.get(f"{REGISTRATIONS}{registration.pk}/change/").context["adminform"].form

    assert {"status", "status_reason", "changed_by", "is_late"}.isdisjoint(form.fields)
    assert "late_fee_waived" in form.fields


def test_staff_waive_the_late_fee_of_a_late_registration(admin_client, admin_user):
    registration = make_registration(course_class=make_class(start_year=2025), is_late=True)
    url = f"{REGISTRATIONS}{registration.pk}/change/"
    data = change_form_data(admin_client, url)
    data["late_fee_waived"] = "on"

    response = admin_client.post(url, data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    registration.refresh_from_db()
    assert registration.late_fee_waived
    assert registration.changed_by == admin_user
    assert registration.history.latest("history_date").history_user == admin_user


def test_a_registration_that_is_not_late_has_no_late_fee_to_waive(admin_client):
    registration = make_registration()
    url = f"{REGISTRATIONS}{registration.pk}/change/"
    data = change_form_data(admin_client, url)
    data["late_fee_waived"] = "on"

    response = admin_client.post(url, data)

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert (
        "Only a prior-year (late) registration has a late fee to waive"
        in errors["late_fee_waived"][0]
    )
    registration.refresh_from_db()
    assert not registration.late_fee_waived


def test_a_registration_cannot_be_added_by_hand(admin_client):
    assert admin_client.get(f"{REGISTRATIONS}add/").status_code == 403
    assert admin_client.get(f"{REQUESTS}add/").status_code == 403


# --- The prior-year queue ------------------------------------------------------------------------


def test_approving_two_classes_of_one_prior_year(admin_client, admin_user):
    student = StudentFactory()
    requests = [
        make_request(student=student, course_class=make_class(start_year=2025)) for _ in range(2)
    ]

    response = ask(admin_client, REQUESTS, "approve", requests)
    assert response.status_code == 200
    assert "Approve these requests" in text(response)
    assert PriorYearRequest.objects.filter(status=PriorYearRequest.Status.PENDING).count() == 2

    response = run_action(admin_client, REQUESTS, "approve", requests)

    assert "Approved 2 requests." in text(response)
    registrations = Registration.objects.filter(student=student)
    assert registrations.count() == 2
    for registration in registrations:
        assert registration.school_year_id == 2025
        assert registration.is_late
        assert not registration.late_fee_waived
        assert registration.status == Registration.Status.REGISTERED
    for prior_year_request in requests:
        prior_year_request.refresh_from_db()
        assert prior_year_request.status == PriorYearRequest.Status.APPROVED
        assert prior_year_request.decided_by == admin_user
        assert prior_year_request.decided_at is not None
        assert prior_year_request.registration in registrations
        latest = prior_year_request.history.latest("history_date")
        assert latest.history_user == admin_user


def test_approving_and_waiving_the_late_fee(admin_client):
    prior_year_request = make_request()

    response = run_action(admin_client, REQUESTS, "approve_waiving_late_fee", [prior_year_request])

    assert "Approved 1 request." in text(response)
    prior_year_request.refresh_from_db()
    assert prior_year_request.waive_late_fee
    assert prior_year_request.registration.is_late
    assert prior_year_request.registration.late_fee_waived


def test_denying_with_a_reason(admin_client, admin_user):
    prior_year_request = make_request()

    page = ask(admin_client, REQUESTS, "deny", [prior_year_request])
    assert "Reason (optional)" in text(page)
    response = run_action(
        admin_client,
        REQUESTS,
        "deny",
        [prior_year_request],
        reason="The class was not articulated.",
    )

    assert "Denied 1 request." in text(response)
    prior_year_request.refresh_from_db()
    assert prior_year_request.status == PriorYearRequest.Status.DENIED
    assert prior_year_request.decision_note == "The class was not articulated."
    assert prior_year_request.decided_by == admin_user
    assert prior_year_request.registration is None
    assert not Registration.objects.exists()


def test_denying_needs_no_reason(admin_client):
    prior_year_request = make_request()

    response = run_action(admin_client, REQUESTS, "deny", [prior_year_request], reason="")

    assert "Denied 1 request." in text(response)
    prior_year_request.refresh_from_db()
    assert prior_year_request.status == PriorYearRequest.Status.DENIED


def test_a_decided_request_is_left_alone_and_reported(admin_client):
    decider = UserFactory(is_staff=True)
    denied = make_request(
        status=PriorYearRequest.Status.DENIED, decision_note="Too late.", decided_by=decider
    )
    pending = make_request()

    page = ask(admin_client, REQUESTS, "approve", [denied, pending])
    assert "1 of these is already decided" in text(page)
    response = run_action(admin_client, REQUESTS, "approve", [denied, pending])

    assert "Approved 1 request. 1 was already decided" in text(response)
    denied.refresh_from_db()
    assert (denied.status, denied.decision_note, denied.decided_by) == (
        PriorYearRequest.Status.DENIED,
        "Too late.",
        decider,
    )
    assert not Registration.objects.filter(student=denied.student).exists()


def test_a_request_the_service_refuses_is_reported(admin_client):
    # The office deleted this student's registration of the class: approving does not bring it back.
    prior_year_request = make_request()
    make_registration(
        student=prior_year_request.student,
        course_class=prior_year_request.course_class,
        status=Registration.Status.DELETED,
    )

    response = run_action(admin_client, REQUESTS, "approve", [prior_year_request])

    assert "Approved 0 requests." in text(response)
    assert "1 request was not approved" in text(response)
    prior_year_request.refresh_from_db()
    assert prior_year_request.status == PriorYearRequest.Status.PENDING


def test_each_decision_emails_the_student_once(admin_client, django_capture_on_commit_callbacks):
    approved, denied = make_request(), make_request()

    with django_capture_on_commit_callbacks(execute=True):
        run_action(admin_client, REQUESTS, "approve", [approved])
        run_action(admin_client, REQUESTS, "deny", [denied], reason="Not articulated then.")
        # Asking again decides nothing and sends nothing.
        run_action(admin_client, REQUESTS, "approve", [approved, denied])

    assert sorted(message.to[0] for message in mail.outbox) == sorted(
        [approved.student.email, denied.student.email]
    )
    by_recipient = {message.to[0]: message for message in mail.outbox}
    assert approved.student.sers_id in by_recipient[approved.student.email].body
    assert "Not articulated then." in by_recipient[denied.student.email].body
    assert OutboxEmail.objects.filter(kind="prior_year_decision").count() == 2


def test_staff_decide_on_the_change_form(
    admin_client, admin_user, django_capture_on_commit_callbacks
):
    prior_year_request = make_request()
    url = f"{REQUESTS}{prior_year_request.pk}/change/"
    form = admin_client.get(url).context["adminform"].form
    assert set(form.fields) == {"status", "waive_late_fee", "decision_note"}

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            url, {"status": "approved", "waive_late_fee": "on", "decision_note": "Welcome back."}
        )

    assert response.status_code == 302
    assert response["Location"] == REQUESTS
    prior_year_request.refresh_from_db()
    assert prior_year_request.status == PriorYearRequest.Status.APPROVED
    assert prior_year_request.decision_note == "Welcome back."
    assert prior_year_request.decided_by == admin_user
    assert prior_year_request.registration.late_fee_waived
    assert len(mail.outbox) == 1
    # Decided: nothing on the page can change it any more.
    assert not admin_client.get(url).context["adminform"].form.fields


def test_denying_on_the_change_form(admin_client, admin_user):
    prior_year_request = make_request()

    response = admin_client.post(
        f"{REQUESTS}{prior_year_request.pk}/change/",
        {"status": "denied", "decision_note": "Not articulated then."},
    )

    assert response.status_code == 302
    prior_year_request.refresh_from_db()
    assert prior_year_request.status == PriorYearRequest.Status.DENIED
    assert prior_year_request.decision_note == "Not articulated then."
    assert prior_year_request.decided_by == admin_user
