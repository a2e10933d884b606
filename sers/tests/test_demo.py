import datetime as dt
import zoneinfo

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db.models import Count
from django.test import override_settings

from articulations.models import (
    Articulation,
    CareerCluster,
    Class,
    College,
    Consortium,
    ConsortiumYear,
    School,
    SchoolDistrict,
)
from articulations.school_year import WindowState
from articulations.selectors import current_terms
from articulations.services import class_offer_problems
from district.models import DistrictStaff
from sers.demo import DEMO_PASSWORD, demo_load
from students.models import Student

pytestmark = pytest.mark.django_db
PACIFIC = zoneinfo.ZoneInfo("America/Los_Angeles")


def logs_in(client, username, password) -> bool:
    response = client.post("/accounts/login/", {"username": username, "password": password})
    client.logout()
    return response.status_code == 302


def test_demo_gives_one_login_per_role_and_each_login_works(client):
    logins = demo_load()

    assert {login.role for login in logins} == {
        "Students",
        "Teachers",
        "College registrars",
        "District and school staff",
        "Consortium staff",
        "Consortium staff (second consortium)",
        "State office",
    }
    for login in logins:
        assert logs_in(client, login.username, login.password)
    assert get_user_model().objects.get(username="staff").is_staff


def test_each_consortiums_staff_sees_only_its_own_students_and_the_state_office_sees_all(client):
    demo_load()
    pnw = Consortium.objects.get(name="PNW College Credit")
    basin = Consortium.objects.get(name="Columbia Basin Tech Prep")
    assert (basin.consortium_fee, basin.window_opens_month) != (pnw.consortium_fee, 12)
    assert basin.contact_email != pnw.contact_email
    demo_student = Student.objects.get(user__username="student")

    def students_listed(username):
        client.force_login(get_user_model().objects.get(username=username))
        page = client.get("/admin/students/student/", {"q": demo_student.sers_id})
        client.logout()
        assert page.status_code == 200
        return list(page.context["cl"].result_list)

    assert students_listed("staff") == [demo_student]
    assert students_listed("staff2") == []
    assert students_listed("state") == [demo_student]
    client.force_login(get_user_model().objects.get(username="staff2"))
    schools = client.get("/admin/articulations/school/").context["cl"].result_list
    assert {school.consortium for school in schools} == {basin}


def test_loading_the_demo_twice_changes_nothing(client):
    demo_load()
    student = get_user_model().objects.get(username="student")
    student.set_password("changed-by-the-student-1")
    student.save()

    demo_load()

    assert (
        get_user_model()
        .objects.filter(username__in=["student", "teacher", "registrar", "district", "staff"])
        .count()
        == 5
    )
    assert not logs_in(client, "student", DEMO_PASSWORD)
    assert logs_in(client, "student", "changed-by-the-student-1")


def test_the_command_prints_the_logins(capsys):
    with override_settings(DEBUG=True):
        call_command("load_demo")

    out = capsys.readouterr().out
    for username in ("student", "teacher", "registrar", "district", "staff"):
        assert username in out
    assert "/district/" in out
    assert DEMO_PASSWORD in out


def test_the_command_refuses_to_create_public_passwords_on_a_production_site():
    with pytest.raises(CommandError, match="DEBUG=1"):
        call_command("load_demo")
    assert not get_user_model().objects.exists()


def test_demo_catalog_has_what_a_newcomer_needs_to_try_the_journey():
    with time_machine.travel(dt.datetime(2026, 9, 2, 10, tzinfo=PACIFIC), tick=False):
        demo_load()
        consortium = Consortium.objects.get(name="PNW College Credit")
        terms = current_terms(consortium)

        # September is outside Dec 1 – Jun 15, yet the demo year is open today.
        assert terms.registration_state() == WindowState.OPEN
        assert terms.payment_state() == WindowState.OPEN
        assert ConsortiumYear.objects.filter(consortium=consortium, school_year_id=2026).exists()

    assert Articulation.objects.count() >= 40
    assert Articulation.objects.filter(status=Articulation.Status.EXPIRED).count() == 1
    assert Articulation.objects.filter(status=Articulation.Status.PENDING).count() == 1
    assert SchoolDistrict.objects.count() >= 3
    assert School.objects.filter(kind=School.Kind.SKILL_CENTER).exists()
    assert College.objects.count() == 4  # three for the first consortium, one for the second
    assert CareerCluster.objects.count() == 16
    classes = Class.objects.filter(school_year_id=2026).annotate(colleges=Count("articulations"))
    assert classes.count() >= 10
    assert classes.filter(colleges=2).exists(), "some classes offer a choice of two colleges"
    for klass in classes.prefetch_related("articulations"):
        assert (
            class_offer_problems(
                school=klass.school,
                school_year=klass.school_year,
                teacher=klass.teacher,
                articulations=klass.articulations.all(),
            )
            == []
        )


def test_loading_again_next_year_adds_that_years_classes_and_open_window():
    with time_machine.travel(dt.datetime(2026, 9, 2, 10, tzinfo=PACIFIC), tick=False):
        demo_load()
    rows_before = Articulation.objects.count()
    with time_machine.travel(dt.datetime(2027, 8, 20, 10, tzinfo=PACIFIC), tick=False):
        demo_load()
        pnw = Consortium.objects.get(name="PNW College Credit")
        assert current_terms(pnw).registration_state() == WindowState.OPEN

    assert Articulation.objects.count() == rows_before
    assert Class.objects.filter(school_year_id=2027).exists()
    assert (
        Class.objects.filter(school_year_id=2026).count()
        == Class.objects.filter(school_year_id=2027).count()
    )


def test_the_demo_student_has_a_sers_id_and_a_profile(client):
    demo_load()
    assert logs_in(client, "student", DEMO_PASSWORD)
    client.post("/accounts/login/", {"username": "student", "password": DEMO_PASSWORD})

    page = client.get("/accounts/profile/").content.decode()

    assert Student.objects.get(user__username="student").sers_id in page


def test_the_demo_district_login_finds_the_demo_student_of_its_district(client):
    demo_load()
    demo_load()  # again: still one staff record, for the same district
    staff = DistrictStaff.objects.get(user__username="district")
    student = Student.objects.get(user__username="student")
    assert staff.district == student.school.district
    assert staff.district.consortium.name == "PNW College Credit"
    assert not staff.schools.exists(), "the whole district"
    client.post("/accounts/login/", {"username": "district", "password": DEMO_PASSWORD})

    response = client.get("/district/search/", {"q": student.sers_id.lower()}, follow=True)

    assert response.status_code == 200
    assert student.sers_id in response.content.decode()
    assert student.user.username in response.content.decode()
