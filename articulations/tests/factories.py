"""Catalog factories, shared by every app's tests."""

import datetime as dt
from decimal import Decimal

import factory
from django.contrib.auth import get_user_model

from articulations.models import (
    Articulation,
    CareerCluster,
    Class,
    College,
    Consortium,
    School,
    SchoolDistrict,
    SchoolYear,
    Teacher,
)


class CollegeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = College
        django_get_or_create = ("code",)

    name = factory.Sequence(lambda n: f"College {n}")
    code = factory.Sequence(lambda n: f"C{n}")


class ConsortiumFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Consortium

    name = factory.Sequence(lambda n: f"Consortium {n}")
    mailing_address = "3000 Landerholm Circle SE\nBellevue, WA 98007"
    contact_email = "office@example.org"
    contact_phone = "425-555-0100"


class SchoolYearFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SchoolYear
        django_get_or_create = ("start_year",)

    start_year = 2026


class SchoolDistrictFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SchoolDistrict

    name = factory.Sequence(lambda n: f"District {n}")
    consortium = factory.SubFactory(ConsortiumFactory)


class SchoolFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = School

    name = factory.Sequence(lambda n: f"High School {n}")
    district = factory.SubFactory(SchoolDistrictFactory)
    consortium = factory.SelfAttribute("district.consortium")


class CareerClusterFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CareerCluster
        django_get_or_create = ("name",)

    name = "Business Management & Administration"
    field = CareerCluster.Field.BUSINESS


class ArticulationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Articulation

    consortium = factory.SelfAttribute("district.consortium")
    district = factory.SubFactory(SchoolDistrictFactory)
    hs_course_name = factory.Sequence(lambda n: f"Course {n}")
    hs_course_number = factory.Sequence(lambda n: f"HS{n:04d}")
    hs_credits = Decimal("1.0")
    college = factory.SubFactory(CollegeFactory)
    college_course_prefix = "BUS"
    college_course_number = factory.Sequence(lambda n: f"{100 + n}")
    college_course_title = "Introduction to Business"
    college_credits = Decimal("5.0")
    career_cluster = factory.SubFactory(CareerClusterFactory)
    valid_from = factory.SubFactory(SchoolYearFactory, start_year=2024)
    status = Articulation.Status.ACTIVE


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = "Pat"
    last_name = factory.Sequence(lambda n: f"Teacher{n}")
    email = factory.LazyAttribute(lambda user: f"{user.username}@example.org")
    password = factory.django.Password("correct-horse-battery")


class TeacherFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Teacher
        skip_postgeneration_save = True

    user = factory.SubFactory(UserFactory)
    approved_on = dt.date(2024, 8, 15)

    @factory.post_generation
    def schools(self, create, extracted, **kwargs):
        if create and extracted:
            self.schools.add(*extracted)


class ClassFactory(factory.django.DjangoModelFactory):
    """A class; pass ``articulations=[...]`` (default: one new articulation for its school)."""

    class Meta:
        model = Class
        skip_postgeneration_save = True

    school = factory.SubFactory(SchoolFactory)
    teacher = factory.SubFactory(TeacherFactory)
    school_year = factory.SubFactory(SchoolYearFactory)

    @factory.post_generation
    def articulations(self, create, extracted, **kwargs):
        if not create:
            return
        if extracted is None:
            extracted = [ArticulationFactory(district=self.school.district)]
        self.articulations.add(*extracted)
        self.teacher.schools.add(self.school)
