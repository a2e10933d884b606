"""Building blocks for the district pages' tests: two districts, staff, students and their fees."""

import datetime as dt
import uuid
from dataclasses import dataclass

from articulations.models import School, SchoolDistrict
from articulations.selectors import current_terms
from articulations.tests.factories import SchoolDistrictFactory, SchoolFactory, UserFactory
from district.models import DistrictStaff
from district.services import district_staff_save
from payments.models import Payment, Waiver
from payments.services.offline import payment_record_offline
from payments.services.waivers import waiver_request
from payments.tests.helpers import registered_student
from registration.tests.helpers import one_college_class

FEBRUARY = (2027, 2, 1, 10, 0)  # inside 2026-27's window


@dataclass
class Scene:
    """District A (schools S1 and S2, a class of 2026-27 in each) and district B (school T1)."""

    district_a: SchoolDistrict
    s1: School
    s2: School
    district_b: SchoolDistrict
    t1: School

    def registered(self, school: School, **student_fields):
        """A student of ``school`` registered in a 2026-27 class there, and the consortium."""
        course_class = one_college_class(school=school)
        return registered_student(course_class=course_class, **student_fields)


def scene() -> Scene:
    district_a = SchoolDistrictFactory(name="Bellevue School District")
    district_b = SchoolDistrictFactory(name="Issaquah School District")
    return Scene(
        district_a=district_a,
        s1=SchoolFactory(district=district_a, name="Bellevue High School"),
        s2=SchoolFactory(district=district_a, name="Interlake High School"),
        district_b=district_b,
        t1=SchoolFactory(district=district_b, name="Issaquah High School"),
    )


def staff_of(district: SchoolDistrict, *schools: School, username: str = "") -> DistrictStaff:
    user = UserFactory(
        **({"username": username} if username else {}), first_name="Casey", last_name="Nguyen"
    )
    return district_staff_save(user=user, district=district, schools=schools)


def pay(student, consortium, start_year: int = 2026) -> Payment:
    """The year's fee paid in full by check, as staff record it."""
    return payment_record_offline(
        student=student,
        consortium_id=consortium.pk,
        start_year=start_year,
        method=Payment.Method.CHECK,
        payer="Ana Lopez",
        reference=f"CK-{uuid.uuid4().hex[:8]}",
        amount=current_terms(consortium).consortium_fee,
        received_on=dt.date(2027, 2, 1),
        staff_user=UserFactory(username="office", is_staff=True),
    )


def ask_waiver(student, consortium, start_year: int = 2026) -> Waiver:
    """A financial-hardship waiver the student asked for, waiting for staff."""
    return waiver_request(
        student=student,
        consortium_id=consortium.pk,
        start_year=start_year,
        reason=Waiver.Reason.HARDSHIP,
        note="My family cannot pay this year.",
    )
