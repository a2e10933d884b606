"""Staff and grades in the admin: change a grade, see credit, import grades from a CSV file."""

import contextlib
import datetime as dt
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext

from articulations.grades import LetterGrade
from articulations.tests.factories import UserFactory
from grading.models import Credit
from grading.selectors import StudentStatus
from grading.services.teaching import grade_set_by_staff
from payments.models import Payment
from payments.services.offline import payment_record_offline
from payments.tests.helpers import FEBRUARY, registered_student
from registration.models import Registration
from registration.services import registration_delete_by_staff
from registration.tests.helpers import PACIFIC, at

pytestmark = pytest.mark.django_db

REGISTRATIONS = "/admin/registration/registration/"
CREDITS = "/admin/grading/credit/"
IMPORT = "/admin/registration/registration/import-grades/"
AFTER_THE_GRADING_DEADLINE = (2027, 7, 1, 10, 0)


@contextlib.contextmanager
def staff_at(client, user, *when):
    """Travel to a moment and sign in there: a session from another time has expired."""
    with at(*when):
        client.force_login(user)
        yield


@pytest.fixture
def february(admin_client, admin_user):
    with staff_at(admin_client, admin_user, *FEBRUARY):
        yield


# --- Local helpers ---------------------------------------------------------------------------


def registration_of(student) -> Registration:
    return Registration.objects.select_related("course_class__teacher", "articulation").get(
        student=student
    )


def pay(student, consortium, staff):
    """Settle the student's 2026-27 fee with a mailed check."""
    with at(*FEBRUARY):
        return payment_record_offline(
            student=student,
            consortium_id=consortium.pk,
            start_year=2026,
            method=Payment.Method.CHECK,
            payer="Parent",
            reference=f"check-{student.pk}",
            amount=Decimal("50.00"),
            received_on=dt.date(2027, 2, 1),
            staff_user=staff,
        )


def credited_student(staff, grade="A"):
    """A registered student whose fee is paid and whose grade earns the credit."""
    student, consortium = registered_student()
    pay(student, consortium, staff)
    registration = registration_of(student)
    with at(*FEBRUARY):
        grade_set_by_staff(registration=registration, grade=grade, staff_user=staff)
    return student, Credit.objects.get(registration=registration)


def change_form_data(client, url):
    """The change form's fields as a browser sends them back, hidden initial values too."""
    form = client.get(url).context["adminform"].form
    data = {name: form[name].value() or "" for name in form.fields}
    for name, field in form.fields.items():
        if field.show_hidden_initial:
            data[form.add_initial_prefix(name)] = data[name]
    return data


def listed(client, url, **params):
    response = client.get(url, params)
    assert response.status_code == 200
    return set(response.context["cl"].result_list)


def text(response):
    return response.content.decode()


def upload(client, content: bytes, name="grades.csv"):
    return client.post(IMPORT, {"file": SimpleUploadedFile(name, content, "text/csv")})


def grades_csv(*rows) -> str:
    return "sers_id,class,grade\n" + "".join(f"{a},{b},{c}\n" for a, b, c in rows)


# --- Changing a grade on the registration's form ---------------------------------------------


def test_staff_change_a_grade_after_the_grading_deadline(admin_client, admin_user):
    student, consortium = registered_student()
    pay(student, consortium, admin_user)
    registration = registration_of(student)
    url = f"{REGISTRATIONS}{registration.pk}/change/"

    with staff_at(admin_client, admin_user, *AFTER_THE_GRADING_DEADLINE):
        form = admin_client.get(url).context["adminform"].form
        assert [value for value, _ in form.fields["grade"].choices] == [
            "",
            *LetterGrade.values,
        ]
        data = change_form_data(admin_client, url)
        versions = registration.history.count()
        data["grade"] = "A-"
        response = admin_client.post(url, data, follow=True)

    assert response.status_code == 200
    assert "changed from no grade to A-" in text(response)
    assert StudentStatus.CREDIT_EARNED in text(response)
    registration.refresh_from_db()
    assert registration.grade == "A-"
    assert registration.grade_posted_at == dt.datetime(*AFTER_THE_GRADING_DEADLINE, tzinfo=PACIFIC)
    assert registration.changed_by == admin_user
    # One version, written by the service: the form's plain save did not run as well.
    assert registration.history.count() == versions + 1
    latest = registration.history.first()
    assert (latest.grade, latest.history_user) == ("A-", admin_user)
    credit = Credit.objects.get(registration=registration)
    assert credit.grade == "A-"
    assert credit.earned_on == dt.date(2027, 7, 1)

    with staff_at(admin_client, admin_user, 2027, 7, 2, 9, 0):
        data = change_form_data(admin_client, url)
        data["grade"] = "B-"
        response = admin_client.post(url, data, follow=True)

    assert StudentStatus.BELOW_MINIMUM in text(response)
    registration.refresh_from_db()
    assert registration.grade == "B-"
    assert registration.history.first().history_user == admin_user
    assert not Credit.objects.filter(registration=registration).exists()
    removed = Credit.history.filter(registration_id=registration.pk).first()
    assert (removed.history_type, removed.history_user) == ("-", admin_user)


def test_a_grade_without_the_fee_paid_earns_no_credit_until_the_payment(admin_client, admin_user):
    student, consortium = registered_student()
    registration = registration_of(student)
    url = f"{REGISTRATIONS}{registration.pk}/change/"
    with staff_at(admin_client, admin_user, *AFTER_THE_GRADING_DEADLINE):
        data = change_form_data(admin_client, url)
        data["grade"] = "A"
        response = admin_client.post(url, data, follow=True)

    assert StudentStatus.FEE_NOT_SETTLED in text(response)
    assert not Credit.objects.exists()
    pay(student, consortium, admin_user)
    assert Credit.objects.get(registration=registration).grade == "A"


def test_saving_the_form_without_touching_the_grade_keeps_the_teachers_grade(
    admin_client, admin_user
):
    student, _ = registered_student()
    registration = registration_of(student)
    url = f"{REGISTRATIONS}{registration.pk}/change/"
    data = change_form_data(admin_client, url)  # the form as staff opened it: no grade yet
    # Meanwhile the teacher posts a grade.
    with at(*FEBRUARY):
        grade_set_by_staff(registration=registration, grade="B+", staff_user=admin_user)

    response = admin_client.post(url, data)

    assert response.status_code == 302
    registration.refresh_from_db()
    assert registration.grade == "B+"


def test_staff_take_a_grade_back(admin_client, admin_user):
    student, _ = registered_student()
    registration = registration_of(student)
    with at(*FEBRUARY):
        grade_set_by_staff(registration=registration, grade="B", staff_user=admin_user)
    url = f"{REGISTRATIONS}{registration.pk}/change/"
    data = change_form_data(admin_client, url)
    data["grade"] = ""

    response = admin_client.post(url, data, follow=True)

    assert "changed from B to no grade" in text(response)
    registration.refresh_from_db()
    assert (registration.grade, registration.grade_posted_at) == ("", None)


def test_a_student_the_teacher_marked_not_in_the_class_gets_no_grade(admin_client):
    student, _ = registered_student()
    registration = registration_of(student)
    Registration.objects.filter(pk=registration.pk).update(
        enrollment=Registration.Enrollment.REJECTED
    )
    url = f"{REGISTRATIONS}{registration.pk}/change/"
    data = change_form_data(admin_client, url)
    data["grade"] = "A"

    response = admin_client.post(url, data)

    assert response.status_code == 200
    assert "cannot get a grade" in response.context["adminform"].form.errors["grade"][0]
    registration.refresh_from_db()
    assert registration.grade == ""


# --- The registration list ----------------------------------------------------------------------


def test_the_registration_list_shows_enrollment_grade_and_status(admin_client, admin_user):
    student, credit = credited_student(admin_user, grade="B+")
    registration = credit.registration

    page = text(admin_client.get(REGISTRATIONS))

    for shown in [
        student.sers_id,
        registration.get_enrollment_display(),
        "B+",
        StudentStatus.CREDIT_EARNED,
        f"(class {registration.course_class_id})",
    ]:
        assert shown in page


def test_the_registration_list_filters_by_enrollment_grade_and_teacher(admin_client, admin_user):
    _, credit = credited_student(admin_user)
    graded = credit.registration
    ungraded = registration_of(registered_student()[0])
    Registration.objects.filter(pk=ungraded.pk).update(enrollment=Registration.Enrollment.CONFIRMED)

    assert listed(admin_client, REGISTRATIONS, graded="yes") == {graded}
    assert listed(admin_client, REGISTRATIONS, graded="no") == {ungraded}
    assert listed(admin_client, REGISTRATIONS, enrollment__exact="confirmed") == {ungraded}
    teacher = ungraded.course_class.teacher
    assert listed(admin_client, REGISTRATIONS, teacher=teacher.pk) == {ungraded}
    page = text(admin_client.get(REGISTRATIONS))
    assert teacher.name in page  # the teacher filter offers the teacher by name
    school = graded.course_class.school
    assert listed(admin_client, REGISTRATIONS, course_class__school__id__exact=school.pk) == {
        graded
    }


# --- Credit earned --------------------------------------------------------------------------------


def test_the_credit_list_shows_what_was_earned(admin_client, admin_user):
    student, credit = credited_student(admin_user, grade="A-")
    registration = credit.registration

    page = text(admin_client.get(CREDITS))

    for shown in [
        student.sers_id,
        student.full_name,
        credit.college_course,
        credit.college_course_title,
        credit.college.code,
        "5.0",
        "A-",
        "2026-27",
        "Feb. 1, 2027",
        registration.course_class.school.name,
        registration.course_class.teacher.name,
    ]:
        assert shown in page
    assert admin_client.get(f"{CREDITS}{credit.pk}/change/").status_code == 200
    assert admin_client.get(f"{CREDITS}{credit.pk}/history/").status_code == 200


def test_the_credit_list_filters_and_finds_by_sers_id(admin_client, admin_user):
    student, credit = credited_student(admin_user)
    _, other = credited_student(admin_user, grade="B")
    both = {credit, other}

    assert listed(admin_client, CREDITS) == both
    assert listed(admin_client, CREDITS, school_year__start_year__exact=2026) == both
    assert listed(admin_client, CREDITS, school_year__start_year__exact=2025) == set()
    assert listed(admin_client, CREDITS, college__id__exact=credit.college_id) == {credit}
    teacher = credit.registration.course_class.teacher
    assert listed(admin_client, CREDITS, teacher=teacher.pk) == {credit}
    school = other.registration.course_class.school
    assert listed(
        admin_client, CREDITS, registration__course_class__school__id__exact=school.pk
    ) == {other}
    assert listed(admin_client, CREDITS, grade__exact="B") == {other}
    for typed in [student.sers_id.lower().replace("-", " "), student.sers_id.replace("-", "")]:
        assert listed(admin_client, CREDITS, q=typed) == {credit}
    assert listed(admin_client, CREDITS, q=credit.college_course) == {credit}
    assert listed(admin_client, CREDITS, q=student.legal_last_name) == {credit}


def test_credits_cannot_be_added_changed_or_deleted(admin_client, admin_user):
    _, credit = credited_student(admin_user)
    change = f"{CREDITS}{credit.pk}/change/"
    version = credit.history.earliest("history_date")

    assert admin_client.get(f"{CREDITS}add/").status_code == 403
    assert admin_client.post(change, {"grade": "A-"}).status_code == 403
    assert admin_client.get(f"{CREDITS}{credit.pk}/delete/").status_code == 403
    admin_client.post(
        CREDITS, {"action": "delete_selected", "_selected_action": [credit.pk], "post": "yes"}
    )
    assert admin_client.post(f"{CREDITS}{credit.pk}/history/{version.history_id}/").status_code == (
        403
    )
    credit.refresh_from_db()
    assert credit.grade == "A"
    assert credit.history.count() == 1


# --- Queries: the same however long the list -------------------------------------------------------


@pytest.mark.parametrize("url", [REGISTRATIONS, CREDITS])
def test_the_lists_make_the_same_queries_for_2_or_10_rows(admin_client, admin_user, url):
    # Every row its own class, school, teacher and college: the relations of each are different.
    for _ in range(2):
        credited_student(admin_user)
    with CaptureQueriesContext(connection) as few:
        response = admin_client.get(url)
    assert response.context["cl"].result_count == 2
    for _ in range(8):
        credited_student(admin_user)

    with CaptureQueriesContext(connection) as many:
        response = admin_client.get(url)

    assert response.context["cl"].result_count == 10
    assert len(many.captured_queries) == len(few.captured_queries)


# --- Importing grades from a CSV file ---------------------------------------------------------------


def test_the_registration_list_links_to_the_import_page(admin_client):
    page = text(admin_client.get(REGISTRATIONS))
    assert f'href="{IMPORT}"' in page
    assert "Import grades from CSV" in page

    response = admin_client.get(IMPORT)

    assert response.status_code == 200
    assert "sers_id</strong>, <strong>class</strong> and <strong>grade" in text(response)
    assert "sers_id,class,grade\nTP3-07-4412,17,B+" in text(response)


def test_one_bad_row_shows_its_problem_and_imports_nothing(admin_client, february):
    first, _ = registered_student()
    second, _ = registered_student()
    content = grades_csv(
        (first.sers_id.lower(), registration_of(first).course_class_id, "a-"),
        (second.sers_id, registration_of(second).course_class_id, "Z"),
    )

    response = upload(admin_client, content.encode())

    assert response.status_code == 200
    page = text(response)
    assert "Will post grade A- (was no grade)" in page
    assert "Z is not a grade" in page
    assert "Nothing will be imported until every row is right" in page
    assert 'name="csv"' not in page
    assert "Post " not in page
    lines = [line["row"].line for line in response.context["lines"]]
    assert lines == [2, 3]
    assert not Registration.objects.exclude(grade="").exists()


def test_staff_preview_then_post_the_grades(admin_client, admin_user, february):
    first, consortium = registered_student()
    pay(first, consortium, admin_user)
    second, _ = registered_student()
    content = grades_csv(
        (first.sers_id.replace("-", ""), registration_of(first).course_class_id, "B"),
        (second.sers_id, registration_of(second).course_class_id, "c+"),
    )

    preview = upload(admin_client, content.encode())

    page = text(preview)
    assert "Will post grade B (was no grade)" in page
    assert "Will post grade C+ (was no grade)" in page
    assert "Post 2 grades" in page
    assert not Registration.objects.exclude(grade="").exists()

    response = admin_client.post(IMPORT, {"csv": preview.context["signed_csv"]}, follow=True)

    assert response.redirect_chain[-1][0] == REGISTRATIONS
    assert "Posted 2 grades." in text(response)
    assert registration_of(first).grade == "B"
    assert registration_of(second).grade == "C+"
    # Historical records list newest first; in frozen time the ids break the tie.
    assert registration_of(first).history.first().history_user == admin_user
    assert Credit.objects.get().student == first  # paid and B: credit; C+ is below B


def test_a_file_saved_with_a_byte_order_mark_is_read(admin_client, february):
    student, _ = registered_student()
    content = grades_csv((student.sers_id, registration_of(student).course_class_id, "A"))

    response = upload(admin_client, ("\ufeff" + content).encode("utf-8"))

    assert [line["row"].ok for line in response.context["lines"]] == [True]
    assert "Post 1 grade" in text(response)


def test_a_regrade_says_what_it_was(admin_client, admin_user, february):
    student, _ = registered_student()
    registration = registration_of(student)
    grade_set_by_staff(registration=registration, grade="B", staff_user=admin_user)
    content = grades_csv(
        (student.sers_id, registration.course_class_id, "A"),
    )

    response = upload(admin_client, content.encode())

    assert "Will post grade A (was B)" in text(response)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("sers_id,class,grade\nTP3-07-4412,17,B+\n".encode("utf-16"), "not UTF-8 text"),
        (b"sers_id,class,grade\n\xe9\xff,17,B\n", "not UTF-8 text"),
        (b"", "The file is empty"),
        (b"  \n\n", "The file is empty"),
        (b"name,grade\nMaya,A\n", "The first row must name the columns sers_id, class, grade"),
        (b"sers_id,class,grade\nTP3-07-4412,17\rTP3-07-4413,17,B\n", "cannot be read as CSV"),
    ],
)
def test_a_file_that_cannot_be_read_gets_a_message(admin_client, content, message):
    response = upload(admin_client, content)

    assert response.status_code == 200
    assert message in text(response)
    assert 'name="csv"' not in text(response)


def test_no_file_gets_a_message(admin_client):
    response = admin_client.post(IMPORT, {})

    assert response.status_code == 200
    assert "Choose a CSV file to upload." in text(response)


def test_a_changed_confirmation_posts_nothing(admin_client, february):
    student, _ = registered_student()
    content = grades_csv((student.sers_id, registration_of(student).course_class_id, "A"))
    preview = upload(admin_client, content.encode())

    response = admin_client.post(IMPORT, {"csv": preview.context["signed_csv"] + "x"})

    assert "Upload the file again" in text(response)
    assert registration_of(student).grade == ""


def test_a_row_that_went_wrong_since_the_preview_imports_nothing(
    admin_client, admin_user, february
):
    first, _ = registered_student()
    second, _ = registered_student()
    content = grades_csv(
        (first.sers_id, registration_of(first).course_class_id, "A"),
        (second.sers_id, registration_of(second).course_class_id, "A"),
    )
    preview = upload(admin_client, content.encode())
    registration_delete_by_staff(
        registration=registration_of(second), staff_user=admin_user, reason="Wrong class"
    )

    response = admin_client.post(IMPORT, {"csv": preview.context["signed_csv"]})

    assert response.status_code == 200
    assert "Nothing was imported: 1 row(s) have problems" in text(response)
    assert "deleted by staff" in text(response)
    assert not Registration.objects.exclude(grade="").exists()


def test_people_who_are_not_staff_are_refused_the_import(client, february):
    student, _ = registered_student()
    client.force_login(student.user)

    response = client.get(IMPORT)
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")
    content = grades_csv((student.sers_id, registration_of(student).course_class_id, "A"))
    response = client.post(IMPORT, {"file": SimpleUploadedFile("g.csv", content.encode())})
    assert response.status_code == 302
    assert registration_of(student).grade == ""

    # Staff who may not change registrations are refused too, and see no button.
    client.force_login(UserFactory(is_staff=True))
    assert client.get(IMPORT).status_code == 403


def test_staff_undo_a_wrong_not_in_the_class_after_the_deadline_and_grade_it(
    admin_client, admin_user
):
    with at(2027, 2, 1, 10, 0):
        student, consortium = registered_student()
        registration = Registration.objects.get(student=student)
        registration.enrollment = Registration.Enrollment.REJECTED
        registration.save()

    with at(2027, 7, 1, 10, 0):
        admin_client.force_login(admin_user)
        url = f"/admin/registration/registration/{registration.pk}/change/"
        form = admin_client.get(url).context["adminform"].form
        data = {name: form[name].value() or "" for name in form.fields}
        data.update(
            {
                "initial-grade": "",
                "initial-enrollment": "rejected",
                "enrollment": "confirmed",
                "grade": "A",
            }
        )
        response = admin_client.post(url, data)

    assert response.status_code == 302
    registration.refresh_from_db()
    assert registration.enrollment == Registration.Enrollment.CONFIRMED
    assert registration.grade == "A"
    assert registration.changed_by == admin_user
