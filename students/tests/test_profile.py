import pytest

from articulations.tests.factories import SchoolFactory, TeacherFactory
from registration.tests.factories import StudentFactory
from registration.tests.helpers import at

pytestmark = pytest.mark.django_db


def test_profile_shows_the_sers_id_just_above_the_mailing_address(client):
    student = StudentFactory(street="77 Pine Rd")
    client.force_login(student.user)

    page = client.get("/accounts/profile/").content.decode()

    sers_id_at = page.index(student.sers_id)
    address_at = page.index("77 Pine Rd")
    assert sers_id_at < address_at
    # Nothing but the address label sits between them.
    between = page[sers_id_at:address_at]
    assert "Mailing address" in between
    assert "Email" not in between and "Phone" not in between


def test_a_student_edits_contact_details_grade_and_school(client):
    student = StudentFactory()
    new_school = SchoolFactory()
    client.force_login(student.user)

    response = client.post(
        "/accounts/profile/edit/",
        {
            "email": "new@example.org",
            "phone": "206 555 0199",
            "street": "9 Lake Ave",
            "city": "Redmond",
            "state": "WA",
            "zip_code": "98052",
            "school": new_school.pk,
            "grade": "",
            "expected_graduation_year": "2029",
            "free_reduced_lunch": "True",
            "guardian_name": "",
            "guardian_email": "",
        },
        follow=True,
    )

    assert "Your profile is saved." in response.content.decode()
    student.refresh_from_db()
    assert student.email == student.user.email == "new@example.org"
    assert student.phone == "206-555-0199"
    assert student.school == new_school
    assert student.expected_graduation_year == 2029
    assert student.free_reduced_lunch is True


def test_the_sers_id_and_legal_name_cannot_be_changed_by_the_student(client):
    student = StudentFactory()
    original_id = student.sers_id
    client.force_login(student.user)

    client.post(
        "/accounts/profile/edit/",
        {
            "sers_id": "TP3-00-0001",
            "legal_last_name": "Changed",
            "user": "1",
            "email": student.email,
            "phone": student.phone,
            "street": student.street,
            "city": student.city,
            "state": student.state,
            "zip_code": student.zip_code,
            "school": student.school_id,
            "expected_graduation_year": student.expected_graduation_year,
            "free_reduced_lunch": "False",
        },
    )

    student.refresh_from_db()
    assert student.sers_id == original_id
    assert student.legal_last_name != "Changed"


def test_a_profile_edit_with_a_mistake_keeps_what_was_typed(client):
    student = StudentFactory()
    client.force_login(student.user)

    response = client.post(
        "/accounts/profile/edit/",
        {"email": "new@example.org", "zip_code": "abc", "street": "9 Lake Ave", "state": "WA"},
    )

    page = response.content.decode()
    assert "Enter a ZIP code like 98007." in page
    assert 'value="new@example.org"' in page
    assert 'value="9 Lake Ave"' in page


def test_each_student_reaches_only_their_own_profile(client):
    mine, theirs = StudentFactory(), StudentFactory()
    client.force_login(mine.user)

    page = client.get("/accounts/profile/").content.decode()

    assert mine.sers_id in page
    assert theirs.sers_id not in page


@pytest.mark.parametrize(
    "path", ["/accounts/profile/", "/accounts/profile/edit/", "/accounts/welcome/"]
)
def test_someone_who_is_not_a_student_gets_404(client, path):
    teacher = TeacherFactory()
    client.force_login(teacher.user)

    assert client.get(path).status_code == 404


@pytest.mark.parametrize("path", ["/accounts/profile/", "/accounts/profile/edit/"])
def test_anonymous_visitors_are_sent_to_log_in(client, path):
    response = client.get(path)

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_a_student_cannot_open_the_staff_admin(client):
    client.force_login(StudentFactory().user)

    response = client.get("/admin/students/student/")

    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def _profile_post(student, **changes):
    return {
        "email": student.email,
        "phone": student.phone,
        "street": student.street,
        "city": student.city,
        "state": student.state,
        "zip_code": student.zip_code,
        "school": student.school_id,
        "grade": "",
        "expected_graduation_year": student.expected_graduation_year,
        "free_reduced_lunch": "False",
        "guardian_name": "",
        "guardian_email": "",
        **changes,
    }


def test_a_graduated_student_can_still_change_their_email(client):
    student = StudentFactory(expected_graduation_year=2027)

    with at(2027, 9, 15, 10, 0):
        client.force_login(student.user)
        response = client.post(
            "/accounts/profile/edit/", _profile_post(student, email="after@example.org")
        )

    assert response.status_code == 302
    student.refresh_from_db()
    assert student.email == "after@example.org"
    assert student.expected_graduation_year == 2027


@pytest.mark.parametrize("graduation_year", ["2026", "2032"])
def test_changing_the_graduation_year_to_outside_grades_9_to_12_is_refused(client, graduation_year):
    student = StudentFactory(expected_graduation_year=2029)

    with at(2027, 2, 1, 10, 0):
        client.force_login(student.user)
        page = client.post(
            "/accounts/profile/edit/",
            _profile_post(student, expected_graduation_year=graduation_year),
        ).content.decode()

    assert "SERS is for students in grades 9 to 12." in page
    student.refresh_from_db()
    assert student.expected_graduation_year == 2029


def test_a_graduated_student_who_changes_their_graduation_year_is_checked(client):
    student = StudentFactory(expected_graduation_year=2027)

    with at(2027, 9, 15, 10, 0):
        client.force_login(student.user)
        page = client.post(
            "/accounts/profile/edit/", _profile_post(student, expected_graduation_year="2026")
        ).content.decode()
        fixed = client.post(
            "/accounts/profile/edit/", _profile_post(student, expected_graduation_year="2029")
        )

    assert "SERS is for students in grades 9 to 12." in page
    assert fixed.status_code == 302
    student.refresh_from_db()
    assert student.expected_graduation_year == 2029
