"""Demo data for the embedded first run: one login per role.

Loading is idempotent: running it again changes nothing that already exists
(a password someone changed stays changed). Later capabilities add their own
demo rows here (catalog, students, registrations, payments).
"""

from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction

DEMO_PASSWORD = "sers-demo-2026"  # noqa: S105 - demo accounts on a local SQLite file only


class Roles:
    STUDENT = "Students"
    TEACHER = "Teachers"
    REGISTRAR = "College registrars"
    STAFF = "Consortium staff"


@dataclass(frozen=True)
class DemoLogin:
    role: str
    username: str
    password: str
    where: str


DEMO_ACCOUNTS = [
    # role group, username, first, last, where to go, is_staff
    (Roles.STUDENT, "student", "Maya", "Lopez", "/", False),
    (Roles.TEACHER, "teacher", "Daniel", "Kim", "/", False),
    (Roles.REGISTRAR, "registrar", "Priya", "Shah", "/", False),
    (Roles.STAFF, "staff", "Jordan", "Reyes", "/admin/", True),
]


@transaction.atomic
def demo_load() -> list[DemoLogin]:
    user_model = get_user_model()
    logins = []
    for role, username, first_name, last_name, where, is_staff in DEMO_ACCOUNTS:
        group, _ = Group.objects.get_or_create(name=role)
        user, created = user_model.objects.get_or_create(
            username=username,
            defaults={
                "first_name": first_name,
                "last_name": last_name,
                "email": f"{username}@example.org",
                "is_staff": is_staff,
                # The demo office runs everything; real staff get narrower permissions.
                "is_superuser": is_staff,
            },
        )
        if created:
            user.set_password(DEMO_PASSWORD)
            user.save(update_fields=["password"])
        user.groups.add(group)
        logins.append(DemoLogin(role=role, username=username, password=DEMO_PASSWORD, where=where))
    return logins
