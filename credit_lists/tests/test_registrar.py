"""The registrar's credit list: their college only, filters, counts, CSV and XLSX downloads.

Also the admin's "Export selected credits as CSV" action and the export batches admin.
"""

import csv
import datetime as dt
import hashlib
import io
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
from django.core.signals import request_finished
from django.db import close_old_connections, connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from articulations.tests.factories import (
    ArticulationFactory,
    ClassFactory,
    CollegeFactory,
    SchoolFactory,
    SchoolYearFactory,
    UserFactory,
)
from credit_lists import views
from credit_lists.exporters import HEADER, CollegeCreditExporter, CreditFilters
from credit_lists.models import ExportBatch, Registrar
from credit_lists.services import export_csv_stream
from credit_lists.tasks import export_xlsx_start
from grading.models import Credit
from grading.services.teaching import grade_set_by_staff
from payments.models import Payment
from payments.services.offline import payment_record_offline
from payments.tests.helpers import FEBRUARY, registered_student
from registration.models import Registration
from registration.tests.helpers import at, earned_credit

pytestmark = pytest.mark.django_db

PAGE = "/registrar/"
CSV_URL = "/registrar/export.csv"
XLSX_URL = "/registrar/export.xlsx"


@pytest.fixture(autouse=True)
def february():
    with at(*FEBRUARY):
        yield


# --- Building blocks -----------------------------------------------------------------------------


@pytest.fixture
def college():
    return CollegeFactory(code="BC", name="Bellevue College")


@pytest.fixture
def other_college():
    return CollegeFactory(code="CASC", name="Cascadia College")


@pytest.fixture
def registrar(college):
    return Registrar.objects.create(
        user=UserFactory(username="priya", first_name="Priya", last_name="Shah"), college=college
    )


@pytest.fixture
def registrar_client(client, registrar):
    client.force_login(registrar.user)
    return client


def sers_ids(response) -> set[str]:
    return {credit.student.sers_id for credit in response.context["page"]}


def download(client, data=None) -> bytes:
    response = client.post(CSV_URL, data or {})
    assert response.status_code == 200
    assert response.streaming
    # Reading to the end closes the response, as a server does after the last chunk.
    return b"".join(response.streaming_content)


def read_csv(body: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(body.decode("utf-8"))))


# --- Who may see what ----------------------------------------------------------------------------


def test_anonymous_visitors_are_sent_to_log_in(client):
    for url in (PAGE, "/registrar/batches/1/", "/registrar/batches/1/download/"):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")
    response = client.post(CSV_URL)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_users_who_are_not_registrars_get_404(client):
    client.force_login(UserFactory())
    assert client.get(PAGE).status_code == 404
    assert client.post(CSV_URL).status_code == 404
    assert client.post(XLSX_URL).status_code == 404
    assert not ExportBatch.objects.exists()


def test_a_registrar_sees_only_their_colleges_credit(registrar_client, college, other_college):
    mine = earned_credit(college)
    theirs = earned_credit(other_college)

    response = registrar_client.get(PAGE)

    assert response.status_code == 200
    assert sers_ids(response) == {mine.student.sers_id}
    assert theirs.student.sers_id not in response.content.decode()
    assert response.context["counts"] == {"total": 1, "not_exported": 1}
    assert '<a class="nav-link" href="/registrar/">Credit list</a>' in response.content.decode()


def test_naming_another_colleges_school_or_course_finds_nothing(
    registrar_client, college, other_college
):
    earned_credit(college, prefix="BUS", number="101")
    theirs = earned_credit(other_college, prefix="CS", number="110")
    school = theirs.registration.course_class.school_id

    for query in ({"school": school}, {"course": "CS 110"}):
        response = registrar_client.get(PAGE, query)
        assert response.status_code == 200
        assert response.context["counts"]["total"] == 0
        assert sers_ids(response) == set()

        rows = read_csv(download(registrar_client, query))
        assert rows == [HEADER]
    # Even their college's id in the request changes nothing: the college is the registrar's.
    response = registrar_client.get(PAGE, {"college": other_college.pk, "college_id": 1})
    assert response.context["counts"]["total"] == 1
    assert not Credit.objects.filter(college=other_college, exported_batch__isnull=False).exists()


def test_another_colleges_batches_and_files_are_404(registrar_client, college, other_college):
    earned_credit(other_college)
    theirs = b"".join(
        export_csv_stream(
            exporter=CollegeCreditExporter(CreditFilters(college_id=other_college.pk)),
            requested_by=None,
            via="command line",
        )
    )
    assert theirs
    batch = ExportBatch.objects.get(college=other_college)
    staff_batch = ExportBatch.objects.create(
        college=None, format=ExportBatch.Format.CSV, status=ExportBatch.Status.COMPLETE
    )

    for other in (batch, staff_batch):
        assert registrar_client.get(f"/registrar/batches/{other.pk}/").status_code == 404
        assert registrar_client.get(f"/registrar/batches/{other.pk}/download/").status_code == 404
    assert registrar_client.get("/registrar/batches/999999/").status_code == 404
    assert batch.pk not in {line.batch.pk for line in registrar_client.get(PAGE).context["batches"]}


# --- Filters and counts --------------------------------------------------------------------------


def test_filter_by_school_year(registrar_client, college):
    this_year = earned_credit(college, start_year=2026)
    last_year = earned_credit(college, start_year=2025)

    response = registrar_client.get(PAGE, {"year": 2025})

    assert sers_ids(response) == {last_year.student.sers_id}
    assert sers_ids(registrar_client.get(PAGE, {"year": 2026})) == {this_year.student.sers_id}
    assert '<option value="2025" selected>2025-26</option>' in response.content.decode()


def test_filter_by_term(registrar_client, college):
    fall = earned_credit(college, term="Fall")
    earned_credit(college, term="Spring")
    earned_credit(college, term="")

    response = registrar_client.get(PAGE, {"term": "Fall"})

    assert sers_ids(response) == {fall.student.sers_id}
    page = response.content.decode()
    assert '<option value="Fall" selected>Fall</option>' in page
    assert '<option value="Spring">Spring</option>' in page


def test_filter_by_school(registrar_client, college):
    school = SchoolFactory(name="Interlake High School")
    at_school = earned_credit(college, school=school)
    earned_credit(college)

    response = registrar_client.get(PAGE, {"school": school.pk})

    assert sers_ids(response) == {at_school.student.sers_id}
    assert "Interlake High School</option>" in response.content.decode()


def test_filter_by_college_course(registrar_client, college):
    accounting = earned_credit(college, prefix="ACCT", number="101")
    earned_credit(college, prefix="BUS", number="101")

    response = registrar_client.get(PAGE, {"course": "ACCT 101"})

    assert sers_ids(response) == {accounting.student.sers_id}


def test_filter_not_yet_exported_and_the_counts(registrar_client, college):
    old = earned_credit(college)
    download(registrar_client)
    new = earned_credit(college)

    everything = registrar_client.get(PAGE)
    new_only = registrar_client.get(PAGE, {"new_only": "on"})

    assert everything.context["counts"] == {"total": 2, "not_exported": 1}
    assert sers_ids(everything) == {old.student.sers_id, new.student.sers_id}
    assert "Of these, 1 is not yet exported." in everything.content.decode()
    assert new_only.context["counts"] == {"total": 1, "not_exported": 1}
    assert sers_ids(new_only) == {new.student.sers_id}
    # The download forms carry the filters in force.
    assert '<input type="hidden" name="new_only" value="on">' in new_only.content.decode()


def test_filters_combine(registrar_client, college):
    school = SchoolFactory()
    match = earned_credit(college, school=school, start_year=2026, term="Fall")
    earned_credit(college, school=school, start_year=2025, term="Fall")
    earned_credit(college, school=school, start_year=2026, term="Spring")

    response = registrar_client.get(PAGE, {"year": 2026, "term": "Fall", "school": school.pk})

    assert sers_ids(response) == {match.student.sers_id}
    assert response.context["counts"] == {"total": 1, "not_exported": 1}


def test_a_filter_that_is_not_a_value_shows_the_error_and_no_rows(registrar_client, college):
    earned_credit(college)

    response = registrar_client.get(PAGE, {"year": "twenty"})

    assert response.status_code == 200
    assert response.context["page"] is None
    page = response.content.decode()
    assert "There is a problem" in page
    assert "Choose a school year from the list" in page


def test_the_table_is_paginated_by_50(registrar_client, college):
    school = SchoolFactory()
    for _ in range(51):
        earned_credit(college, school=school)

    first = registrar_client.get(PAGE)
    second = registrar_client.get(PAGE, {"page": 2})

    assert len(first.context["page"]) == 50
    assert len(second.context["page"]) == 1
    assert first.context["counts"]["total"] == 51
    assert "Showing 1 to 50 of 51." in first.content.decode()


def test_the_page_takes_a_fixed_number_of_queries(registrar_client, college):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            response = registrar_client.get(PAGE, {"new_only": "on"})
        assert response.status_code == 200
        return len(captured.captured_queries)

    school = SchoolFactory()
    for term in ("Fall", "Spring", ""):
        earned_credit(college, school=school, term=term)
    download(registrar_client, {"term": "Fall"})
    few = queries()

    for index in range(17):
        earned_credit(college, term=f"T{index % 3}", prefix="BUS", number=str(100 + index % 4))
    download(registrar_client, {"term": "T1"})
    assert Credit.objects.filter(college=college).count() == 20

    assert queries() == few


# --- CSV download --------------------------------------------------------------------------------


def test_csv_download_columns_dates_formula_guard_and_its_batch(registrar_client, college):
    credit = earned_credit(
        college,
        legal_first_name="=HYPERLINK(1)",
        legal_last_name="Lopez",
        legal_middle_name="Ana",
        date_of_birth=dt.date(2010, 4, 27),
    )

    response = registrar_client.post(CSV_URL, {"year": 2026})
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="credits-BC-2027-02-01.csv"'
    assert response["X-Accel-Buffering"] == "no"
    assert not ExportBatch.objects.exists()  # nothing is recorded before the file went out
    body = b"".join(response.streaming_content)

    header, *rows = read_csv(body)
    assert header == HEADER
    (row,) = rows
    values = dict(zip(HEADER, row, strict=True))
    assert values["SERS ID"] == credit.student.sers_id
    assert values["Last name"] == "Lopez"
    assert values["First name"] == "'=HYPERLINK(1)"
    assert values["Middle name"] == "Ana"
    assert values["Date of birth"] == "2010-04-27"
    assert values["School year"] == "2026-27"
    assert values["College course number"] == "BUS 101"
    assert values["Credits"] == "5"
    assert values["Grade"] == "A"
    assert values["High school"] == credit.registration.course_class.school.name

    batch = ExportBatch.objects.get()
    assert batch.status == ExportBatch.Status.COMPLETE
    assert batch.college == college
    assert batch.requested_by == credit_registrar(college).user
    assert batch.via == "web"
    assert batch.format == ExportBatch.Format.CSV
    assert batch.filters == {"college_id": college.pk, "school_year": 2026}
    assert batch.row_count == 1
    assert batch.sha256 == hashlib.sha256(body).hexdigest()
    credit.refresh_from_db()
    assert credit.exported_batch == batch

    page = registrar_client.get(PAGE).content.decode()
    assert batch.sha256 in page
    assert "Check a file: its SHA-256 must match" in page
    assert "2026-27, exported or not" in page
    # The same file again, byte for byte.
    again = registrar_client.get(f"/registrar/batches/{batch.pk}/download/")
    assert b"".join(again.streaming_content) == body


def credit_registrar(college) -> Registrar:
    return Registrar.objects.get(college=college)


def test_not_yet_exported_across_batches(registrar_client, college):
    for _ in range(3):
        earned_credit(college)

    first = read_csv(download(registrar_client, {"new_only": "on"}))
    second = read_csv(download(registrar_client, {"new_only": "on"}))
    newcomer = earned_credit(college)
    third = read_csv(download(registrar_client, {"new_only": "on"}))

    assert len(first) == 1 + 3
    assert second == [HEADER]
    assert [row[0] for row in third[1:]] == [newcomer.student.sers_id]
    first_batch, second_batch, third_batch = ExportBatch.objects.order_by("pk")
    assert [first_batch.row_count, second_batch.row_count, third_batch.row_count] == [3, 0, 1]
    assert Credit.objects.filter(exported_batch=first_batch).count() == 3
    assert Credit.objects.get(pk=newcomer.pk).exported_batch == third_batch
    # A download of everything keeps each row's first batch.
    assert len(read_csv(download(registrar_client))) == 1 + 4
    assert Credit.objects.filter(exported_batch=first_batch).count() == 3


def test_a_download_cut_off_midway_records_nothing(registrar, registrar_client, college, settings):
    for _ in range(3):
        earned_credit(college)
    # The view itself, as the WSGI server calls it: the test client's own wrapper would
    # end the test's database connection when the response is closed early.
    request = RequestFactory().post(CSV_URL, {"new_only": "on"})
    request.user = registrar.user

    response = views.registrar_csv(request)
    chunks = response.streaming_content
    assert next(chunks).startswith(b"SERS ID,")  # the header went out, the rows did not
    request_finished.disconnect(close_old_connections)
    try:
        response.close()  # the browser went away: the server closes the response
    finally:
        request_finished.connect(close_old_connections)

    assert not ExportBatch.objects.exists()
    assert not list((Path(settings.MEDIA_ROOT) / "exports" / "tmp").glob("*.csv"))
    assert not Credit.objects.filter(exported_batch__isnull=False).exists()
    assert len(read_csv(download(registrar_client, {"new_only": "on"}))) == 1 + 3


def test_a_new_credit_earned_the_real_way_appears_alone_in_the_next_new_only_file(
    registrar_client, college, admin_user, django_capture_on_commit_callbacks
):
    earned_credit(college)
    download(registrar_client, {"new_only": "on"})
    course_class = ClassFactory(
        school_year=SchoolYearFactory(start_year=2026),
        articulations=[ArticulationFactory(college=college)],
    )
    student, consortium = registered_student(course_class=course_class)
    with django_capture_on_commit_callbacks(execute=True):
        payment_record_offline(
            student=student,
            consortium_id=consortium.pk,
            start_year=2026,
            method=Payment.Method.CHECK,
            payer="Parent",
            reference="4242",
            amount=Decimal("50.00"),
            received_on=dt.date(2027, 2, 1),
            staff_user=admin_user,
        )
        grade_set_by_staff(
            registration=Registration.objects.get(student=student),
            grade="A",
            staff_user=admin_user,
        )

    rows = read_csv(download(registrar_client, {"new_only": "on"}))

    assert [row[0] for row in rows[1:]] == [student.sers_id]


# --- Excel ---------------------------------------------------------------------------------------


def test_excel_file_is_prepared_then_downloaded_with_the_same_rows_as_the_csv(
    registrar_client, college, django_capture_on_commit_callbacks
):
    earned_credit(college, legal_first_name="@SUM(A1)", start_year=2026)
    earned_credit(college, start_year=2026)
    earned_credit(college, start_year=2025)
    with django_capture_on_commit_callbacks(execute=True):
        response = registrar_client.post(XLSX_URL, {"year": 2026})
    batch = ExportBatch.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/registrar/batches/{batch.pk}/"

    page = registrar_client.get(response["Location"])
    text = page.content.decode()
    batch.refresh_from_db()
    assert page.context["batch"].status == ExportBatch.Status.COMPLETE
    assert "Ready" in text
    assert 'http-equiv="refresh"' not in text
    assert batch.sha256 in text
    assert batch.row_count == 2
    assert f'href="/registrar/batches/{batch.pk}/download/"' in text

    file = registrar_client.get(f"/registrar/batches/{batch.pk}/download/")
    assert file["Content-Disposition"] == 'attachment; filename="credits-BC-2027-02-01.xlsx"'
    body = b"".join(file.streaming_content)
    assert hashlib.sha256(body).hexdigest() == batch.sha256
    workbook = openpyxl.load_workbook(io.BytesIO(body), read_only=True)
    xlsx_rows = [
        ["" if value is None else str(value) for value in row]
        for row in workbook.active.iter_rows(values_only=True)
    ]
    workbook.close()
    credits_column = HEADER.index("Credits")
    for row in xlsx_rows[1:]:
        # A number in the sheet (5.0), text in the CSV (5).
        row[credits_column] = format(Decimal(row[credits_column]).normalize(), "f")
    assert Credit.objects.filter(exported_batch=batch).count() == 2
    # The CSV of the same filters, downloaded afterwards, has the same rows.
    assert xlsx_rows == read_csv(download(registrar_client, {"year": 2026}))
    assert xlsx_rows[1][HEADER.index("First name")] == "'@SUM(A1)"


def test_an_excel_file_being_prepared_shows_its_progress_and_refreshes(registrar_client, college):
    earned_credit(college)
    # Outside captureOnCommitCallbacks the queued task never runs: the batch stays building.
    batch = export_xlsx_start(
        exporter=CollegeCreditExporter(CreditFilters(college_id=college.pk)),
        requested_by=credit_registrar(college).user,
        via="web",
    )
    ExportBatch.objects.filter(pk=batch.pk).update(rows_total=4, rows_done=1)

    page = registrar_client.get(f"/registrar/batches/{batch.pk}/")
    text = page.content.decode()

    assert "Being prepared" in text
    assert "25%" in text
    assert '<meta http-equiv="refresh" content="2">' in text
    assert registrar_client.get(f"/registrar/batches/{batch.pk}/download/").status_code == 404
    listed = registrar_client.get(PAGE).content.decode()
    assert "Being prepared" in listed


def test_a_failed_excel_file_says_so_and_has_nothing_to_download(registrar, registrar_client):
    batch = ExportBatch.objects.create(
        college=registrar.college,
        requested_by=registrar.user,
        format=ExportBatch.Format.XLSX,
        status=ExportBatch.Status.FAILED,
        error="OSError('disk full')",
    )

    text = registrar_client.get(f"/registrar/batches/{batch.pk}/").content.decode()

    assert "Failed" in text
    assert "no row was marked exported" in text
    assert "disk full" not in text
    assert 'http-equiv="refresh"' not in text
    assert registrar_client.get(f"/registrar/batches/{batch.pk}/download/").status_code == 404


def test_an_excel_file_whose_build_was_lost_is_failed_so_the_registrar_can_ask_again(
    registrar, registrar_client
):
    from credit_lists.tasks import fail_stuck_exports

    def building(hours_ago):
        batch = ExportBatch.objects.create(
            college=registrar.college, requested_by=registrar.user, format="xlsx"
        )
        created = timezone.now() - dt.timedelta(hours=hours_ago)
        ExportBatch.objects.filter(pk=batch.pk).update(created_at=created)
        return batch

    lost, recent = building(hours_ago=2), building(hours_ago=0.1)

    assert fail_stuck_exports() == 1

    text = registrar_client.get(f"/registrar/batches/{lost.pk}/").content.decode()
    assert "could not be prepared" in text
    assert 'http-equiv="refresh"' not in text
    recent.refresh_from_db()
    assert recent.status == ExportBatch.Status.BUILDING


# --- Admin ---------------------------------------------------------------------------------------


def test_admin_exports_selected_credits_as_csv(admin_client, college, other_college):
    chosen = earned_credit(college)
    also = earned_credit(other_college)
    earned_credit(college)

    response = admin_client.post(
        "/admin/grading/credit/",
        {
            "action": "export_selected_credits_csv",
            "_selected_action": [chosen.pk, also.pk],
            "index": 0,
        },
    )

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    body = b"".join(response.streaming_content)
    header, *rows = read_csv(body)
    assert header == HEADER
    assert sorted(row[0] for row in rows) == sorted([chosen.student.sers_id, also.student.sers_id])
    batch = ExportBatch.objects.get()
    assert batch.via == "admin"
    assert batch.college is None
    assert batch.exporter == "staff_credits"
    assert sorted(batch.filters["credit_ids"]) == sorted([chosen.pk, also.pk])
    assert batch.sha256 == hashlib.sha256(body).hexdigest()
    # Staff looking at rows takes nothing from the registrar's "not yet exported".
    chosen.refresh_from_db()
    assert chosen.exported_batch is None


def test_admin_select_all_across_pages_exports_the_filtered_rows(
    admin_client, college, other_college
):
    mine = [earned_credit(college) for _ in range(2)]
    earned_credit(other_college)

    response = admin_client.post(
        f"/admin/grading/credit/?college__id__exact={college.pk}",
        {
            "action": "export_selected_credits_csv",
            "_selected_action": [mine[0].pk],
            "select_across": "1",
            "index": 0,
        },
    )

    rows = read_csv(b"".join(response.streaming_content))
    assert sorted(row[0] for row in rows[1:]) == sorted(c.student.sers_id for c in mine)


def test_export_batches_admin_lists_and_serves_files(admin_client, college):
    earned_credit(college)
    exported = admin_client.post(
        "/admin/grading/credit/",
        {
            "action": "export_selected_credits_csv",
            "_selected_action": list(Credit.objects.values_list("pk", flat=True)),
            "index": 0,
        },
    )
    b"".join(exported.streaming_content)
    batch = ExportBatch.objects.get()

    listing = admin_client.get("/admin/credit_lists/exportbatch/")
    assert listing.status_code == 200
    text = listing.content.decode()
    assert batch.sha256 in text
    download_url = reverse("admin:credit_lists_exportbatch_download", args=[batch.pk])
    assert download_url in text
    assert (
        admin_client.get(f"/admin/credit_lists/exportbatch/{batch.pk}/change/").status_code == 200
    )
    assert admin_client.get("/admin/credit_lists/exportbatch/add/").status_code == 403

    file = admin_client.get(download_url)
    body = b"".join(file.streaming_content)
    assert hashlib.sha256(body).hexdigest() == batch.sha256


def test_staff_without_the_view_permission_cannot_download_a_batch(client, college):
    staff = UserFactory(is_staff=True)
    batch = ExportBatch.objects.create(
        college=college, format=ExportBatch.Format.CSV, status=ExportBatch.Status.COMPLETE
    )
    client.force_login(staff)

    response = client.get(reverse("admin:credit_lists_exportbatch_download", args=[batch.pk]))

    assert response.status_code == 403
