"""The student's pages: register, my registrations, withdraw, prior-year request."""

import datetime as dt
from decimal import Decimal

import pytest

from payments.models import Payment
from payments.services.offline import payment_record_offline
from registration.models import PriorYearRequest, Registration
from registration.services import registration_create
from registration.tests.helpers import at, one_college_class, student_at, two_college_class

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def february():
    with at(2027, 2, 1, 10, 0):
        yield


def test_the_register_page_lists_the_classes_of_the_students_school(client):
    course_class = two_college_class(period="4")
    other_school_class = one_college_class()
    student = student_at(course_class.school)
    client.force_login(student.user)

    page = client.get("/registrations/new/").content.decode()

    assert "Register a class for 2026-27" in page
    assert "Intro to Business" in page and "period 4" in page
    assert course_class.teacher.name in page
    assert "Second College" in page
    assert other_school_class.articulations.get().hs_course_name not in page


def test_another_school_can_be_picked(client):
    course_class = one_college_class()
    student = student_at(one_college_class().school)
    client.force_login(student.user)

    page = client.get("/registrations/new/", {"school": course_class.school.pk}).content.decode()

    assert course_class.articulations.get().hs_course_name in page


def test_a_class_with_one_college_is_registered_in_one_step(client):
    course_class = one_college_class()
    student = student_at(course_class.school)
    client.force_login(student.user)

    response = client.post("/registrations/new/", {"course_class": course_class.pk}, follow=True)

    registration = Registration.objects.get()
    assert registration.student == student
    page = response.content.decode()
    assert f"You registered {course_class.course_name} for 2026-27." in page
    assert f'id="registration-{registration.pk}"' in page


def test_a_class_with_two_colleges_asks_which_one_then_registers_it(client):
    course_class = two_college_class()
    student = student_at(course_class.school)
    client.force_login(student.user)
    second = course_class.articulations.order_by("pk").last()

    step_two = client.post("/registrations/new/", {"course_class": course_class.pk})
    page = step_two.content.decode()
    assert "Which college do you want credit from?" in page
    assert "Credit can come from one college only." in page
    assert not Registration.objects.exists()

    client.post("/registrations/new/", {"course_class": course_class.pk, "articulation": second.pk})

    assert Registration.objects.get().articulation == second


def test_registering_again_shows_a_friendly_message_not_an_error_page(client):
    course_class = one_college_class()
    student = student_at(course_class.school)
    client.force_login(student.user)
    client.post("/registrations/new/", {"course_class": course_class.pk})

    response = client.post("/registrations/new/", {"course_class": course_class.pk})

    assert response.status_code == 200
    page = response.content.decode()
    assert "There is a problem" in page
    assert f"You already registered {course_class.course_name} for 2026-27" in page
    assert Registration.objects.count() == 1


def test_nothing_chosen_says_what_to_do(client):
    course_class = one_college_class()
    client.force_login(student_at(course_class.school).user)

    page = client.post("/registrations/new/", {}).content.decode()

    assert "Choose the class you are taking." in page


def test_outside_the_window_the_page_says_when_it_opens_and_offers_no_form(client):
    course_class = one_college_class()
    client.force_login(student_at(course_class.school).user)

    with at(2026, 11, 15, 9, 0):
        page = client.get("/registrations/new/").content.decode()

    assert "Registration for 2026-27 opens on December 1, 2026." in page
    assert "Register this class" not in page
    assert "/registrations/prior-year/" in page


def test_my_registrations_group_by_year_with_what_is_still_needed(client):
    course_class = one_college_class()
    student = student_at(course_class.school)
    registration_create(student=student, course_class=course_class)
    client.force_login(student.user)

    page = client.get("/registrations/").content.decode()

    articulation = course_class.articulations.get()
    assert student.sers_id in page
    assert '<h2 class="h3" id="year-2026">2026-27</h2>' in page
    assert f"{articulation.college_course} {articulation.college_course_title}" in page
    assert course_class.teacher.name in page
    assert "Registered" in page
    assert "The 2026-27 fee paid ($50.00 still owed), or a fee waiver" in page
    assert "Your final grade: B or better" in page


def test_my_registrations_makes_the_same_queries_for_many_rows(
    client, django_assert_max_num_queries
):
    school_class = one_college_class()
    student = student_at(school_class.school)
    registration_create(student=student, course_class=school_class)
    client.force_login(student.user)
    with django_assert_max_num_queries(50) as few:
        client.get("/registrations/")
    for _ in range(10):
        registration_create(
            student=student, course_class=one_college_class(school=school_class.school)
        )
    # Last year's classes too: another year group must not cost more queries.
    last_year = one_college_class(start_year=2025, school=school_class.school)
    Registration.objects.create(
        student=student,
        course_class=last_year,
        articulation=last_year.articulations.get(),
        school_year=last_year.school_year,
        is_late=True,
    )

    with django_assert_max_num_queries(len(few.captured_queries)):
        page = client.get("/registrations/").content.decode()
    assert page.count('data-testid="registration"') == 12
    assert "Prior-year credit for 2025-26 costs $65.00" in page
    assert "Prior-year credit for 2026-27" not in page


def test_a_student_sees_only_their_own_registrations(client):
    course_class = one_college_class()
    mine, theirs = student_at(course_class.school), student_at(course_class.school)
    their_registration = registration_create(student=theirs, course_class=course_class)
    client.force_login(mine.user)

    page = client.get("/registrations/").content.decode()
    assert theirs.sers_id not in page
    assert 'data-testid="registration"' not in page
    assert client.get(f"/registrations/{their_registration.pk}/withdraw/").status_code == 404
    assert client.post(f"/registrations/{their_registration.pk}/withdraw/").status_code == 404
    their_registration.refresh_from_db()
    assert their_registration.is_active


def test_withdraw_page_says_the_fee_is_non_refundable_then_withdraws(client):
    course_class = one_college_class()
    student = student_at(course_class.school)
    registration = registration_create(student=student, course_class=course_class)
    client.force_login(student.user)

    page = client.get(f"/registrations/{registration.pk}/withdraw/").content.decode()
    assert "The fee is non-refundable." in page
    response = client.post(f"/registrations/{registration.pk}/withdraw/", follow=True)

    assert "You withdrew from" in response.content.decode()
    registration.refresh_from_db()
    assert registration.status == Registration.Status.WITHDRAWN


def test_withdrawing_after_the_grade_is_refused_on_the_page(client):
    course_class = one_college_class()
    student = student_at(course_class.school)
    registration = registration_create(student=student, course_class=course_class)
    registration.grade = "B"
    registration.save()
    client.force_login(student.user)

    page = client.post(f"/registrations/{registration.pk}/withdraw/").content.decode()

    assert "posted your grade" in page
    registration.refresh_from_db()
    assert registration.is_active


def test_a_prior_year_request_from_the_page(client):
    last_year = two_college_class(start_year=2025)
    student = student_at(last_year.school)
    client.force_login(student.user)
    chosen = last_year.articulations.order_by("pk").first()

    page = client.get("/registrations/prior-year/").content.decode()
    assert "2025-26" in page and "Intro to Business" in page
    step_two = client.post(
        "/registrations/prior-year/?year=2025", {"course_class": last_year.pk, "note": "I forgot."}
    ).content.decode()
    assert "Which college do you want credit from?" in step_two
    assert "I forgot." in step_two
    response = client.post(
        "/registrations/prior-year/?year=2025",
        {"course_class": last_year.pk, "articulation": chosen.pk, "note": "I forgot."},
        follow=True,
    )

    request = PriorYearRequest.objects.get()
    assert request.articulation == chosen and request.note == "I forgot."
    page = response.content.decode()
    assert "We will email you our decision." in page
    assert "Waiting for a decision" in page


def test_a_prior_year_request_without_a_note_keeps_the_choice(client):
    last_year = one_college_class(start_year=2025)
    client.force_login(student_at(last_year.school).user)

    page = client.post(
        "/registrations/prior-year/?year=2025", {"course_class": last_year.pk}
    ).content.decode()

    assert "Tell us in a sentence or two why you did not register that year." in page
    assert f'value="{last_year.pk}" id="id_course_class_0" checked' in page
    assert not PriorYearRequest.objects.exists()


@pytest.mark.parametrize(
    "path",
    [
        "/registrations/",
        "/registrations/new/",
        "/registrations/prior-year/",
        "/registrations/{registration_id}/withdraw/",
        "/registrations/certificate/2026/",
    ],
)
def test_the_registration_pages_are_for_students_only(client, path, admin_user):
    course_class = one_college_class()
    registration = registration_create(
        student=student_at(course_class.school), course_class=course_class
    )
    path = path.format(registration_id=registration.pk)
    assert client.get(path).status_code == 302
    client.force_login(admin_user)
    assert client.get(path).status_code == 404
    assert client.post(path).status_code in (404, 405)
    registration.refresh_from_db()
    assert registration.is_active


def pay_by_check(student, course_class, amount, staff_user):
    return payment_record_offline(
        student=student,
        consortium_id=course_class.school.consortium_id,
        start_year=course_class.school_year_id,
        method=Payment.Method.CHECK,
        payer="Parent",
        reference="4242",
        amount=Decimal(amount),
        received_on=dt.date(2027, 2, 1),
        staff_user=staff_user,
    )


def test_still_needed_says_what_is_left_to_pay_after_a_partial_payment(client, admin_user):
    course_class = one_college_class()
    student = student_at(course_class.school)
    registration_create(student=student, course_class=course_class)
    pay_by_check(student, course_class, "30.00", admin_user)
    client.force_login(student.user)

    page = client.get("/registrations/").content.decode()

    assert "The 2026-27 fee paid ($20.00 still owed), or a fee waiver" in page
    assert "$50.00" not in page


def test_still_needed_counts_the_late_fee_and_goes_once_it_is_all_paid(client, admin_user):
    last_year = one_college_class(start_year=2025)
    student = student_at(last_year.school)
    Registration.objects.create(
        student=student,
        course_class=last_year,
        articulation=last_year.articulations.get(),
        school_year=last_year.school_year,
        is_late=True,
    )
    client.force_login(student.user)

    page = client.get("/registrations/").content.decode()
    assert "The 2025-26 fee paid ($65.00 still owed), or a fee waiver" in page

    pay_by_check(student, last_year, "65.00", admin_user)
    page = client.get("/registrations/").content.decode()
    assert "fee paid (" not in page


@pytest.mark.parametrize(
    ("status", "grade", "can"),
    [
        (Registration.Status.REGISTERED, "", True),
        (Registration.Status.REGISTERED, "B", False),
        (Registration.Status.WITHDRAWN, "", False),
        (Registration.Status.DELETED, "", False),
    ],
)
def test_the_withdraw_rule_has_one_home_the_pages_and_the_service_follow(
    client, status, grade, can
):
    course_class = one_college_class()
    student = student_at(course_class.school)
    registration = registration_create(student=student, course_class=course_class)
    Registration.objects.filter(pk=registration.pk).update(status=status, grade=grade)
    registration.refresh_from_db()
    client.force_login(student.user)

    assert registration.can_be_withdrawn is can
    my_page = client.get("/registrations/").content.decode()
    assert (f"/registrations/{registration.pk}/withdraw/" in my_page) is can
    withdraw_page = client.get(f"/registrations/{registration.pk}/withdraw/").content.decode()
    assert ("Withdraw from this class</button>" in withdraw_page) is can
    client.post(f"/registrations/{registration.pk}/withdraw/")
    registration.refresh_from_db()
    assert (registration.status == Registration.Status.WITHDRAWN) is (
        can or status == Registration.Status.WITHDRAWN
    )


def test_the_prior_year_page_labels_years_as_school_years(client):
    last_year = one_college_class(start_year=2024)
    client.force_login(student_at(last_year.school).user)
    one_college_class(start_year=2025, school=last_year.school)

    response = client.get("/registrations/prior-year/", {"year": 2024})

    assert response.context["year_options"] == [(2025, "2025-26"), (2024, "2024-25")]
    page = response.content.decode()
    assert '<option value="2024" selected>2024-25</option>' in page
    assert '<option value="2025">2025-26</option>' in page
