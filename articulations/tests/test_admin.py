"""The catalog admin as consortium staff use it: lists, forms, the class rules, approvals."""

import datetime as dt
import itertools
import zoneinfo

import pytest
import time_machine
from django.contrib.admin.models import LogEntry
from django.contrib.messages import get_messages
from django.core import checks
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from pytest_django.asserts import assertContains

from articulations.models import (
    Articulation,
    CareerCluster,
    Class,
    College,
    Consortium,
    ConsortiumYear,
    School,
    SchoolDistrict,
    SchoolYear,
    Teacher,
)
from articulations.tests.factories import (
    ArticulationFactory,
    CareerClusterFactory,
    ClassFactory,
    CollegeFactory,
    ConsortiumFactory,
    SchoolDistrictFactory,
    SchoolFactory,
    SchoolYearFactory,
    TeacherFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

PACIFIC = zoneinfo.ZoneInfo("America/Los_Angeles")


def make_articulation(n):
    articulation = ArticulationFactory(valid_to=SchoolYearFactory(start_year=2027))
    articulation.schools.add(SchoolFactory(), SchoolFactory())
    return articulation


# One row of each catalog model, with its relations filled in, so that list pages
# show (and must fetch) what staff see. factories.py has no ConsortiumYear.
MAKERS = {
    College: lambda n: CollegeFactory(),
    Consortium: lambda n: ConsortiumFactory(host_college=CollegeFactory()),
    SchoolYear: lambda n: SchoolYearFactory(start_year=2000 + n),
    ConsortiumYear: lambda n: ConsortiumYear.objects.create(
        consortium=ConsortiumFactory(), school_year=SchoolYearFactory(start_year=2000 + n)
    ),
    SchoolDistrict: lambda n: SchoolDistrictFactory(),
    School: lambda n: SchoolFactory(),
    CareerCluster: lambda n: CareerClusterFactory(name=f"Cluster {n}"),
    Articulation: make_articulation,
    Teacher: lambda n: TeacherFactory(
        schools=[SchoolFactory(), SchoolFactory()], approved_by=UserFactory()
    ),
    Class: lambda n: ClassFactory(
        articulations=ArticulationFactory.create_batch(2, hs_course_number=f"HS-{n}")
    ),
}
MODELS = list(MAKERS)


def url(model, view, *args):
    return reverse(f"admin:articulations_{model._meta.model_name}_{view}", args=args)


@pytest.mark.parametrize("model", MODELS, ids=lambda model: model.__name__)
def test_every_list_add_and_change_page_opens(admin_client, model):
    row = MAKERS[model](1)

    listed = admin_client.get(url(model, "changelist"))
    searched = admin_client.get(url(model, "changelist"), {"q": "1"})

    assert listed.status_code == 200
    assert listed.context["cl"].result_count == 1
    assert searched.status_code == 200
    assert admin_client.get(url(model, "add")).status_code == 200
    assert admin_client.get(url(model, "change", row.pk)).status_code == 200


@pytest.mark.parametrize("model", MODELS, ids=lambda model: model.__name__)
def test_a_list_page_makes_the_same_queries_for_2_rows_as_for_10(admin_client, model):
    numbers = itertools.count()
    for _ in range(2):
        MAKERS[model](next(numbers))
    admin_client.get(url(model, "changelist"))  # the session and the like, once

    with CaptureQueriesContext(connection) as two_rows:
        admin_client.get(url(model, "changelist"))
    for _ in range(8):
        MAKERS[model](next(numbers))
    with CaptureQueriesContext(connection) as ten_rows:
        response = admin_client.get(url(model, "changelist"))

    assert response.context["cl"].result_count == 10
    assert len(ten_rows) == len(two_rows), [query["sql"] for query in ten_rows]


# The pickers staff type into on the class and registration forms: (source model, field,
# the model it searches).
AUTOCOMPLETES = [
    ("articulations", "class", "articulations", Articulation),
    ("articulations", "class", "teacher", Teacher),
    ("registration", "registration", "course_class", Class),
]


@pytest.mark.parametrize(
    ("app_label", "model_name", "field_name", "model"),
    AUTOCOMPLETES,
    ids=[f"{source}.{field}" for _, source, field, _ in AUTOCOMPLETES],
)
def test_an_autocomplete_makes_the_same_queries_for_2_results_as_for_10(
    admin_client, app_label, model_name, field_name, model
):
    numbers = itertools.count()
    query = {"app_label": app_label, "model_name": model_name, "field_name": field_name}
    for _ in range(2):
        MAKERS[model](next(numbers))
    admin_client.get("/admin/autocomplete/", query)

    with CaptureQueriesContext(connection) as two:
        admin_client.get("/admin/autocomplete/", query)
    for _ in range(8):
        MAKERS[model](next(numbers))
    with CaptureQueriesContext(connection) as ten:
        response = admin_client.get("/admin/autocomplete/", query)

    assert len(response.json()["results"]) == 10
    assert len(ten) == len(two), [captured["sql"] for captured in ten]


def test_the_catalog_admin_passes_django_checks():
    # Among them: every autocomplete field's target admin has search_fields.
    problems = [
        problem
        for problem in checks.run_checks(tags=[checks.Tags.admin])
        if getattr(problem.obj, "__module__", "").startswith("articulations")
    ]

    assert problems == []


def test_a_user_who_is_not_staff_is_sent_to_the_admin_login(client):
    client.force_login(UserFactory())

    for path in (url(Articulation, "changelist"), url(Articulation, "import")):
        response = client.get(path)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("admin:login"))


def test_staff_find_a_school_year_by_its_label(admin_client):
    SchoolYearFactory(start_year=2025)
    SchoolYearFactory(start_year=2026)

    response = admin_client.get(
        reverse("admin:autocomplete"),
        {
            "app_label": "articulations",
            "model_name": "class",
            "field_name": "school_year",
            "term": "2025-26",
        },
    )

    assert [result["text"] for result in response.json()["results"]] == ["2025-26"]


def test_an_override_is_edited_under_its_school_year_and_under_its_consortium(admin_client):
    override = MAKERS[ConsortiumYear](25)
    override.note = "Snow days moved the close"
    override.save()

    for page in (
        url(SchoolYear, "change", override.school_year_id),
        url(Consortium, "change", override.consortium_id),
    ):
        assertContains(admin_client.get(page), "Snow days moved the close")


def test_the_articulation_form_says_when_it_ends_before_it_starts(admin_client):
    district = SchoolDistrictFactory()
    data = {
        "consortium": district.consortium_id,
        "hs_course_name": "Accounting 1",
        "hs_course_number": "ACC100",
        "district": district.pk,
        "hs_credits": "1.0",
        "college": CollegeFactory().pk,
        "college_course_prefix": "ACCT",
        "college_course_number": "201",
        "college_course_title": "Principles of Accounting",
        "college_credits": "5",
        "minimum_grade": "B",
        "career_cluster": CareerClusterFactory().pk,
        "terms": "1",
        "valid_from": SchoolYearFactory(start_year=2025).pk,
        "valid_to": SchoolYearFactory(start_year=2024).pk,
        "status": "active",
    }

    response = admin_client.post(url(Articulation, "add"), data)

    assertContains(response, "The last school year, 2024-25, is before the first, 2025-26.")
    assert not Articulation.objects.exists()


# --- The class form ---------------------------------------------------------------


@pytest.fixture
def offer():
    """A school, a teacher there and an articulation for its district valid 2024-25 to 2025-26."""
    school = SchoolFactory()
    articulation = ArticulationFactory(
        district=school.district,
        hs_course_name="Accounting 1",
        valid_from=SchoolYearFactory(start_year=2024),
        valid_to=SchoolYearFactory(start_year=2025),
    )
    return {
        "school": school,
        "teacher": TeacherFactory(schools=[school]),
        "articulation": articulation,
    }


def class_form(offer, start_year, articulations):
    return {
        "articulations": [articulation.pk for articulation in articulations],
        "school": offer["school"].pk,
        "school_year": SchoolYearFactory(start_year=start_year).pk,
        "teacher": offer["teacher"].pk,
        "term": "Fall",
        "period": "3",
    }


def test_the_class_form_saves_a_class_its_articulation_allows(admin_client, offer):
    response = admin_client.post(
        url(Class, "add"), class_form(offer, 2025, [offer["articulation"]])
    )

    assert response.status_code == 302
    klass = Class.objects.get()
    assert list(klass.articulations.all()) == [offer["articulation"]]


def test_the_class_form_refuses_a_year_outside_the_articulation(admin_client, offer):
    response = admin_client.post(
        url(Class, "add"), class_form(offer, 2026, [offer["articulation"]])
    )

    assertContains(
        response, f"{offer['articulation']} is valid 2024-25 to 2025-26, not in 2026-27."
    )
    assert not Class.objects.exists()


def test_the_class_form_refuses_two_high_school_courses_in_one_class(admin_client, offer):
    other_course = ArticulationFactory(district=offer["school"].district, hs_course_number="WEB200")
    course_number = offer["articulation"].hs_course_number

    response = admin_client.post(
        url(Class, "add"), class_form(offer, 2025, [offer["articulation"], other_course])
    )

    assertContains(
        response,
        "All articulations of a class must be the same high-school course; "
        f"these are courses {course_number}, WEB200.",
    )
    assert not Class.objects.exists()


# --- Teachers ---------------------------------------------------------------------

SEPTEMBER_1_2026 = dt.datetime(2026, 9, 1, 10, tzinfo=PACIFIC)


@pytest.fixture
def teachers():
    return {
        "new": TeacherFactory(approved_on=None),
        "expired": TeacherFactory(
            approved_on=dt.date(2024, 8, 15), approval_expires_on=dt.date(2025, 6, 30)
        ),
        "approved": TeacherFactory(approved_on=dt.date(2025, 8, 15)),
    }


@time_machine.travel(SEPTEMBER_1_2026, tick=False)
def test_the_teacher_list_says_approved_not_approved_or_expired(admin_client, teachers):
    listed = admin_client.get(url(Teacher, "changelist"))
    for word in ("approved", "not approved", "expired"):
        assertContains(listed, f'<td class="field-approval">{word}</td>', count=1)

    for word, teacher in (
        ("approved", teachers["approved"]),
        ("not approved", teachers["new"]),
        ("expired", teachers["expired"]),
    ):
        filtered = admin_client.get(url(Teacher, "changelist"), {"approval": word})
        assert list(filtered.context["cl"].result_list) == [teacher]


@time_machine.travel(SEPTEMBER_1_2026, tick=False)
def test_approving_teachers_dates_and_signs_each_one_and_says_how_many(
    admin_client, admin_user, teachers
):
    response = admin_client.post(
        url(Teacher, "changelist"),
        {"action": "approve", "_selected_action": [t.pk for t in teachers.values()]},
        follow=True,
    )

    assert [str(m) for m in get_messages(response.wsgi_request)] == [
        "Approved 2 teachers. 1 was already approved."
    ]
    for key in ("new", "expired"):
        teacher = Teacher.objects.get(pk=teachers[key].pk)
        assert teacher.approved_on == dt.date(2026, 9, 1)
        assert teacher.approved_by == admin_user
        assert teacher.is_approved_on(dt.date(2026, 9, 1))
        assert LogEntry.objects.filter(object_id=str(teacher.pk), user=admin_user).exists()
    untouched = Teacher.objects.get(pk=teachers["approved"].pk)
    assert untouched.approved_on == dt.date(2025, 8, 15)
    assert untouched.approved_by is None


@time_machine.travel(SEPTEMBER_1_2026, tick=False)
def test_setting_an_approval_date_by_hand_records_who_approved(admin_client, admin_user):
    school = SchoolFactory()
    teacher = TeacherFactory(approved_on=None, schools=[school])

    response = admin_client.post(
        url(Teacher, "change", teacher.pk),
        {
            "user": teacher.user_id,
            "schools": [school.pk],
            "approved_on": "2026-09-01",
            "approval_expires_on": "",
        },
    )

    assert response.status_code == 302
    teacher.refresh_from_db()
    assert teacher.approved_by == admin_user
