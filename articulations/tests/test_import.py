"""CSV import and export of articulations and classes: all rows or none, in staff's words."""

import csv
import io

import pytest
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from import_export.formats.base_formats import CSV
from pytest_django.asserts import assertContains

from articulations.models import Articulation, CareerCluster, Class, SchoolYear
from articulations.resources import ArticulationResource, ClassResource
from articulations.tests.factories import (
    ArticulationFactory,
    CareerClusterFactory,
    CollegeFactory,
    ConsortiumFactory,
    SchoolDistrictFactory,
    SchoolFactory,
    SchoolYearFactory,
    TeacherFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

ARTICULATION_COLUMNS = [
    "consortium",
    "hs_course_name",
    "hs_course_number",
    "district",
    "schools",
    "hs_credits",
    "college",
    "college_course_prefix",
    "college_course_number",
    "college_course_title",
    "college_credits",
    "minimum_grade",
    "career_cluster",
    "terms",
    "valid_from",
    "valid_to",
    "status",
]
CLASS_COLUMNS = ["school", "district", "teacher", "school_year", "articulations", "term", "period"]


def csv_text(rows: list[dict], columns: list[str]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns)
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def load(resource, rows, columns, *, dry_run):
    dataset = CSV().create_dataset(csv_text(rows, columns))
    return resource.import_data(dataset, dry_run=dry_run)


def row_errors(result) -> dict[int, dict[str, list[str]]]:
    """What the dry run tells staff: each bad row's number and its problems by column."""
    return {row.number: row.error_dict for row in result.invalid_rows}


@pytest.fixture
def catalog():
    consortium = ConsortiumFactory(name="PNW College Credit")
    district = SchoolDistrictFactory(name="Bellevue SD", consortium=consortium)
    SchoolFactory(name="Newport High School", district=district)
    SchoolFactory(name="Sammamish High School", district=district)
    CollegeFactory(name="Bellevue College", code="BC")
    CareerClusterFactory(name="Business Management & Administration")
    SchoolYearFactory(start_year=2025)


def articulation_row(**changes) -> dict:
    row = {
        "consortium": "PNW College Credit",
        "hs_course_name": "Accounting 1",
        "hs_course_number": "ACC100",
        "district": "Bellevue SD",
        "schools": "",
        "hs_credits": "1.0",
        "college": "BC",
        "college_course_prefix": "ACCT",
        "college_course_number": "201",
        "college_course_title": "Principles of Accounting",
        "college_credits": "5",
        "minimum_grade": "B",
        "career_cluster": "Business Management & Administration",
        "terms": "2",
        "valid_from": "2025-26",
        "valid_to": "",
        "status": "active",
    }
    return row | changes


def import_articulations(rows, *, dry_run=False):
    return load(ArticulationResource(), rows, ARTICULATION_COLUMNS, dry_run=dry_run)


def test_a_good_file_imports_every_row_in_staff_words(catalog):
    result = import_articulations(
        [
            articulation_row(),
            articulation_row(
                hs_course_name="Web Design",
                hs_course_number="WEB200",
                district="",
                schools="Newport High School | sammamish high school",
                college_course_prefix="cis",
                college_course_number="110",
                minimum_grade="",
                valid_to="2026-27",
                status="Pending",
            ),
        ]
    )

    assert not result.has_errors() and not result.has_validation_errors()
    accounting, web = Articulation.objects.order_by("hs_course_number")
    assert accounting.district.name == "Bellevue SD"
    assert accounting.college.code == "BC"
    assert accounting.validity_label == "2025-26 onward"
    assert accounting.status == Articulation.Status.ACTIVE
    assert web.district is None
    assert sorted(school.name for school in web.schools.all()) == [
        "Newport High School",
        "Sammamish High School",
    ]
    assert web.college_course == "CIS 110"
    assert web.minimum_grade == "B"
    assert web.validity_label == "2025-26 to 2026-27"
    assert web.status == Articulation.Status.PENDING
    # 2026-27 was not in the catalog yet.
    assert SchoolYear.objects.filter(start_year=2026).exists()


# transaction=True: the import's own transaction is the real one on PostgreSQL, not a
# savepoint inside the test's, so "nothing was saved" means nothing was committed.
@pytest.mark.django_db(transaction=True)
def test_one_unknown_college_code_imports_nothing_and_the_dry_run_names_the_row(catalog):
    rows = [
        articulation_row(),
        articulation_row(hs_course_number="ACC200", college="XX"),
        articulation_row(hs_course_number="ACC300"),
    ]

    dry_run = import_articulations(rows, dry_run=True)
    result = import_articulations(rows)

    assert row_errors(dry_run) == {2: {"college": ["There is no college with code “XX”."]}}
    assert row_errors(result) == row_errors(dry_run)
    assert not Articulation.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_an_articulation_that_ends_before_it_starts_imports_nothing(catalog):
    result = import_articulations(
        [articulation_row(), articulation_row(hs_course_number="ACC200", valid_to="2024-25")]
    )

    assert row_errors(result) == {
        2: {"valid_to": ["The last school year, 2024-25, is before the first, 2025-26."]}
    }
    assert not Articulation.objects.exists()


def test_the_dry_run_lists_every_bad_row_with_its_number(catalog):
    result = import_articulations(
        [
            articulation_row(),
            articulation_row(
                hs_course_number="A2",
                schools="Newport High School|Nowhere High",
                valid_to="2024-25",
            ),
            articulation_row(hs_course_number="A3", hs_credits="one", terms="1.5"),
            articulation_row(hs_course_number="A4", valid_from="2025/26"),
            articulation_row(hs_course_number="A5", minimum_grade="F", career_cluster=""),
        ],
        dry_run=True,
    )

    assert row_errors(result) == {
        2: {
            "schools": ["There is no school of PNW College Credit named “Nowhere High”."],
            "valid_to": ["The last school year, 2024-25, is before the first, 2025-26."],
        },
        3: {
            "hs_credits": ["“one” is not a number."],
            "terms": ["“1.5” is not a whole number."],
        },
        4: {"valid_from": ["“2025/26” is not a school year; write it like 2025-26."]},
        5: {
            "minimum_grade": ["Value 'F' is not a valid choice."],
            "career_cluster": ["This field cannot be null."],
        },
    }


def test_loading_an_exported_file_again_updates_rather_than_copies(catalog):
    import_articulations([articulation_row()])
    exported = ArticulationResource().export()
    exported_row = dict(zip(exported.headers, exported[0], strict=True))

    result = import_articulations([exported_row | {"status": "expired", "valid_to": "2025-26"}])

    assert result.totals["update"] == 1
    articulation = Articulation.objects.get()
    assert articulation.status == Articulation.Status.EXPIRED
    assert articulation.validity_label == "2025-26"


def test_export_writes_the_import_columns_in_staff_words(catalog):
    import_articulations(
        [articulation_row(district="", schools="Sammamish High School|Newport High School")]
    )

    exported = ArticulationResource().export()

    assert exported.headers == ARTICULATION_COLUMNS
    assert dict(zip(exported.headers, exported[0], strict=True)) == articulation_row(
        district="",
        schools="Newport High School|Sammamish High School",
        hs_credits="1.00",
        college_credits="5.0",
    )


def test_export_quotes_text_a_spreadsheet_would_run_and_import_unquotes_it(catalog):
    formula = '=HYPERLINK("https://example.org","Accounting")'
    import_articulations([articulation_row(college_course_title=formula)])

    exported = ArticulationResource().export()
    title = dict(zip(exported.headers, exported[0], strict=True))["college_course_title"]
    Articulation.objects.all().delete()
    import_articulations([articulation_row(college_course_title=title)])

    assert title == "'" + formula
    assert Articulation.objects.get().college_course_title == formula


def test_export_makes_the_same_queries_for_2_articulations_as_for_6():
    def export_queries():
        with CaptureQueriesContext(connection) as queries:
            ArticulationResource().export()
        return len(queries)

    for _ in range(2):
        ArticulationFactory().schools.add(SchoolFactory())
    two = export_queries()
    for _ in range(4):
        ArticulationFactory(valid_to=SchoolYearFactory(start_year=2026)).schools.add(
            SchoolFactory()
        )

    assert export_queries() == two


# --- Through the admin ------------------------------------------------------------


def upload(rows, columns=ARTICULATION_COLUMNS):
    return SimpleUploadedFile(
        "catalog.csv", csv_text(rows, columns).encode(), content_type="text/csv"
    )


def post_import(client, model, rows, columns=ARTICULATION_COLUMNS):
    return client.post(
        reverse(f"admin:articulations_{model}_import"),
        {"resource": "0", "format": "0", "import_file": upload(rows, columns)},
    )


def confirm(client, model, dry_run_response):
    return client.post(
        reverse(f"admin:articulations_{model}_process_import"),
        dry_run_response.context["confirm_form"].initial,
    )


def test_the_admin_import_shows_the_bad_row_and_saves_nothing(admin_client, catalog):
    response = post_import(
        admin_client,
        "articulation",
        [articulation_row(), articulation_row(hs_course_number="ACC200", college="XX")],
    )

    assertContains(response, "There is no college with code “XX”.")
    assert [row.number for row in response.context["result"].invalid_rows] == [2]
    assert "confirm_form" not in response.context  # nothing to confirm
    assert not Articulation.objects.exists()


def test_the_admin_import_saves_after_the_dry_run_is_confirmed(admin_client, catalog):
    rows = [articulation_row(), articulation_row(hs_course_number="ACC200")]

    dry_run = post_import(admin_client, "articulation", rows)
    assert not Articulation.objects.exists()
    response = confirm(admin_client, "articulation", dry_run)

    assert response.status_code == 302
    assert Articulation.objects.count() == 2
    assert [str(m) for m in get_messages(response.wsgi_request)] == [
        "Import finished: 2 new, 0 updated, 0 deleted and 0 skipped articulations."
    ]


def test_the_admin_import_saves_nothing_if_a_row_stopped_fitting_before_confirm(
    admin_client, catalog
):
    CareerClusterFactory(name="Information Technology")
    rows = [
        articulation_row(),
        articulation_row(hs_course_number="WEB200", career_cluster="Information Technology"),
    ]
    dry_run = post_import(admin_client, "articulation", rows)
    # Someone else tidies the clusters between the dry run and the confirm.
    CareerCluster.objects.filter(name="Information Technology").delete()

    response = confirm(admin_client, "articulation", dry_run)

    assert response.status_code == 302
    assert response["Location"] == reverse("admin:articulations_articulation_import")
    assert not Articulation.objects.exists()
    assert [str(m) for m in get_messages(response.wsgi_request)] == [
        "Nothing was imported: 1 row no longer fits the catalog. Upload the file again to see why."
    ]


def test_the_admin_exports_the_same_columns(admin_client, catalog):
    import_articulations([articulation_row()])
    fields = {f"articulationresource_{column}": "on" for column in ARTICULATION_COLUMNS}

    response = admin_client.post(
        reverse("admin:articulations_articulation_export"), {"format": "0", **fields}
    )

    lines = response.content.decode().splitlines()
    assert next(csv.reader(lines)) == ARTICULATION_COLUMNS
    assert len(lines) == 2


# --- Classes ----------------------------------------------------------------------


@pytest.fixture
def offer():
    """Newport High School, a teacher there, and Accounting valid 2024-25 to 2025-26."""
    district = SchoolDistrictFactory(name="Bellevue SD")
    school = SchoolFactory(name="Newport High School", district=district)
    # Another district's school of the same name: the district column tells them apart.
    SchoolFactory(name="Newport High School")
    teacher = TeacherFactory(user=UserFactory(username="pat.lee"), schools=[school])
    articulation = ArticulationFactory(
        district=district,
        valid_from=SchoolYearFactory(start_year=2024),
        valid_to=SchoolYearFactory(start_year=2025),
    )
    return {"school": school, "teacher": teacher, "articulation": articulation}


def class_row(offer, **changes) -> dict:
    row = {
        "school": "Newport High School",
        "district": "Bellevue SD",
        "teacher": "pat.lee",
        "school_year": "2025-26",
        "articulations": str(offer["articulation"].pk),
        "term": "Fall",
        "period": "3",
    }
    return row | changes


def import_classes(rows, *, dry_run=False):
    return load(ClassResource(), rows, CLASS_COLUMNS, dry_run=dry_run)


def test_a_good_class_file_imports_its_classes(offer):
    result = import_classes([class_row(offer), class_row(offer, period="4")])

    assert not result.has_errors() and not result.has_validation_errors()
    assert Class.objects.count() == 2
    for klass in Class.objects.all():
        assert klass.school == offer["school"]
        assert klass.teacher == offer["teacher"]
        assert list(klass.articulations.all()) == [offer["articulation"]]


@pytest.mark.django_db(transaction=True)
def test_a_class_outside_its_articulations_years_imports_nothing(offer):
    articulation = offer["articulation"]

    result = import_classes([class_row(offer), class_row(offer, school_year="2026-27")])

    assert row_errors(result) == {
        2: {"__all__": [f"{articulation} is valid 2024-25 to 2025-26, not in 2026-27."]}
    }
    assert not Class.objects.exists()


def test_a_class_file_uploaded_twice_adds_no_class_twice(offer):
    rows = [class_row(offer, period=""), class_row(offer, period="", term="Spring")]
    assert not import_classes(rows).has_validation_errors()

    again = import_classes(rows, dry_run=True)

    assert set(row_errors(again)) == {1, 2}
    assert "This class is already in SERS" in row_errors(again)[1]["__all__"][0]
    assert Class.objects.count() == 2


def test_a_school_name_two_districts_share_needs_its_district(offer):
    result = import_classes(
        [class_row(offer, district=""), class_row(offer, articulations="999999")], dry_run=True
    )

    assert row_errors(result) == {
        1: {
            "school": [
                "More than one school named “Newport High School”; "
                "add its district in the district column."
            ]
        },
        2: {"articulations": ["There is no articulation with id 999999."]},
    }


def test_export_of_classes_writes_the_import_columns(offer):
    import_classes([class_row(offer)])

    exported = ClassResource().export()

    assert exported.headers == CLASS_COLUMNS
    assert dict(zip(exported.headers, exported[0], strict=True)) == class_row(offer)


def test_the_admin_exports_classes_with_the_same_columns(admin_client, offer):
    import_classes([class_row(offer)])
    fields = {f"classresource_{column}": "on" for column in CLASS_COLUMNS}

    response = admin_client.post(
        reverse("admin:articulations_class_export"), {"format": "0", **fields}
    )

    rows = list(csv.reader(response.content.decode().splitlines()))
    assert rows == [CLASS_COLUMNS, list(class_row(offer).values())]
