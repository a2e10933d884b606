"""Students test helpers."""

import datetime as dt

from students import services


def sign_up(school, username):
    """A sign-up through the service, as the sign-up page makes it."""
    return services.student_create(
        username=username,
        password="orca-kayak-sunrise",
        email="family@example.org",
        legal_first_name="Sam",
        legal_middle_name="",
        legal_last_name=username,
        date_of_birth=dt.date(2010, 1, 1),
        expected_graduation_year=2028,
        school=school,
        street="1 Main St",
        city="Bellevue",
        state="WA",
        zip_code="98007",
        phone="425-555-0100",
        free_reduced_lunch=False,
    )
