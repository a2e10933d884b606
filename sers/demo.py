"""Demo data for the embedded first run: a catalog and one login per role.

Loading is idempotent: running it again changes nothing that already exists
(a password someone changed stays changed), and adds what a new day needs,
such as the classes and the open window of a new school year. Later
capabilities add their own demo rows here.
"""

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.db import transaction

from articulations.models import (
    Articulation,
    CareerCluster,
    Class,
    College,
    Consortium,
    ConsortiumYear,
    School,
    SchoolDistrict,
    SchoolYear,
    Teacher,
)
from articulations.selectors import current_school_year
from credit_lists.models import Registrar
from district.models import DistrictStaff
from district.services import district_staff_save
from sers import demo_catalog as catalog
from sers.admin_tools import STATE_OFFICE_GROUP
from students.models import Student, graduation_year_for
from students.services import student_insert_with_new_sers_id

DEMO_PASSWORD = "sers-demo-2026"  # noqa: S105 - demo accounts on a local SQLite file only
CLASSES_PER_SCHOOL = 3


class Roles:
    STUDENT = "Students"
    TEACHER = "Teachers"
    REGISTRAR = "College registrars"
    DISTRICT = "District and school staff"
    STAFF = "Consortium staff"
    SECOND_STAFF = "Consortium staff (second consortium)"
    STATE = "State office"


# The apps whose rows consortium staff keep in the admin (scoped to their consortia).
STAFF_APPS = [
    "articulations",
    "students",
    "registration",
    "grading",
    "payments",
    "credit_lists",
    "district",
    "outbox",
]


@dataclass(frozen=True)
class DemoLogin:
    role: str
    username: str
    password: str
    where: str


DEMO_ACCOUNTS = [
    # role group, username, first, last, where to go, is_staff
    (Roles.STUDENT, "student", "Maya", "Lopez", "/accounts/profile/", False),
    (Roles.TEACHER, "teacher", "Daniel", "Kim", "/teacher/", False),
    (Roles.REGISTRAR, "registrar", "Priya", "Shah", "/registrar/", False),
    (Roles.DISTRICT, "district", "Alex", "Morgan", "/district/", False),
    (Roles.STAFF, "staff", "Jordan", "Reyes", "/admin/", True),
    (Roles.SECOND_STAFF, "staff2", "Casey", "Lindqvist", "/admin/", True),
    (Roles.STATE, "state", "Robin", "Ito", "/admin/", True),
]


@transaction.atomic
def demo_load() -> list[DemoLogin]:
    logins = _load_logins()
    _load_catalog()
    return logins


def _demo_user(username: str, first_name: str, last_name: str, *, is_staff: bool = False):
    user, created = get_user_model().objects.get_or_create(
        username=username,
        defaults={
            "first_name": first_name,
            "last_name": last_name,
            "email": f"{username}@example.org",
            "is_staff": is_staff,
        },
    )
    if created:
        user.set_password(DEMO_PASSWORD)
        user.save(update_fields=["password"])
    return user


def _load_logins() -> list[DemoLogin]:
    logins = []
    for role, username, first_name, last_name, where, is_staff in DEMO_ACCOUNTS:
        group, _ = Group.objects.get_or_create(name=role)
        _demo_user(username, first_name, last_name, is_staff=is_staff).groups.add(group)
        logins.append(DemoLogin(role=role, username=username, password=DEMO_PASSWORD, where=where))
    # Consortium staff may change everything of their own consortia (the admin scopes them);
    # the state office group (made by a migration) sees every consortium's.
    staff_permissions = Permission.objects.filter(content_type__app_label__in=STAFF_APPS)
    for role in (Roles.STAFF, Roles.SECOND_STAFF, Roles.STATE):
        Group.objects.get(name=role).permissions.add(*staff_permissions)
    get_user_model().objects.get(username="state").groups.add(
        Group.objects.get_or_create(name=STATE_OFFICE_GROUP)[0]
    )
    return logins


def _load_catalog() -> None:
    colleges = {
        code: College.objects.get_or_create(code=code, defaults={"name": name})[0]
        for name, code in catalog.COLLEGES
    }
    consortium, _ = Consortium.objects.get_or_create(
        name=catalog.CONSORTIUM["name"],
        defaults={
            "host_college": colleges[catalog.CONSORTIUM["host_college_code"]],
            "mailing_address": catalog.CONSORTIUM["mailing_address"],
            "contact_email": catalog.CONSORTIUM["contact_email"],
            "contact_phone": catalog.CONSORTIUM["contact_phone"],
        },
    )
    districts, schools = {}, {}
    for district_name, district_schools in catalog.DISTRICTS.items():
        district, _ = SchoolDistrict.objects.get_or_create(
            name=district_name, defaults={"consortium": consortium}
        )
        districts[district_name] = district
        for school_name, kind in district_schools:
            schools[school_name] = School.objects.get_or_create(
                district=district,
                name=school_name,
                defaults={"kind": kind, "consortium": consortium},
            )[0]
    clusters = {
        name: CareerCluster.objects.get_or_create(name=name, defaults={"field": field})[0]
        for name, field in catalog.CAREER_CLUSTERS
    }
    first_year, _ = SchoolYear.objects.get_or_create(start_year=catalog.FIRST_VALID_YEAR)
    expired_year, _ = SchoolYear.objects.get_or_create(start_year=catalog.EXPIRED_LAST_YEAR)
    for (
        hs_name,
        hs_number,
        district_name,
        cluster,
        hs_credits,
        terms,
        offers,
    ) in catalog.ARTICULATIONS:
        for college_code, prefix, number, title, credits in offers:
            status, valid_to = Articulation.Status.ACTIVE, None
            if (hs_number, college_code) == catalog.EXPIRED:
                status, valid_to = Articulation.Status.EXPIRED, expired_year
            elif (hs_number, college_code) == catalog.PENDING:
                status = Articulation.Status.PENDING
            Articulation.objects.get_or_create(
                consortium=consortium,
                hs_course_number=hs_number,
                college=colleges[college_code],
                college_course_prefix=prefix,
                college_course_number=number,
                valid_from=first_year,
                defaults={
                    "hs_course_name": hs_name,
                    "district": districts[district_name],
                    "hs_credits": Decimal(hs_credits),
                    "college_course_title": title,
                    "college_credits": Decimal(credits),
                    "career_cluster": clusters[cluster],
                    "terms": terms,
                    "valid_to": valid_to,
                    "status": status,
                },
            )
    school_year = current_school_year(consortium.time_zone)
    _open_window_today(consortium, school_year)
    _load_teachers_and_classes(schools, school_year)
    # Last year's classes too, so a prior-year request can be tried.
    last_year, _ = SchoolYear.objects.get_or_create(start_year=school_year.start_year - 1)
    _load_teachers_and_classes(schools, last_year)
    _load_student(schools["Bellevue High School"], school_year)
    _load_registrar(colleges["BC"])
    _load_district_staff(schools["Bellevue High School"].district)
    consortium.staff.add(get_user_model().objects.get(username="staff"))
    second = _load_second_consortium(clusters, first_year, school_year)
    second.staff.add(get_user_model().objects.get(username="staff2"))


def _load_second_consortium(clusters, first_year: SchoolYear, school_year: SchoolYear):
    """Columbia Basin Tech Prep: its own fees, window, office, district, college and classes."""
    data = catalog.SECOND_CONSORTIUM
    college_name, college_code = data["host_college"]
    college, _ = College.objects.get_or_create(code=college_code, defaults={"name": college_name})
    (opens_month, opens_day), (closes_month, closes_day) = data["window"]
    consortium, _ = Consortium.objects.get_or_create(
        name=data["name"],
        defaults={
            "host_college": college,
            "mailing_address": data["mailing_address"],
            "contact_email": data["contact_email"],
            "contact_phone": data["contact_phone"],
            "consortium_fee": Decimal(data["consortium_fee"]),
            "late_fee_per_prior_year": Decimal(data["late_fee_per_prior_year"]),
            "window_opens_month": opens_month,
            "window_opens_day": opens_day,
            "window_closes_month": closes_month,
            "window_closes_day": closes_day,
        },
    )
    district, _ = SchoolDistrict.objects.get_or_create(
        name=data["district"], defaults={"consortium": consortium}
    )
    schools = {
        name: School.objects.get_or_create(
            district=district, name=name, defaults={"kind": kind, "consortium": consortium}
        )[0]
        for name, kind in data["schools"]
    }
    articulations = []
    for hs_name, hs_number, cluster, hs_credits, terms, offer in data["articulations"]:
        prefix, number, title, credits = offer
        articulations.append(
            Articulation.objects.get_or_create(
                consortium=consortium,
                hs_course_number=hs_number,
                college=college,
                college_course_prefix=prefix,
                college_course_number=number,
                valid_from=first_year,
                defaults={
                    "hs_course_name": hs_name,
                    "district": district,
                    "hs_credits": Decimal(hs_credits),
                    "college_course_title": title,
                    "college_credits": Decimal(credits),
                    "career_cluster": clusters[cluster],
                    "terms": terms,
                    "status": Articulation.Status.ACTIVE,
                },
            )[0]
        )
    username, first_name, last_name = data["teacher"]
    user = _demo_user(username, first_name, last_name)
    user.groups.add(Group.objects.get_or_create(name=Roles.TEACHER)[0])
    teacher, _ = Teacher.objects.get_or_create(
        user=user, defaults={"approved_on": school_year.starts_on}
    )
    teacher.schools.add(*schools.values())
    for period, (school, articulation) in enumerate(
        zip(schools.values(), articulations, strict=True), start=1
    ):
        klass, created = Class.objects.get_or_create(
            teacher=teacher,
            school_year=school_year,
            term="",
            period=str(period),
            defaults={"school": school},
        )
        if created:
            klass.articulations.add(articulation)
    return consortium


def _load_student(school: School, school_year: SchoolYear) -> None:
    user = get_user_model().objects.get(username="student")
    if Student.objects.filter(user=user).exists():
        return
    student = Student(
        user=user,
        legal_first_name=user.first_name,
        legal_last_name=user.last_name,
        date_of_birth=dt.date(school_year.start_year - 15, 4, 27),
        expected_graduation_year=graduation_year_for(10, school_year.start_year),
        school=school,
        street="123 Main St",
        city="Bellevue",
        state="WA",
        zip_code="98007",
        phone="425-555-0100",
        email=user.email,
    )
    student_insert_with_new_sers_id(student)


def _open_window_today(consortium: Consortium, school_year: SchoolYear) -> None:
    """Open registration, payment and grading all year, so any day can try the whole journey."""
    ConsortiumYear.objects.get_or_create(
        consortium=consortium,
        school_year=school_year,
        defaults={
            "registration_opens_on": school_year.starts_on,
            "registration_closes_on": school_year.ends_on,
            "grading_deadline": school_year.ends_on,
            "note": "Demo: open all year so the whole journey can be tried on any day.",
        },
    )


def _load_teachers_and_classes(schools: dict[str, School], school_year: SchoolYear) -> None:
    teacher_group, _ = Group.objects.get_or_create(name=Roles.TEACHER)
    offerable = list(
        Articulation.objects.filter(status=Articulation.Status.ACTIVE)
        .filter(Articulation.valid_in_q(school_year.start_year))
        .order_by("hs_course_number", "college__code")
    )
    for username, first_name, last_name, school_names in catalog.TEACHERS:
        user = _demo_user(username, first_name, last_name)
        user.groups.add(teacher_group)
        teacher, _ = Teacher.objects.get_or_create(
            user=user, defaults={"approved_on": school_year.starts_on}
        )
        teacher.schools.add(*(schools[name] for name in school_names))
        period = 0
        for school_name in school_names:
            school = schools[school_name]
            courses: dict[str, list[Articulation]] = {}
            for articulation in offerable:
                if articulation.district_id == school.district_id:
                    courses.setdefault(articulation.hs_course_number, []).append(articulation)
            for articulations in list(courses.values())[:CLASSES_PER_SCHOOL]:
                period += 1
                klass, created = Class.objects.get_or_create(
                    teacher=teacher,
                    school_year=school_year,
                    term="",
                    period=str(period),
                    defaults={"school": school},
                )
                if created:
                    klass.articulations.add(*articulations)


def _load_registrar(college: College) -> None:
    """The demo registrar downloads Bellevue College's credit list."""
    Registrar.objects.get_or_create(
        user=get_user_model().objects.get(username="registrar"), defaults={"college": college}
    )


def _load_district_staff(district: SchoolDistrict) -> None:
    """The demo counselor looks up the students of the demo student's district."""
    user = get_user_model().objects.get(username="district")
    if not DistrictStaff.objects.filter(user=user).exists():
        district_staff_save(user=user, district=district)
