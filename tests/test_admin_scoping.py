"""Consortium scoping in the admin: staff of one consortium never reach another's rows.

Two consortia, one of everything each. As consortium A's staff (every permission of the
project's apps, member of A only): every admin URL with one of B's ids is refused, every
list and autocomplete leaves B out and names none of it, and a save that would move a row
to B is refused. The state office sees both.
"""

import datetime as dt
from decimal import Decimal

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group, Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from articulations.models import (
    CareerCluster,
    College,
    ConsortiumYear,
    SchoolYear,
)
from articulations.tests.factories import CollegeFactory, SchoolFactory, UserFactory
from articulations.tests.test_import import articulation_row, upload
from credit_lists.models import ExportBatch, Registrar
from district.models import DistrictStaff, StudentLookup
from outbox.models import OutboxEmail
from payments.models import (
    CheckoutSession,
    Payment,
    StripeEvent,
    StripeWebhookFailure,
    StudentYear,
    Waiver,
)
from payments.tests.helpers import registered_student
from registration.models import PriorYearRequest, Registration
from registration.tests.helpers import earned_credit, one_college_class
from sers.admin_tools import STATE_OFFICE_GROUP
from sers.sers_id import random_sers_id

pytestmark = pytest.mark.django_db

PROJECT_APPS = {
    "outbox",
    "articulations",
    "students",
    "registration",
    "grading",
    "payments",
    "credit_lists",
    "district",
}
# Statewide lists every consortium shares and picks from (public in the catalog), and
# Stripe's own records (no student named): not consortium rows.
STATEWIDE = {College, SchoolYear, CareerCluster, StripeEvent, StripeWebhookFailure}
NOT_YET: set[tuple[str, str]] = set()


def consortium_world(word: str) -> dict:
    """One of everything for a consortium; every name carries ``word``."""
    school = SchoolFactory(name=f"{word} High", district__name=f"{word} District")
    consortium = school.consortium
    consortium.name = f"{word} Consortium"
    consortium.save()
    course_class = one_college_class(school=school)
    articulation = course_class.articulations.get()
    articulation.hs_course_name = f"{word} Welding"
    articulation.save()
    college = CollegeFactory(name=f"{word} College", code=word[:4].upper())
    articulation.college = college
    articulation.save()
    teacher = course_class.teacher
    teacher.schools.add(school)
    teacher.user.last_name = f"{word}teacher"
    teacher.user.save()
    student, _ = registered_student(course_class=course_class, legal_last_name=f"{word}student")
    registration = Registration.objects.get(student=student)
    student_year, _ = StudentYear.objects.get_or_create(
        student=student, consortium=consortium, school_year_id=2026
    )
    payment = Payment.objects.create(
        student_year=student_year,
        method=Payment.Method.CHECK,
        amount=Decimal("10.00"),
        payer=f"{word} Parent",
        reference=f"{word}-1001",
        received_on=dt.date(2027, 2, 1),
    )
    waiver = Waiver.objects.create(
        student_year=student_year, reason=Waiver.Reason.HARDSHIP, note=f"{word} hardship"
    )
    checkout = CheckoutSession.objects.create(
        student_year=student_year,
        stripe_session_id=f"cs_{word}",
        url=f"https://example.org/{word}",
        amount=Decimal("50.00"),
        attempt=1,
        status=CheckoutSession.Status.EXPIRED,
    )
    earlier = one_college_class(school=school, start_year=2025)
    prior = PriorYearRequest.objects.create(
        student=student,
        course_class=earlier,
        articulation=earlier.articulations.get(),
        note=f"{word} forgot",
    )
    credit = earned_credit(college=college, school=school, legal_last_name=f"{word}earner")
    override = ConsortiumYear.objects.create(
        consortium=consortium, school_year_id=2026, note=f"{word} override"
    )
    staff = UserFactory(username=f"{word.lower()}-staff", last_name=f"{word}staff", is_staff=True)
    consortium.staff.add(staff)
    batch = ExportBatch.objects.create(
        college=None, requested_by=staff, via="admin", format=ExportBatch.Format.CSV
    )
    registrar = Registrar.objects.create(
        user=UserFactory(username=f"{word.lower()}-registrar", last_name=f"{word}registrar"),
        college=college,
    )
    district_staff = DistrictStaff.objects.create(
        user=UserFactory(username=f"{word.lower()}-counselor", last_name=f"{word}counselor"),
        district=school.district,
    )
    lookup = StudentLookup.objects.create(
        user=district_staff.user, student=student, page=StudentLookup.Page.RECORD
    )
    emails = list(OutboxEmail.objects.filter(about__contains=student.sers_id))
    assert emails, "registering queued a confirmation email about the student"
    return {
        "word": word,
        "consortium": consortium,
        "staff": staff,
        "school": school,
        "student": student,
        "markers": [word, student.sers_id],
        "rows": [
            consortium,
            school.district,
            school,
            articulation,
            course_class,
            earlier,
            teacher,
            student,
            registration,
            prior,
            student_year,
            payment,
            waiver,
            checkout,
            credit,
            credit.registration,
            credit.student,
            override,
            batch,
            registrar,
            district_staff,
            lookup,
            *emails,
        ],
    }


def give_every_permission(user):
    user.user_permissions.set(Permission.objects.filter(content_type__app_label__in=PROJECT_APPS))


@pytest.fixture
def worlds():
    a, b = consortium_world("Alpha"), consortium_world("Bravo")
    give_every_permission(a["staff"])
    give_every_permission(b["staff"])
    return a, b


def project_admins():
    return [
        (model, model_admin)
        for model, model_admin in admin.site._registry.items()
        if model._meta.app_label in PROJECT_APPS
    ]


def rows_of(world, model):
    return [row for row in world["rows"] if isinstance(row, model)]


def admin_url(model, view, *args):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def assert_refused(response, markers):
    assert response.status_code in (302, 403, 404), response.status_code
    if response.status_code == 302:
        assert response["Location"] == reverse("admin:index")
    body = response.content.decode()
    assert not any(marker in body for marker in markers)


def test_every_project_admin_is_covered(worlds):
    a, _b = worlds
    for model, _model_admin in project_admins():
        key = (model._meta.app_label, model._meta.model_name)
        if model in STATEWIDE or key in NOT_YET:
            continue
        assert rows_of(a, model), f"no row of {key} in the scoping test's world"


def test_refusal_matrix_change_history_delete(client, worlds):
    a, b = worlds
    client.force_login(a["staff"])
    checked = 0
    for model, _model_admin in project_admins():
        if model in STATEWIDE or (model._meta.app_label, model._meta.model_name) in NOT_YET:
            continue
        for row in rows_of(b, model):
            for view in ("change", "history", "delete"):
                assert_refused(client.get(admin_url(model, view, row.pk)), b["markers"])
                checked += 1
    assert checked >= 60


def test_history_versions_of_another_consortium_are_not_found(client, worlds):
    a, b = worlds
    client.force_login(a["staff"])
    student = b["student"]
    version = student.history.first()
    url = reverse("admin:students_student_simple_history", args=[student.pk, version.pk])
    assert_refused(client.get(url), b["markers"])


def test_lists_leave_the_other_consortium_out(client, worlds):
    a, b = worlds
    client.force_login(a["staff"])
    for model, _model_admin in project_admins():
        key = (model._meta.app_label, model._meta.model_name)
        if model in STATEWIDE or key in NOT_YET:
            continue
        # Fee years open on those that need attention: ask for all of them.
        query = {"attention": "all"} if model is StudentYear else {}
        response = client.get(admin_url(model, "changelist"), query)
        assert response.status_code == 200, key
        body = response.content.decode()
        leaked = [marker for marker in b["markers"] if marker in body]
        assert not leaked, (key, leaked)
        changelist = response.context["cl"]
        shown = set(changelist.queryset.values_list("pk", flat=True))
        assert not shown & {row.pk for row in rows_of(b, model)}, key
        assert {row.pk for row in rows_of(a, model)} <= shown, key
        assert changelist.full_result_count == len(shown), key


def test_searches_for_the_other_consortium_find_nothing(client, worlds):
    a, b = worlds
    client.force_login(a["staff"])
    for model in (Registration, Payment, Waiver, StudentYear, PriorYearRequest):
        response = client.get(admin_url(model, "changelist"), {"q": b["student"].sers_id})
        assert response.context["cl"].result_count == 0, model


def test_autocompletes_leave_the_other_consortium_out(client, worlds):
    a, b = worlds
    client.force_login(a["staff"])
    asked = 0
    for model, model_admin in project_admins():
        for field_name in model_admin.autocomplete_fields:
            target = model._meta.get_field(field_name).remote_field.model
            if target in STATEWIDE or target._meta.app_label not in PROJECT_APPS:
                continue
            response = client.get(
                "/admin/autocomplete/",
                {
                    "app_label": model._meta.app_label,
                    "model_name": model._meta.model_name,
                    "field_name": field_name,
                    "term": "",
                },
            )
            assert response.status_code == 200, (model, field_name)
            ids = {result["id"] for result in response.json()["results"]}
            assert not ids & {str(row.pk) for row in rows_of(b, target)}, (model, field_name)
            assert ids, (model, field_name)
            asked += 1
    assert asked >= 10


def student_form_data(student, **changes):
    data = {
        "legal_first_name": student.legal_first_name,
        "legal_middle_name": "",
        "legal_last_name": student.legal_last_name,
        "date_of_birth": "4/27/2010",
        "expected_graduation_year": student.expected_graduation_year,
        "school": student.school_id,
        "email": student.email,
        "phone": student.phone,
        "street": student.street,
        "city": student.city,
        "state": student.state,
        "zip_code": student.zip_code,
        "guardian_name": "",
        "guardian_email": "",
    }
    return {**data, **changes}


def test_moving_a_student_to_another_consortiums_school_is_refused(client, worlds):
    a, b = worlds
    client.force_login(a["staff"])
    student = a["student"]
    url = admin_url(type(student), "change", student.pk)
    response = client.post(url, student_form_data(student, school=b["school"].pk))
    assert response.status_code == 200
    assert "school" in response.context["adminform"].form.errors
    student.refresh_from_db()
    assert student.school == a["school"]
    # Another school of A's own is fine.
    other = SchoolFactory(district=a["school"].district)
    response = client.post(url, student_form_data(student, school=other.pk))
    assert response.status_code == 302
    student.refresh_from_db()
    assert student.school == other


def test_an_articulation_cannot_move_to_another_consortium(client, worlds):
    a, b = worlds
    client.force_login(a["staff"])
    articulation = rows_of(a, type(rows_of(b, Registration)[0].articulation))[0]
    form_page = client.get(admin_url(type(articulation), "change", articulation.pk))
    consortium_field = form_page.context["adminform"].form.fields["consortium"]
    assert list(consortium_field.queryset) == [a["consortium"]]
    district_field = form_page.context["adminform"].form.fields["district"]
    assert b["school"].district not in district_field.queryset


def test_recording_a_check_for_another_consortiums_student_reads_not_found(client, worlds):
    a, b = worlds
    client.force_login(a["staff"])
    data = {
        "school_year": 2026,
        "method": Payment.Method.CHECK,
        "payer": "Someone",
        "reference": "555",
        "amount": "50.00",
        "received_on": "2/1/2027",
    }
    nobody = random_sers_id()
    missing = client.post(admin_url(Payment, "add"), {**data, "sers_id": nobody})
    other = client.post(admin_url(Payment, "add"), {**data, "sers_id": b["student"].sers_id})
    missing_error = missing.context["form"].errors["sers_id"][0]
    other_error = other.context["form"].errors["sers_id"][0]
    assert other_error == missing_error.replace(nobody, b["student"].sers_id)
    assert Payment.objects.filter(reference="555").count() == 0


def test_grade_import_reads_another_consortiums_student_as_not_found(client, worlds):
    a, b = worlds
    client.force_login(a["staff"])
    registration = rows_of(b, Registration)[0]
    csv_text = f"sers_id,class,grade\n{b['student'].sers_id},{registration.course_class_id},A\n"
    upload = SimpleUploadedFile("grades.csv", csv_text.encode(), content_type="text/csv")
    response = client.post(
        reverse("admin:registration_registration_import_grades"), {"file": upload}
    )
    (line,) = response.context["lines"]
    assert line["row"].errors == [f"No student has SERS ID {b['student'].sers_id}."]


def test_the_state_office_sees_both(client, worlds):
    a, b = worlds
    office = UserFactory(username="state-office", is_staff=True)
    give_every_permission(office)
    office.groups.add(Group.objects.get(name=STATE_OFFICE_GROUP))
    client.force_login(office)
    response = client.get(admin_url(type(a["student"]), "changelist"))
    shown = set(response.context["cl"].queryset.values_list("pk", flat=True))
    assert {a["student"].pk, b["student"].pk} <= shown
    for world in (a, b):
        for model in (Payment, Registration, PriorYearRequest):
            row = rows_of(world, model)[0]
            assert client.get(admin_url(model, "change", row.pk)).status_code == 200


def test_bravo_staff_see_bravo_not_alpha(client, worlds):
    a, b = worlds
    client.force_login(b["staff"])
    response = client.get(admin_url(type(b["student"]), "changelist"))
    body = response.content.decode()
    assert b["student"].sers_id in body
    assert a["student"].sers_id not in body


def test_articulation_import_names_only_the_users_consortia(client, worlds):
    a, b = worlds
    client.force_login(a["staff"])
    row = articulation_row(
        consortium=b["consortium"].name,
        district=b["school"].district.name,
        college="BRAV",
        career_cluster=CareerCluster.objects.get().name,
        valid_from="2024-25",
        hs_course_number="IMP1",
    )
    response = client.post(
        reverse("admin:articulations_articulation_import"),
        {"resource": "0", "format": "0", "import_file": upload([row])},
    )
    errors = response.context["result"].invalid_rows[0].error_dict
    assert errors["consortium"] == [f"There is no consortium named “{b['consortium'].name}”."]
    assert errors["district"] == [f"There is no district named “{b['school'].district.name}”."]
    assert (
        not type(rows_of(a, Registration)[0].articulation)
        .objects.filter(hs_course_number="IMP1")
        .exists()
    )
    # The same file for A's own consortium imports (dry run: nothing refused).
    own = {**row, "consortium": a["consortium"].name, "district": a["school"].district.name}
    response = client.post(
        reverse("admin:articulations_articulation_import"),
        {"resource": "0", "format": "0", "import_file": upload([own])},
    )
    assert not response.context["result"].invalid_rows


def test_select_all_export_and_actions_reach_only_the_users_consortia(client, worlds):
    a, b = worlds
    client.force_login(a["staff"])
    credits = [row for row in a["rows"] if row._meta.model_name == "credit"]
    response = client.post(
        "/admin/grading/credit/",
        {
            "action": "export_selected_credits_csv",
            # B's id in the selection too: the action's rows come from the scoped list.
            "_selected_action": [
                credits[0].pk,
                *[row.pk for row in b["rows"] if row._meta.model_name == "credit"],
            ],
            "select_across": "1",
            "index": 0,
        },
    )
    body = b"".join(response.streaming_content).decode()
    assert credits[0].student.sers_id in body
    assert not any(marker in body for marker in b["markers"])
    # An action on B's row by id changes nothing.
    waiver = rows_of(b, Waiver)[0]
    client.post(
        "/admin/payments/waiver/",
        {"action": "deny", "_selected_action": [waiver.pk], "confirmed": "yes", "note": ""},
    )
    waiver.refresh_from_db()
    assert waiver.status == Waiver.Status.REQUESTED


def test_emails_are_those_about_the_users_students(client, worlds):
    a, b = worlds
    client.force_login(a["staff"])
    response = client.get("/admin/outbox/outboxemail/", {"q": b["student"].sers_id})
    assert response.context["cl"].result_count == 0
    response = client.get("/admin/outbox/outboxemail/", {"q": a["student"].sers_id})
    assert response.context["cl"].result_count >= 1


def test_opening_free_lunch_waivers_opens_only_the_users_consortia(client, worlds):
    a, b = worlds
    for world in (a, b):
        student = world["student"]
        student.free_reduced_lunch = True
        student.save()
    Waiver.objects.all().delete()
    client.force_login(a["staff"])
    page = client.get("/admin/payments/waiver/open-free-lunch/")
    assert page.context["students"] == 1
    client.post("/admin/payments/waiver/open-free-lunch/")
    opened = Waiver.objects.filter(reason=Waiver.Reason.FREE_REDUCED_LUNCH)
    assert [w.student_year.student for w in opened] == [a["student"]]


def test_a_registrar_is_invited_only_for_colleges_of_the_users_consortia(client, worlds):
    a, b = worlds
    client.force_login(a["staff"])
    page = client.get(admin_url(Registrar, "add"))
    colleges = page.context["adminform"].form.fields["college"].queryset
    assert rows_of(a, Registration)[0].articulation.college in colleges
    assert rows_of(b, Registration)[0].articulation.college not in colleges


def test_a_teacher_shared_with_another_consortium_keeps_its_school_there(client, worlds):
    a, b = worlds
    teacher = rows_of(a, type(rows_of(a, Registration)[0].course_class.teacher))[0]
    teacher.schools.add(b["school"])
    client.force_login(a["staff"])
    response = client.post(
        admin_url(type(teacher), "change", teacher.pk),
        {
            "user": teacher.user_id,
            "schools": [a["school"].pk],
            "approved_on": "2024-08-15",
            "approval_expires_on": "",
        },
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert set(teacher.schools.all()) == {a["school"], b["school"]}
    listed = client.get(admin_url(type(teacher), "changelist")).content.decode()
    assert a["school"].name in listed
    assert b["school"].name not in listed  # the other consortium's school is not named


def test_scoped_lists_make_the_same_queries_however_many_rows(client, worlds):
    a, _b = worlds
    client.force_login(a["staff"])
    lists = [
        admin_url(model, "changelist")
        for model in (type(a["student"]), Registration, Payment, Waiver, OutboxEmail)
    ]

    def counts():
        found = []
        for url in lists:
            with CaptureQueriesContext(connection) as queries:
                assert client.get(url).status_code == 200
            found.append(len(queries))
        return found

    before = counts()
    for _ in range(3):
        registered_student(course_class=rows_of(a, Registration)[0].course_class)
    assert counts() == before
