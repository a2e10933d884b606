"""Credit lists: exporters, CSV and XLSX files, export batches and the command line."""

import csv
import datetime as dt
import hashlib
import io
import shutil
import subprocess
from decimal import Decimal

import openpyxl
import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from articulations.tests.factories import CollegeFactory
from credit_lists.exporters import (
    COLUMNS,
    HEADER,
    CollegeCreditExporter,
    Column,
    CreditFilters,
    CsvWriter,
    _concat,
    _guarded,
    csv_chunks,
    safe_cell,
    write_xlsx,
)
from credit_lists.models import ExportBatch
from credit_lists.services import export_csv_stream
from credit_lists.tasks import export_xlsx_start
from grading.models import Credit
from registration.tests.helpers import earned_credit

pytestmark = pytest.mark.django_db


def download(college, **filters) -> bytes:
    exporter = CollegeCreditExporter(CreditFilters(college_id=college.pk, **filters))
    return b"".join(export_csv_stream(exporter=exporter, requested_by=None, via="web"))


def rows_of(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8"))))


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ("=HYPERLINK(1)", "'=HYPERLINK(1)"),
        ("+1", "'+1"),
        ("-2", "'-2"),
        ("@SUM", "'@SUM"),
        ("Lopez", "Lopez"),
        (dt.date(2010, 4, 27), "2010-04-27"),
        (Decimal("5.0"), "5"),
        (Decimal("2.5"), "2.5"),
        (None, ""),
    ],
)
def test_cells_are_safe_for_spreadsheets_and_dates_are_iso(value, cell):
    assert safe_cell(value) == cell


def test_the_csv_has_the_columns_in_order_and_the_students_row():
    college = CollegeFactory()
    credit = earned_credit(
        college=college, legal_last_name="=cmd|' /C calc'!A0", legal_first_name="Maya"
    )

    header, row = rows_of(download(college))

    assert header == HEADER
    student = credit.student
    assert row[0] == student.sers_id
    assert row[1] == "'=cmd|' /C calc'!A0"
    assert row[2] == "Maya"
    assert row[4] == student.date_of_birth.isoformat()
    assert row[7] == f"{student.street}, {student.city}, {student.state} {student.zip_code}"
    assert row[8] == credit.registration.course_class.school.name
    assert row[10] == "2026-27"
    assert row[11] == credit.college_course
    assert row[13] == "5"
    assert row[14] == "A"
    assert row[15] == credit.registration.course_class.teacher.name


def test_a_download_records_a_batch_with_its_hash_and_marks_its_rows():
    college = CollegeFactory()
    credits = [earned_credit(college=college) for _ in range(3)]
    earned_credit()  # another college's credit stays out

    data = download(college)

    batch = ExportBatch.objects.get()
    assert batch.row_count == 3
    assert batch.sha256 == hashlib.sha256(data).hexdigest()
    assert batch.status == ExportBatch.Status.COMPLETE
    with batch.file.open("rb") as handle:
        assert handle.read() == data
    assert {credit.pk for credit in Credit.objects.filter(exported_batch=batch)} == {
        c.pk for c in credits
    }


def test_not_yet_exported_gives_only_new_rows_across_batches():
    college = CollegeFactory()
    earned_credit(college=college)
    earned_credit(college=college)

    assert len(rows_of(download(college, new_only=True))) == 3
    assert len(rows_of(download(college, new_only=True))) == 1  # header only
    newer = earned_credit(college=college)
    third = rows_of(download(college, new_only=True))

    assert [row[0] for row in third[1:]] == [newer.student.sers_id]
    assert ExportBatch.objects.count() == 3


def test_a_download_cut_off_midway_records_nothing():
    college = CollegeFactory()
    for _ in range(3):
        earned_credit(college=college)
    exporter = CollegeCreditExporter(CreditFilters(college_id=college.pk, new_only=True))
    stream = export_csv_stream(exporter=exporter, requested_by=None, via="web")

    next(stream)  # the header went out,
    next(stream)  # then some rows, then the connection dropped
    stream.close()

    assert not ExportBatch.objects.exists()
    assert not Credit.objects.filter(exported_batch__isnull=False).exists()


def test_the_query_count_does_not_grow_with_rows():
    def queries_for_download(college):
        with CaptureQueriesContext(connection) as captured:
            download(college)
        return len(captured)

    few, many = CollegeFactory(), CollegeFactory()
    for _ in range(3):
        earned_credit(college=few)
    for _ in range(30):
        earned_credit(college=many)

    assert queries_for_download(few) == queries_for_download(many)


def test_the_xlsx_file_has_the_same_rows_as_the_csv(django_capture_on_commit_callbacks):
    college = CollegeFactory()
    for _ in range(2):
        earned_credit(college=college)
    csv_rows = rows_of(download(college))

    with django_capture_on_commit_callbacks(execute=True):
        batch = export_xlsx_start(
            exporter=CollegeCreditExporter(CreditFilters(college_id=college.pk)),
            requested_by=None,
            via="web",
        )

    batch.refresh_from_db()
    assert batch.status == ExportBatch.Status.COMPLETE
    assert batch.progress_percent == 100
    with batch.file.open("rb") as handle:
        data = handle.read()
    assert batch.sha256 == hashlib.sha256(data).hexdigest()
    sheet = openpyxl.load_workbook(io.BytesIO(data), read_only=True).active
    xlsx_rows = [
        [("" if cell is None else str(cell)) for cell in row]
        for row in sheet.iter_rows(values_only=True)
    ]
    for csv_row, xlsx_row in zip(csv_rows, xlsx_rows, strict=True):
        assert [cell.replace(".0", "") for cell in xlsx_row] == [
            cell.replace(".0", "") for cell in csv_row
        ]


def test_xlsx_cells_keep_awkward_text_and_drop_what_xml_cannot_hold(tmp_path):
    college = CollegeFactory()
    earned_credit(
        college=college,
        legal_last_name="  O'Brien & <Sons> ",
        legal_first_name="Zoë 😀",
        legal_middle_name="tab\tand a bell\x07",
    )
    path = tmp_path / "credits.xlsx"

    write_xlsx(CollegeCreditExporter(CreditFilters(college_id=college.pk)), path)

    sheet = openpyxl.load_workbook(path).active
    assert sheet.title == "Credits"
    assert sheet.freeze_panes == "A2"  # the header stays in view
    header, row = sheet.iter_rows(values_only=True)
    assert list(header) == HEADER
    assert row[1] == "  O'Brien & <Sons> "
    assert row[2] == "Zoë 😀"
    assert row[3] == "tab\tand a bell"
    assert row[13] == 5  # credits are a number a registrar can add up


def test_a_long_xlsx_keeps_every_row_in_order_and_reports_progress(tmp_path, monkeypatch):
    monkeypatch.setattr("credit_lists.exporters._XLSX_ROWS_PER_WRITE", 2)
    college = CollegeFactory()
    credits = [earned_credit(college=college) for _ in range(5)]
    path = tmp_path / "credits.xlsx"
    reported = []

    count = write_xlsx(
        CollegeCreditExporter(CreditFilters(college_id=college.pk)),
        path,
        progress=reported.append,
        every=2,
    )

    assert count == 5
    assert reported == [2, 4]
    sheet = openpyxl.load_workbook(path, read_only=True).active
    sers_ids = [row[0] for row in sheet.iter_rows(min_row=2, values_only=True)]
    assert sers_ids == [credit.student.sers_id for credit in credits]


@pytest.mark.spreadsheet
def test_a_spreadsheet_application_reads_the_xlsx_as_the_csv_says(tmp_path):
    college = CollegeFactory()
    earned_credit(college=college, legal_last_name="  O'Brien & <Sons> ", legal_first_name="Zoë")
    earned_credit(college=college, legal_last_name="=cmd|' /C calc'!A0", legal_middle_name="")
    csv_rows = rows_of(download(college))
    path = tmp_path / "credits.xlsx"
    write_xlsx(CollegeCreditExporter(CreditFilters(college_id=college.pk)), path)

    # LibreOffice opens the file and saves it as UTF-8 CSV (filter options 44,34,76).
    subprocess.run(  # noqa: S603 - every argument is the test's own
        [
            shutil.which("soffice"),
            f"-env:UserInstallation=file://{tmp_path}/profile",
            "--headless",
            "--convert-to",
            "csv:Text - txt - csv (StarCalc):44,34,76",
            "--outdir",
            str(tmp_path / "out"),
            str(path),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )

    assert rows_of((tmp_path / "out" / "credits.csv").read_bytes()) == csv_rows


def test_the_command_line_writes_the_same_file_as_the_page(tmp_path):
    college = CollegeFactory(code="BC")
    for _ in range(2):
        earned_credit(college=college)
    from_page = download(college, school_year=2026)

    output = tmp_path / "credits.csv"
    call_command("export_credits", college="bc", year="2026-27", format="csv", output=str(output))

    assert output.read_bytes() == from_page
    batch = ExportBatch.objects.latest("created_at")
    assert batch.via == "command line"
    assert batch.sha256 == hashlib.sha256(from_page).hexdigest()


def test_the_command_line_new_only_and_xlsx(tmp_path, django_capture_on_commit_callbacks):
    college = CollegeFactory(code="LW")
    credit = earned_credit(college=college)
    first = tmp_path / "first.xlsx"
    with django_capture_on_commit_callbacks() as queued:
        call_command(
            "export_credits", college="LW", new_only=True, format="xlsx", output=str(first)
        )
    assert queued == []  # built by the command alone: no worker races it for the rows
    credit.refresh_from_db()
    assert credit.exported_batch.row_count == 1
    second = tmp_path / "second.csv"
    call_command("export_credits", college="LW", new_only=True, format="csv", output=str(second))

    assert len(list(openpyxl.load_workbook(first).active.iter_rows())) == 2
    assert len(rows_of(second.read_bytes())) == 1


def test_the_command_line_refuses_an_unknown_college_or_a_bad_year(tmp_path):
    from django.core.management.base import CommandError

    CollegeFactory(code="BC")
    with pytest.raises(CommandError, match="No college has the code XX"):
        call_command("export_credits", college="XX", output=str(tmp_path / "x.csv"))
    with pytest.raises(CommandError, match="--year must look like 2025-26"):
        call_command("export_credits", college="BC", year="2025", output=str(tmp_path / "x.csv"))


def test_copy_and_python_write_the_same_bytes_for_awkward_cells():
    college = CollegeFactory()
    awkward = [
        {"legal_last_name": "=1+1", "legal_first_name": "-Ana", "legal_middle_name": "\rR"},
        {"legal_last_name": "Ames", "legal_middle_name": "", "street": "=HYPERLINK(1)"},
        {"legal_last_name": 'O"Brien, Jr.', "legal_first_name": "@home", "legal_middle_name": "Q"},
        {"legal_last_name": "+tab", "legal_first_name": "\tLee", "legal_middle_name": "Zoë"},
    ]
    for fields in awkward:
        earned_credit(college=college, **fields)
    exporter = CollegeCreditExporter(CreditFilters(college_id=college.pk))

    python_writer, copy_writer = CsvWriter(), CsvWriter()
    by_python = b"".join(csv_chunks(exporter, python_writer, use_copy=False))
    by_copy = b"".join(csv_chunks(exporter, copy_writer, use_copy=True))

    assert by_copy == by_python
    assert copy_writer.row_count == python_writer.row_count == 4
    assert copy_writer.digest.hexdigest() == hashlib.sha256(by_copy).hexdigest()


def test_a_column_added_to_columns_reaches_the_header_the_copy_the_python_rows_and_xlsx(
    monkeypatch, tmp_path
):
    college = CollegeFactory(name="=Bellevue College")
    credit = earned_credit(college=college)
    added = (
        Column("College", "college__name", width=30),  # the defaults: the field, guarded
        Column(
            "Course and grade",
            ("college_course", "grade"),
            width=9,
            python=lambda course, grade: f"{course}: {grade}",
            sql=lambda course, grade: _guarded(_concat(course, ": ", grade)),
        ),
    )
    monkeypatch.setattr("credit_lists.exporters.COLUMNS", (*COLUMNS, *added))
    exporter = CollegeCreditExporter(CreditFilters(college_id=college.pk))
    path = tmp_path / "credits.xlsx"

    by_python = b"".join(csv_chunks(exporter, CsvWriter(), use_copy=False))
    by_copy = b"".join(csv_chunks(exporter, CsvWriter(), use_copy=True))
    write_xlsx(exporter, path)

    assert by_copy == by_python
    header, row = rows_of(by_copy)
    assert header == exporter.header() == [*HEADER, "College", "Course and grade"]
    assert row[-2:] == ["'=Bellevue College", f"{credit.college_course}: A"]
    sheet = openpyxl.load_workbook(path).active
    xlsx_header, xlsx_row = sheet.iter_rows(values_only=True)
    assert list(xlsx_header) == header
    assert list(xlsx_row[-2:]) == row[-2:]
    assert sheet.column_dimensions["R"].width == 9


def test_a_column_with_its_own_python_cell_needs_its_own_sql_too():
    with pytest.raises(ValueError, match="needs the sql="):
        Column("Year", "school_year_id", width=8, python=str)
    with pytest.raises(ValueError, match="needs python="):
        Column("Teacher", ("first_name", "last_name"), width=8)
