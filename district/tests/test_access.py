"""Who may open /district/ pages, and whose students they see: the refusal matrix."""

import uuid

import pytest

from articulations.tests.factories import TeacherFactory, UserFactory
from district.models import StudentLookup
from district.tests.helpers import scene, staff_of
from outbox.models import OutboxEmail
from registration.tests.factories import StudentFactory
from registration.tests.helpers import student_at

pytestmark = pytest.mark.django_db

MISSING_SERS_ID = "TP3-00-0000"


def pages(sers_id: str) -> list[tuple[str, str]]:
    return [
        ("get", "/district/"),
        ("get", "/district/search/?q=Lopez"),
        ("get", f"/district/students/{sers_id}/"),
        ("post", f"/district/students/{sers_id}/login-reminder/"),
        ("get", "/district/lists/registered/"),
        ("get", "/district/lists/not-paid/"),
        ("get", "/district/lists/waivers/"),
        ("get", "/district/lists/credit/"),
    ]


def visit(client, method: str, url: str):
    if method == "post":
        return client.post(url, {"click_id": str(uuid.uuid4())})
    return client.get(url)


def test_an_anonymous_visitor_is_sent_to_log_in_on_every_page(client):
    student = student_at(scene().s1)

    for method, url in pages(student.sers_id):
        response = visit(client, method, url)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/accounts/login/?next=/district/"), url


@pytest.mark.parametrize("who", ["student", "teacher", "staff without a district record"])
def test_anyone_logged_in_who_is_not_district_staff_gets_the_403_page(client, who):
    the_scene = scene()
    student = student_at(the_scene.s1)
    user = {
        "student": lambda: StudentFactory(school=the_scene.s1).user,
        "teacher": lambda: TeacherFactory(schools=[the_scene.s1]).user,
        "staff without a district record": lambda: UserFactory(is_staff=True, is_superuser=True),
    }[who]()
    client.force_login(user)

    for method, url in pages(student.sers_id):
        response = visit(client, method, url)
        assert response.status_code == 403, url
        page = response.content.decode()
        assert "This page is for district and school staff" in page
        assert student.sers_id not in page
    assert not StudentLookup.objects.exists()
    assert not OutboxEmail.objects.filter(kind="forgot_login").exists()


def refused_like_a_missing_student(client, student):
    """The student's record and reminder answer exactly as a SERS ID nobody has."""
    for suffix in ("", "login-reminder/"):
        method = "post" if suffix else "get"
        theirs = visit(client, method, f"/district/students/{student.sers_id}/{suffix}")
        nobodys = visit(client, method, f"/district/students/{MISSING_SERS_ID}/{suffix}")
        assert theirs.status_code == nobodys.status_code == 404
        assert theirs.content == nobodys.content
        assert student.sers_id not in theirs.content.decode()
    # Found by no key either.
    for typed in (student.sers_id, student.user.username, student.email, student.legal_last_name):
        response = client.get("/district/search/", {"q": typed})
        assert response.status_code == 200, typed
        assert 'data-testid="no-results"' in response.content.decode(), typed
    for slug in ("registered", "not-paid", "credit"):
        assert student.sers_id not in client.get(f"/district/lists/{slug}/").content.decode()


def test_a_user_of_district_a_never_reaches_a_student_of_district_b(client):
    the_scene = scene()
    theirs, _ = the_scene.registered(the_scene.t1, legal_last_name="Okafor")
    client.force_login(staff_of(the_scene.district_a).user)

    refused_like_a_missing_student(client, theirs)

    assert not StudentLookup.objects.exists()
    assert not OutboxEmail.objects.filter(kind="forgot_login").exists()


def test_a_user_of_school_s1_never_reaches_a_student_of_s2_of_the_same_district(client):
    the_scene = scene()
    ours, _ = the_scene.registered(the_scene.s1, legal_last_name="Lopez")
    theirs, _ = the_scene.registered(the_scene.s2, legal_last_name="Okafor")
    client.force_login(staff_of(the_scene.district_a, the_scene.s1).user)

    refused_like_a_missing_student(client, theirs)
    assert client.get(f"/district/students/{ours.sers_id}/").status_code == 200
    assert StudentLookup.objects.get().student == ours


def test_a_user_of_the_whole_district_reaches_every_school_of_it(client):
    the_scene = scene()
    at_s1, at_s2 = student_at(the_scene.s1), student_at(the_scene.s2)
    client.force_login(staff_of(the_scene.district_a).user)

    for student in (at_s1, at_s2):
        assert client.get(f"/district/students/{student.sers_id}/").status_code == 200


def test_a_school_of_another_district_slipped_into_the_choice_widens_nothing(client):
    """The admin refuses it; were one saved anyway, the selectors still ignore it."""
    the_scene = scene()
    staff = staff_of(the_scene.district_a, the_scene.s1)
    staff.schools.add(the_scene.t1)  # past the service's check, on purpose
    at_s1, at_s2, at_t1 = (
        student_at(school) for school in (the_scene.s1, the_scene.s2, the_scene.t1)
    )
    client.force_login(staff.user)

    assert client.get(f"/district/students/{at_s1.sers_id}/").status_code == 200
    assert client.get(f"/district/students/{at_s2.sers_id}/").status_code == 404
    assert client.get(f"/district/students/{at_t1.sers_id}/").status_code == 404

    # Only the other district's school chosen: nobody, not the whole district.
    staff.schools.set([the_scene.t1])
    assert client.get(f"/district/students/{at_s1.sers_id}/").status_code == 404
    assert client.get(f"/district/students/{at_t1.sers_id}/").status_code == 404


def test_the_page_says_whose_students_it_shows(client):
    the_scene = scene()
    client.force_login(staff_of(the_scene.district_a).user)
    whole = client.get("/district/").content.decode()
    client.force_login(staff_of(the_scene.district_a, the_scene.s2, the_scene.s1).user)
    some = client.get("/district/").content.decode()

    assert 'data-testid="scope">Bellevue School District<' in whole
    assert (
        'data-testid="scope">Bellevue High School, Interlake High School (Bellevue School District)<'
        in some
    )
    assert 'href="/district/"' in whole, "the header links to the look-up"


def test_a_sers_id_that_is_not_one_is_a_404_too(client):
    client.force_login(staff_of(scene().district_a).user)

    assert client.get("/district/students/not-an-id/").status_code == 404
    assert client.get("/district/lists/everyone/").status_code == 404
