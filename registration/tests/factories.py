"""Student factories, shared by every app's tests."""

import datetime as dt

import factory

from articulations.tests.factories import SchoolFactory, UserFactory
from sers.sers_id import random_sers_id
from students.models import Student


class StudentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Student

    user = factory.SubFactory(
        UserFactory,
        first_name="Maya",
        last_name=factory.SelfAttribute("..legal_last_name"),
        email=factory.SelfAttribute("..email"),
    )
    sers_id = factory.LazyFunction(random_sers_id)
    legal_first_name = "Maya"
    legal_last_name = factory.Sequence(lambda n: f"Lopez{n}")
    date_of_birth = dt.date(2010, 4, 27)
    expected_graduation_year = 2028
    school = factory.SubFactory(SchoolFactory)
    street = "123 Main St"
    city = "Bellevue"
    state = "WA"
    zip_code = "98007"
    phone = "425-555-0100"
    email = factory.Sequence(lambda n: f"student{n}@example.org")
