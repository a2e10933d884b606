"""Finding a student of one's schools by SERS ID (typed any way), username, email or name."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from district import views
from district.models import StudentLookup
from district.selectors import SEARCH_RESULTS_SHOWN
from district.tests.helpers import scene, staff_of
from registration.tests.helpers import student_at

pytestmark = pytest.mark.django_db


@pytest.fixture
def the_scene():
    return scene()


@pytest.fixture
def staff(client, the_scene):
    staff = staff_of(the_scene.district_a)
    client.force_login(staff.user)
    return staff


def search(client, typed):
    return client.get("/district/search/", {"q": typed})


def record_url(student) -> str:
    return f"/district/students/{student.sers_id}/"


def test_the_look_up_page_has_the_search_box_and_the_lists(client, staff):
    page = client.get("/district/").content.decode()

    assert "<title>Student look-up, Bellevue School District – SERS</title>" in page
    assert 'for="id_q"' in page and "Name, SERS ID, username or email" in page
    assert 'role="search"' in page
    for slug, words in (
        ("registered", "Registered this year"),
        ("not-paid", "Not yet paid"),
        ("waivers", "Waiting for a fee waiver"),
        ("credit", "Credit earned"),
    ):
        assert f'href="/district/lists/{slug}/">{words}</a>' in page


@pytest.mark.parametrize("typed", ["{id}", "{lower}", "{spaced}", "{digits}", " {compact} "])
def test_a_sers_id_typed_any_way_opens_the_record(client, the_scene, staff, typed):
    student = student_at(the_scene.s1)
    digits = student.sers_id.replace("TP3-", "").replace("-", "")
    typed = typed.format(
        id=student.sers_id,
        lower=student.sers_id.lower(),
        spaced=student.sers_id.replace("-", " ").lower(),
        digits=digits,
        compact="tp3" + digits,
    )

    response = search(client, typed)

    assert response.status_code == 302
    assert response["Location"] == record_url(student)


def test_a_username_opens_the_record_whatever_its_case(client, the_scene, staff):
    student = student_at(the_scene.s2)

    response = search(client, student.user.username.upper())

    assert response["Location"] == record_url(student)


def test_an_email_lists_every_student_using_it_and_logs_each(client, the_scene, staff):
    older = student_at(the_scene.s1, email="lopez.family@example.org", legal_first_name="Ana")
    younger = student_at(the_scene.s2, email="lopez.family@example.org", legal_first_name="Leo")
    student_at(the_scene.t1, email="lopez.family@example.org")  # another district's
    student_at(the_scene.s1, email="someone.else@example.org")

    response = search(client, "Lopez.Family@Example.org")

    assert response.status_code == 200
    page = response.content.decode()
    assert 'data-testid="result-count">2 students match<' in page
    assert page.count('data-testid="result-row"') == 2
    for student in (older, younger):
        assert f'href="{record_url(student)}"' in page
    lookups = StudentLookup.objects.filter(page=StudentLookup.Page.SEARCH)
    assert {lookup.student for lookup in lookups} == {older, younger}
    assert {lookup.user for lookup in lookups} == {staff.user}
    assert {lookup.query for lookup in lookups} == {"Lopez.Family@Example.org"}


@pytest.mark.parametrize("typed", ["okafor", "Okafor Amara", "okafor, am", "AMARA   OKAF"])
def test_names_match_on_every_word_typed(client, the_scene, staff, typed):
    amara = student_at(the_scene.s1, legal_first_name="Amara", legal_last_name="Okafor")
    student_at(the_scene.s1, legal_first_name="Amara", legal_last_name="Lopez")
    chidi = student_at(the_scene.s2, legal_first_name="Chidi", legal_last_name="Okafor")

    response = search(client, typed)

    if typed == "okafor":
        page = response.content.decode()
        assert page.count('data-testid="result-row"') == 2
        assert "Okafor, Amara" in page and "Okafor, Chidi" in page
        assert page.index("Okafor, Amara") < page.index("Okafor, Chidi")
        assert StudentLookup.objects.filter(student__in=[amara, chidi]).count() == 2
    else:
        assert response["Location"] == record_url(amara)


def test_no_match_says_what_to_try_and_logs_nothing(client, the_scene, staff):
    student_at(the_scene.s1, legal_last_name="Lopez")

    response = search(client, "Zamora")

    assert response.status_code == 200
    page = response.content.decode()
    assert 'data-testid="result-count">No student found<' in page
    assert "No student of your schools matches “Zamora”." in page
    assert not StudentLookup.objects.exists()


def test_an_empty_search_shows_the_error_summary(client, staff):
    response = search(client, "  ")

    assert response.status_code == 400
    page = response.content.decode()
    assert "There is a problem" in page
    assert '<a href="#id_q">Enter a student&#x27;s name, SERS ID, username or email.</a>' in page
    assert "<title>Error: Find a student" in page


def test_a_search_matching_many_shows_the_first_fifty_and_asks_for_more(client, the_scene, staff):
    for _ in range(SEARCH_RESULTS_SHOWN + 1):
        student_at(the_scene.s1, legal_first_name="Maya")

    page = search(client, "maya").content.decode()

    assert f'data-testid="result-count">More than {SEARCH_RESULTS_SHOWN} students match<' in page
    assert page.count('data-testid="result-row"') == SEARCH_RESULTS_SHOWN
    assert StudentLookup.objects.count() == SEARCH_RESULTS_SHOWN


def test_searching_is_rate_limited_per_user(client, the_scene, staff, monkeypatch):
    monkeypatch.setattr(views, "SEARCH_RATE", "2/h")
    student_at(the_scene.s1, legal_last_name="Lopez")
    student_at(the_scene.s2, legal_last_name="Lopez")

    assert search(client, "lopez").status_code == 200
    assert search(client, "lopez").status_code == 200
    response = search(client, "lopez")

    assert response.status_code == 429
    page = response.content.decode()
    assert views.TOO_MANY_SEARCHES in page
    assert 'data-testid="result-row"' not in page
    assert StudentLookup.objects.count() == 4, "the refused search looked nobody up"
    # Another staff member is not held back.
    client.force_login(staff_of(the_scene.district_a).user)
    assert search(client, "lopez").status_code == 200


def results_queries(client, typed) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = search(client, typed)
    assert response.status_code == 200
    return len(queries)


def test_search_results_take_the_same_queries_for_2_or_8_students(client, the_scene, staff):
    for school in (the_scene.s1, the_scene.s2):
        student_at(school, legal_first_name="Maya")
    few = results_queries(client, "maya")

    for _ in range(3):
        for school in (the_scene.s1, the_scene.s2):
            student_at(school, legal_first_name="Maya")
    many = results_queries(client, "maya")

    assert StudentLookup.objects.count() == 2 + 8
    assert many == few
