"""Consortium staff set up district staff and read the access log in the admin."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from articulations.tests.factories import UserFactory
from district.models import DistrictStaff, StudentLookup
from district.services import DistrictStaffRefused, district_staff_save, student_lookups_log
from district.tests.helpers import scene, staff_of
from registration.tests.helpers import student_at

pytestmark = pytest.mark.django_db

STAFF_ADD = reverse("admin:district_districtstaff_add")
LOG = reverse("admin:district_studentlookup_changelist")


def test_staff_are_set_up_with_schools_of_their_district_only(admin_client):
    the_scene = scene()
    user = UserFactory(username="counselor")

    refused = admin_client.post(
        STAFF_ADD,
        {"user": user.pk, "district": the_scene.district_a.pk, "schools": [the_scene.t1.pk]},
    )

    assert refused.status_code == 200
    assert (
        "Issaquah High School is not a school of Bellevue School District."
        in refused.content.decode()
    )
    assert not DistrictStaff.objects.exists()

    saved = admin_client.post(
        STAFF_ADD,
        {"user": user.pk, "district": the_scene.district_a.pk, "schools": [the_scene.s2.pk]},
    )

    assert saved.status_code == 302
    staff = DistrictStaff.objects.get()
    assert (staff.user, staff.district, list(staff.schools.all())) == (
        user,
        the_scene.district_a,
        [the_scene.s2],
    )


def test_the_service_refuses_a_school_of_another_district_too():
    the_scene = scene()

    with pytest.raises(DistrictStaffRefused, match="not a school of Bellevue School District"):
        district_staff_save(
            user=UserFactory(), district=the_scene.district_a, schools=[the_scene.s1, the_scene.t1]
        )
    assert not DistrictStaff.objects.exists()


def test_the_staff_list_says_whom_each_sees(admin_client):
    the_scene = scene()
    staff_of(the_scene.district_a, username="whole")
    staff_of(the_scene.district_a, the_scene.s2, username="some")

    page = admin_client.get(reverse("admin:district_districtstaff_changelist")).content.decode()

    assert "Every school of Bellevue School District" in page
    assert "Interlake High School" in page


def logged(the_scene):
    staff = staff_of(the_scene.district_a, username="counselor")
    student = student_at(the_scene.s1, legal_last_name="Lopez")
    other = student_at(the_scene.s2, legal_last_name="Okafor")
    student_lookups_log(user=staff.user, students=[student], page=StudentLookup.Page.RECORD)
    student_lookups_log(
        user=staff.user, students=[student, other], page=StudentLookup.Page.SEARCH, query="o"
    )
    return staff, student, other


def test_the_access_log_is_read_only(admin_client):
    the_scene = scene()
    logged(the_scene)
    lookup = StudentLookup.objects.first()
    change = reverse("admin:district_studentlookup_change", args=[lookup.pk])

    page = admin_client.get(LOG).content.decode()
    assert "delete_selected" not in page
    assert reverse("admin:district_studentlookup_add") not in page
    assert admin_client.get(reverse("admin:district_studentlookup_add")).status_code == 403
    detail = admin_client.get(change).content.decode()
    assert 'name="_save"' not in detail
    assert admin_client.post(change, {"page": "search"}).status_code == 403
    delete = reverse("admin:district_studentlookup_delete", args=[lookup.pk])
    assert admin_client.post(delete, {"post": "yes"}).status_code == 403
    assert StudentLookup.objects.count() == 3


def found_sers_ids(page: str) -> list[str]:
    return re.findall(r'<td class="field-sers_id">([^<]+)<', page)


def test_the_access_log_is_searched_by_sers_id_any_way_and_filtered(admin_client):
    the_scene = scene()
    staff, student, other = logged(the_scene)
    someone = staff_of(the_scene.district_a, username="director")
    student_lookups_log(user=someone.user, students=[other], page=StudentLookup.Page.RECORD)

    typed = student.sers_id.lower().replace("-", " ")
    assert (
        found_sers_ids(admin_client.get(LOG, {"q": typed}).content.decode())
        == [student.sers_id] * 2
    )
    by_user = admin_client.get(LOG, {"user__id__exact": someone.user.pk}).content.decode()
    assert found_sers_ids(by_user) == [other.sers_id]
    by_page = admin_client.get(LOG, {"page__exact": "record"}).content.decode()
    assert sorted(found_sers_ids(by_page)) == sorted([student.sers_id, other.sers_id])
    by_day = admin_client.get(
        LOG, {"looked_up_at__year": "2027", "looked_up_at__month": "2", "looked_up_at__day": "1"}
    ).content.decode()
    assert len(found_sers_ids(by_day)) == 4
    assert "counselor" in admin_client.get(LOG).content.decode()


def log_queries(client) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(LOG).status_code == 200
    return len(queries)


def test_the_access_log_takes_the_same_queries_for_few_or_many_rows(admin_client):
    the_scene = scene()
    staff, student, other = logged(the_scene)
    few = log_queries(admin_client)

    more = [student_at(the_scene.s1) for _ in range(8)]
    student_lookups_log(user=staff.user, students=more, page=StudentLookup.Page.SEARCH)

    assert log_queries(admin_client) == few
