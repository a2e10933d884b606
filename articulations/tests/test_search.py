"""The public catalog: search with filters and shareable URLs, and one articulation's page."""

import html
import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from articulations.models import Articulation
from articulations.selectors import current_school_year
from articulations.tests.factories import (
    ArticulationFactory,
    CareerClusterFactory,
    ClassFactory,
    CollegeFactory,
    SchoolDistrictFactory,
    SchoolFactory,
    SchoolYearFactory,
    TeacherFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

SEARCH = "/articulations/"


@pytest.fixture
def this_year():
    return current_school_year()


def years_from_now(offset: int):
    return SchoolYearFactory(start_year=current_school_year().start_year + offset)


def for_schools(*schools, **fields) -> Articulation:
    """An articulation for a list of schools and no whole district (the factory gives one)."""
    articulation = ArticulationFactory(district=None, consortium=schools[0].consortium, **fields)
    articulation.schools.add(*schools)
    return articulation


def search(client, **params):
    response = client.get(SEARCH, params)
    assert response.status_code == 200
    return response


def found(response) -> list[str]:
    """The high-school course names of the results, in page order."""
    return [
        html.unescape(name)
        for name in re.findall(r'href="/articulations/\d+/">([^<]+)</a></h3>', response.text)
    ]


# --- What a result shows ----------------------------------------------------------


def test_anyone_finds_this_years_classes_with_what_a_student_needs_to_know(client, this_year):
    ArticulationFactory(
        hs_course_name="Business Foundations",
        hs_course_number="CTE2001",
        college=CollegeFactory(name="Bellevue College", code="BC"),
        college_course_prefix="BUS",
        college_course_number="101",
        college_course_title="Introduction to Business",
        college_credits=Decimal("5.0"),
        career_cluster=CareerClusterFactory(name="Business Management & Administration"),
        minimum_grade="B",
        valid_from=years_from_now(-1),
    )

    response = search(client)

    assert "<title>Find a class – SERS</title>" in response.text
    assert found(response) == ["Business Foundations"]
    page = response.text
    assert "1 class found" in page
    assert f"for {this_year.label}" in page
    assert "BUS 101 Introduction to Business" in page
    assert "Bellevue College" in page
    assert "CTE2001" in page
    assert "<dd>5</dd>" in page  # college credits
    assert "Business Management &amp; Administration" in page
    assert "B or better" in page
    assert f"{years_from_now(-1).label} onward" in page
    assert "<dd>Active</dd>" in page


def test_the_header_links_to_the_catalog_from_every_page(client):
    assert f'href="{SEARCH}"' in client.get("/").text


# --- Filters ----------------------------------------------------------------------


def test_district_filter_finds_the_districts_own_articulations_and_those_of_its_schools(client):
    district = SchoolDistrictFactory(name="Bellevue School District")
    ArticulationFactory(hs_course_name="Whole district", district=district)
    for_schools(SchoolFactory(district=district), hs_course_name="One of its schools")
    ArticulationFactory(hs_course_name="Another district")

    response = search(client, district=district.pk)

    assert found(response) == ["One of its schools", "Whole district"]


def test_school_filter_finds_articulations_of_its_district_and_those_listing_it(client):
    school = SchoolFactory(name="Interlake High School")
    neighbour = SchoolFactory(district=school.district)
    ArticulationFactory(hs_course_name="Its district", district=school.district)
    for_schools(school, hs_course_name="Listed")
    for_schools(neighbour, hs_course_name="Only the neighbour")
    ArticulationFactory(hs_course_name="Elsewhere")

    response = search(client, school=school.pk)

    assert found(response) == ["Its district", "Listed"]


def test_school_select_names_the_district_so_that_same_named_schools_differ(client):
    SchoolFactory(name="Lincoln High School", district=SchoolDistrictFactory(name="Tacoma"))
    SchoolFactory(name="Lincoln High School", district=SchoolDistrictFactory(name="Seattle"))

    page = search(client).text

    assert "Lincoln High School (Tacoma)" in page
    assert "Lincoln High School (Seattle)" in page


def test_consortium_filter_finds_only_that_consortiums_articulations(client):
    seattle_area = ArticulationFactory(hs_course_name="Welding")
    ArticulationFactory(hs_course_name="Accounting")
    consortium = seattle_area.consortium

    page = client.get(SEARCH, {"consortium": consortium.pk}).content.decode()

    assert found(search(client, consortium=consortium.pk)) == ["Welding"]
    assert (
        f'<option value="{consortium.pk}" selected>{html.escape(consortium.name)}</option>' in page
    )


def test_college_filter(client):
    bellevue = CollegeFactory(name="Bellevue College", code="BC")
    ArticulationFactory(hs_course_name="Accounting", college=bellevue)
    ArticulationFactory(hs_course_name="Welding", college=CollegeFactory(name="Renton", code="RTC"))

    assert found(search(client, college=bellevue.pk)) == ["Accounting"]


def test_career_cluster_filter(client):
    health = CareerClusterFactory(name="Health Science", field="health")
    ArticulationFactory(hs_course_name="Medical Terminology", career_cluster=health)
    ArticulationFactory(hs_course_name="Marketing")

    assert found(search(client, cluster=health.pk)) == ["Medical Terminology"]


def test_year_filter_defaults_to_this_year_and_knows_open_ended_and_expired_articulations(
    client, this_year
):
    ArticulationFactory(hs_course_name="Open ended", valid_from=years_from_now(-2), valid_to=None)
    ArticulationFactory(hs_course_name="This year only", valid_from=this_year, valid_to=this_year)
    ArticulationFactory(
        hs_course_name="Ended last year",
        valid_from=years_from_now(-3),
        valid_to=years_from_now(-1),
        status=Articulation.Status.EXPIRED,
    )
    ArticulationFactory(hs_course_name="Starts next year", valid_from=years_from_now(1))

    this_years = search(client)
    last_years = search(client, year=this_year.start_year - 1)
    all_years = search(client, year="all")

    assert found(this_years) == ["Open ended", "This year only"]
    assert found(last_years) == ["Ended last year", "Open ended"]
    assert "<dd>Expired</dd>" in last_years.text
    assert found(all_years) == [
        "Ended last year",
        "Open ended",
        "Starts next year",
        "This year only",
    ]
    assert "in all years" in all_years.text
    # The year select offers every school year and "All years", this one chosen by default.
    assert f'<option value="{this_year.start_year}" selected>{this_year.label}</option>' in (
        this_years.text
    )
    assert '<option value="all">All years</option>' in this_years.text


def test_filters_combine(client):
    bellevue = CollegeFactory(name="Bellevue College", code="BC")
    health = CareerClusterFactory(name="Health Science", field="health")
    ArticulationFactory(hs_course_name="Both", college=bellevue, career_cluster=health)
    ArticulationFactory(hs_course_name="College only", college=bellevue)
    ArticulationFactory(hs_course_name="Cluster only", career_cluster=health)

    assert found(search(client, college=bellevue.pk, cluster=health.pk)) == ["Both"]


# --- Free text --------------------------------------------------------------------


@pytest.fixture
def courses():
    ArticulationFactory(
        hs_course_name="Accounting 1",
        hs_course_number="CTE3301",
        college_course_prefix="ACCT",
        college_course_number="101",
        college_course_title="Introduction to Business Accounting",
    )
    ArticulationFactory(
        hs_course_name="Business Foundations",
        hs_course_number="CTE2001",
        college_course_prefix="BUS",
        college_course_number="101",
        college_course_title="Introduction to Business",
    )
    ArticulationFactory(
        hs_course_name="Marketing",
        hs_course_number="CTE2002",
        college_course_prefix="BUS",
        college_course_number="102",
        college_course_title="Principles of Marketing",
    )


@pytest.mark.usefixtures("courses")
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("accounting", ["Accounting 1"]),  # any case, part of the high-school course name
        ("CTE200", ["Business Foundations", "Marketing"]),  # high-school course number
        ("BUS 101", ["Business Foundations"]),  # college prefix and number, not ACCT 101
        ("bus101", ["Business Foundations"]),
        ("  BUS   101 ", ["Business Foundations"]),
        ("Principles of marketing", ["Marketing"]),  # college course title
    ],
)
def test_free_text_searches_course_names_and_numbers(client, text, expected):
    assert found(search(client, q=text)) == expected


# --- What is public ---------------------------------------------------------------


def test_pending_articulations_are_never_shown(client):
    ArticulationFactory(hs_course_name="Approved Welding")
    pending = ArticulationFactory(
        hs_course_name="Pending Welding", status=Articulation.Status.PENDING
    )

    assert found(search(client, q="Welding", year="all")) == ["Approved Welding"]
    assert client.get(f"/articulations/{pending.pk}/").status_code == 404


# --- Pages ------------------------------------------------------------------------


def next_page_link(response) -> str:
    match = re.search(r'href="(\?[^"]*)" rel="next"', response.text)
    assert match, "no link to the next page"
    return SEARCH + html.unescape(match.group(1))


def test_results_come_20_to_a_page_and_page_links_keep_the_filters(client):
    bellevue = CollegeFactory(name="Bellevue College", code="BC")
    for number in range(25):
        ArticulationFactory(hs_course_name=f"Bellevue course {number:02d}", college=bellevue)
    ArticulationFactory(hs_course_name="Another college's course")

    first = search(client, college=bellevue.pk)
    second = client.get(next_page_link(first))

    assert len(found(first)) == 20
    assert "25 classes found" in first.text
    assert "Showing 1 to 20 of 25." in first.text
    assert f"college={bellevue.pk}" in next_page_link(first)
    assert second.status_code == 200
    assert len(found(second)) == 5
    assert sorted(found(first) + found(second)) == [
        f"Bellevue course {number:02d}" for number in range(25)
    ]
    assert "Showing 21 to 25 of 25." in second.text


def test_no_results_says_so_and_offers_to_clear_the_filters(client, this_year):
    ArticulationFactory(hs_course_name="Welding")

    response = search(client, q="Underwater basket weaving")

    assert found(response) == []
    assert f"No classes found for {this_year.label}" in response.text
    assert "clear a filter" in response.text
    assert f'<a href="{SEARCH}">Clear all filters</a>' in response.text
    all_years = re.search(r'<a href="(\?[^"]*)">Search all school years</a>', response.text)
    assert all_years
    assert html.unescape(all_years.group(1)) == "?q=Underwater+basket+weaving&year=all"


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"college": "abc"}, "Choose a college from the list."),
        ({"college": "999999"}, "Choose a college from the list."),
        ({"district": "-1"}, "Choose a school district from the list."),
        ({"school": "99999999999999999999999"}, "Choose a school from the list."),
        ({"cluster": "1.5"}, "Choose a career cluster from the list."),
        ({"year": "1999"}, "Choose a school year from the list."),
        ({"year": "next"}, "Choose a school year from the list."),
        ({"q": "x" * 101}, "Enter 100 characters or fewer."),
    ],
)
def test_a_bad_filter_in_the_url_shows_what_to_fix_instead_of_failing(client, params, message):
    ArticulationFactory(hs_course_name="Welding")

    response = search(client, **params)

    assert "There is a problem" in response.text
    assert message in response.text
    # The error summary links to the field to fix.
    field = next(iter(params))
    assert f'href="#id_{field}"' in response.text


@pytest.mark.parametrize("field", ["q", "district", "year"])
def test_a_null_character_in_the_url_is_an_error_to_fix_not_a_server_error(client, field):
    # PostgreSQL refuses NUL in text; the form must catch it before any query.
    response = search(client, **{field: "a\x00b"})

    assert "There is a problem" in response.text
    assert f'href="#id_{field}"' in response.text


@pytest.mark.parametrize("page", ["banana", "0", "999"])
def test_a_bad_page_number_shows_a_real_page(client, page):
    ArticulationFactory(hs_course_name="Welding")

    response = search(client, page=page)

    assert found(response) == ["Welding"]


# --- One articulation -------------------------------------------------------------


def teacher_named(first_name, last_name, **fields):
    user = UserFactory(username=f"{first_name}.{last_name}".lower(), first_name=first_name)
    user.last_name = last_name
    user.save()
    return TeacherFactory(user=user, **fields)


def test_detail_page_gives_the_whole_articulation_and_who_teaches_it_this_year(client, this_year):
    district = SchoolDistrictFactory(name="Bellevue School District")
    interlake = SchoolFactory(name="Interlake High School", district=district)
    sammamish = SchoolFactory(name="Sammamish High School", district=district)
    articulation = ArticulationFactory(
        hs_course_name="Business Foundations",
        hs_course_number="CTE2001",
        hs_credits=Decimal("0.50"),
        district=district,
        college=CollegeFactory(name="Bellevue College", code="BC"),
        college_course_prefix="BUS",
        college_course_number="101",
        college_course_title="Introduction to Business",
        college_credits=Decimal("5.0"),
        minimum_grade="B+",
        career_cluster=CareerClusterFactory(name="Business Management & Administration"),
        terms=2,
        valid_from=years_from_now(-1),
        valid_to=years_from_now(2),
    )
    ClassFactory(
        articulations=[articulation],
        school=interlake,
        teacher=teacher_named("Maria", "Lopez"),
        school_year=this_year,
        period="3",
        term="Fall",
    )
    ClassFactory(
        articulations=[articulation],
        school=sammamish,
        teacher=teacher_named("Sam", "Okafor"),
        school_year=years_from_now(-1),
    )
    ClassFactory(  # Another course taught at the same school this year.
        school=sammamish, teacher=teacher_named("Lee", "Park"), school_year=this_year
    )

    response = client.get(f"/articulations/{articulation.pk}/")

    assert response.status_code == 200
    page = response.text
    assert "<title>Business Foundations: BUS 101 at Bellevue College – SERS</title>" in page
    assert page.count("<h1") == 1
    for fact in (
        "<dd>Business Foundations</dd>",
        "<dd>CTE2001</dd>",
        "<dd>0.5</dd>",  # high-school credits
        "<dd>Bellevue College</dd>",
        "<dd>BUS 101 Introduction to Business</dd>",
        "<dd>5</dd>",  # college credits
        "<dd>B+ or better</dd>",
        "<dd>Business Management &amp; Administration</dd>",
        "<dd>2 terms</dd>",
        f"<dd>{years_from_now(-1).label} to {years_from_now(2).label}</dd>",
        "<dd>Active</dd>",
        "Every school in Bellevue School District",
    ):
        assert fact in page
    assert f"Who teaches it in {this_year.label}" in page
    assert "Interlake High School" in page
    assert "Teacher: Maria Lopez" in page
    assert "Period 3, Fall" in page
    # Last year's class and this year's other course are not offered this year.
    assert "Okafor" not in page
    assert "Park" not in page


def test_detail_page_says_when_no_school_offers_it_this_year(client, this_year):
    articulation = ArticulationFactory()

    page = client.get(f"/articulations/{articulation.pk}/").text

    assert f"No school has listed this class for {this_year.label} yet" in page


def test_expired_articulation_is_public_and_says_it_expired(client):
    articulation = ArticulationFactory(
        valid_from=years_from_now(-3),
        valid_to=years_from_now(-1),
        status=Articulation.Status.EXPIRED,
    )

    response = client.get(f"/articulations/{articulation.pk}/")

    assert response.status_code == 200
    assert "This agreement has expired" in response.text
    assert "<dd>Expired</dd>" in response.text


def test_unknown_articulation_is_not_found(client):
    assert client.get("/articulations/987654/").status_code == 404


# --- Query budget -----------------------------------------------------------------


def queries_for(client, url) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries)


def add_articulations(count, **fields):
    """Articulations with all that a result shows: district, listed schools, college, cluster."""
    for _ in range(count):
        articulation = ArticulationFactory(**fields)
        articulation.schools.add(SchoolFactory(), SchoolFactory())


def test_search_makes_the_same_number_of_queries_for_3_rows_as_for_30(client, this_year):
    cluster = CareerClusterFactory(name="Health Science", field="health")
    url = f"{SEARCH}?cluster={cluster.pk}&year=all&q=Course"
    add_articulations(3, career_cluster=cluster)
    few = queries_for(client, url)

    add_articulations(27, career_cluster=cluster)
    many = queries_for(client, url)

    assert len(found(client.get(url))) == 20
    assert many == few


def test_detail_makes_the_same_number_of_queries_for_3_classes_as_for_30(client, this_year):
    articulation = ArticulationFactory()
    articulation.schools.add(SchoolFactory(), SchoolFactory())
    url = f"/articulations/{articulation.pk}/"

    def add_classes(count):
        for _ in range(count):
            ClassFactory(articulations=[articulation], school_year=this_year)

    add_classes(3)
    few = queries_for(client, url)

    add_classes(27)
    many = queries_for(client, url)

    assert client.get(url).text.count('data-testid="offering"') == 30
    assert many == few
