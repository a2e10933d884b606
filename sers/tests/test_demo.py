import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.test import override_settings

from sers.demo import DEMO_PASSWORD, demo_load

pytestmark = pytest.mark.django_db


def test_demo_gives_one_login_per_role_and_each_login_works(client):
    logins = demo_load()

    assert {login.role for login in logins} == {
        "Students",
        "Teachers",
        "College registrars",
        "Consortium staff",
    }
    for login in logins:
        assert client.login(username=login.username, password=login.password)
    assert get_user_model().objects.get(username="staff").is_staff


def test_loading_the_demo_twice_changes_nothing(client):
    demo_load()
    student = get_user_model().objects.get(username="student")
    student.set_password("changed-by-the-student-1")
    student.save()

    demo_load()

    assert (
        get_user_model()
        .objects.filter(username__in=["student", "teacher", "registrar", "staff"])
        .count()
        == 4
    )
    assert not client.login(username="student", password=DEMO_PASSWORD)
    assert client.login(username="student", password="changed-by-the-student-1")


def test_the_command_prints_the_logins(capsys):
    with override_settings(DEBUG=True):
        call_command("load_demo")

    out = capsys.readouterr().out
    for username in ("student", "teacher", "registrar", "staff"):
        assert username in out
    assert DEMO_PASSWORD in out


def test_the_command_refuses_to_create_public_passwords_on_a_production_site():
    with pytest.raises(CommandError, match="DEBUG=1"):
        call_command("load_demo")
    assert not get_user_model().objects.exists()
