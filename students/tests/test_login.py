import pytest
from axes.models import AccessAttempt

from registration.tests.factories import StudentFactory

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery"  # the factory's


def log_in(client, username, password=PASSWORD):
    return client.post("/accounts/login/", {"username": username, "password": password})


def test_a_student_logs_in_with_the_username(client):
    student = StudentFactory()

    response = log_in(client, student.user.username)

    assert response.status_code == 302
    assert client.get("/accounts/profile/").status_code == 200


@pytest.mark.parametrize(
    "form",
    [
        str.lower,
        lambda sers_id: sers_id.replace("-", " "),
        lambda sers_id: sers_id.replace("-", ""),
    ],
)
def test_a_student_logs_in_with_the_sers_id_typed_any_way(client, form):
    student = StudentFactory()

    response = log_in(client, form(student.sers_id))

    assert response.status_code == 302


def test_the_email_is_not_a_login_because_siblings_share_it(client):
    student = StudentFactory(email="family@example.org")

    response = log_in(client, "family@example.org")

    assert response.status_code == 200
    assert "do not match" in response.content.decode()
    assert student.user.username != "family@example.org"


def test_a_wrong_password_says_what_to_do_and_keeps_the_username(client):
    student = StudentFactory()

    response = log_in(client, student.sers_id, "wrong-password")

    page = response.content.decode()
    assert "There is a problem" in page
    assert "Your username or SERS ID and password do not match" in page
    assert f'value="{student.sers_id}"' in page


def lock_out(client, username):
    for _ in range(5):
        log_in(client, username, "wrong-password")


def test_five_failures_lock_the_username_from_that_address(client):
    student = StudentFactory()
    lock_out(client, student.user.username)

    response = log_in(client, student.user.username)

    assert response.status_code == 429
    assert "Too many tries" in response.content.decode()
    assert client.get("/accounts/profile/").status_code == 302  # still logged out


def test_a_lockout_does_not_tell_whether_the_account_exists(client):
    student = StudentFactory()
    lock_out(client, student.user.username)
    real = log_in(client, student.user.username, "wrong-password")
    lock_out(client, "nobody-has-this-name")
    unknown = log_in(client, "nobody-has-this-name", "wrong-password")

    assert real.status_code == unknown.status_code == 429
    assert real.content == unknown.content


def test_a_sers_id_typed_in_different_ways_counts_as_one_username(client):
    student = StudentFactory()
    for typed in [student.sers_id, student.sers_id.lower(), student.sers_id.replace("-", " ")] * 2:
        log_in(client, typed, "wrong-password")

    assert AccessAttempt.objects.get().username == student.sers_id
    assert log_in(client, student.sers_id).status_code == 429
