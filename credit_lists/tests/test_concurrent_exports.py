"""Two "new credits only" downloads of one college at once (PostgreSQL, real transactions)."""

import csv
import io
import threading

import pytest
from django.db import connection

from articulations.tests.factories import CollegeFactory
from credit_lists.exporters import CollegeCreditExporter, CreditFilters
from credit_lists.models import ExportBatch
from credit_lists.services import export_csv_stream
from registration.tests.helpers import earned_credit

pytestmark = pytest.mark.django_db(transaction=True)


def new_credits_download(college):
    exporter = CollegeCreditExporter(CreditFilters(college_id=college.pk, new_only=True))
    return export_csv_stream(exporter=exporter, requested_by=None, via="web")


def sers_ids_in(data: bytes) -> list[str]:
    return [row[0] for row in csv.reader(io.StringIO(data.decode()))][1:]


def test_a_second_download_of_new_credits_waits_and_lists_only_what_the_first_did_not():
    college = CollegeFactory()
    credits = [earned_credit(college) for _ in range(3)]
    first = new_credits_download(college)
    first_chunks = [next(first)]  # the first download is under way
    second_result, errors = [], []

    def download_again():  # a double click, or the command line at the same moment
        try:
            second_result.append(b"".join(new_credits_download(college)))
        except Exception as error:
            errors.append(error)
        finally:
            connection.close()

    second = threading.Thread(target=download_again, daemon=True)
    second.start()
    second.join(timeout=1)
    assert second.is_alive(), "the second download should wait for the first"

    first_chunks.extend(first)
    second.join(timeout=30)

    assert errors == []
    assert sers_ids_in(b"".join(first_chunks)) == [credit.student.sers_id for credit in credits]
    assert sers_ids_in(second_result[0]) == []
    assert sorted(ExportBatch.objects.values_list("row_count", flat=True)) == [0, 3]


def test_a_download_cut_off_midway_lets_the_next_one_list_every_new_credit():
    college = CollegeFactory()
    credits = [earned_credit(college) for _ in range(2)]
    cut_off = new_credits_download(college)
    next(cut_off)
    cut_off.close()  # the registrar's connection dropped
    again = []

    def download_again():
        try:
            again.append(b"".join(new_credits_download(college)))
        finally:
            connection.close()

    # From another connection: a lock left behind would keep this one waiting.
    thread = threading.Thread(target=download_again, daemon=True)
    thread.start()
    thread.join(timeout=30)

    assert sers_ids_in(again[0]) == [credit.student.sers_id for credit in credits]
    assert ExportBatch.objects.get().row_count == 2
