from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from sers.demo import demo_load
from students.models import Student


class Command(BaseCommand):
    help = "Load demo data (idempotent) and print one login per role."

    def add_arguments(self, parser):
        parser.add_argument(
            "--force",
            action="store_true",
            help="Load even with DEBUG off (the demo passwords are public).",
        )

    def handle(self, *args, force: bool = False, **options):
        if not settings.DEBUG and not force:
            raise CommandError(
                "Demo accounts have public passwords: run with DEBUG=1, or pass --force."
            )
        logins = demo_load()
        self.stdout.write(self.style.SUCCESS("Demo data is loaded. Log in as:"))
        for login in logins:
            self.stdout.write(
                f"  {login.role:<36} {login.username:<10} password {login.password}"
                f"   then open {settings.SITE_URL}{login.where}"
            )
        student = Student.objects.filter(user__username="student").first()
        if student:
            self.stdout.write(f"The demo student's SERS ID is {student.sers_id}.")
        self.stdout.write(f"Search the catalog at {settings.SITE_URL}/articulations/")
