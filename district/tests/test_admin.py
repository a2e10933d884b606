"""Consortium staff set up district staff and read the access log in the admin.

Adding a staff member makes their login and emails the invitation, as for teachers and
registrars (``invitations``); the change page moves an existing login.
"""

import itertools
import re

import pytest
from django.contrib.admin.models import ADDITION, CHANGE, LogEntry
from django.contrib.auth import get_user_model
from django.contrib.messages import get_messages
from django.core import checks
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from pytest_django.asserts import assertContains

from articulations.tests.factories import UserFactory
from district.models import DistrictStaff, StudentLookup
from district.services import DistrictStaffRefused, district_staff_save, student_lookups_log
from district.tests.helpers import scene, staff_of
from invitations.services import is_activated, user_invite
from outbox.models import OutboxEmail
from registration.tests.helpers import at, student_at

pytestmark = pytest.mark.django_db

STAFF_ADD = reverse("admin:district_districtstaff_add")
STAFF_LIST = reverse("admin:district_districtstaff_changelist")
LOG = reverse("admin:district_studentlookup_changelist")
LINK = re.compile(r"http://\S+/accounts/invitation/[^/\s]+/[^/\s]+/")


def messages_of(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def invited_staff(admin_user, email, district, *schools) -> DistrictStaff:
    """A staff member invited who has not chosen a password yet, as the add page leaves them."""
    user = user_invite(
        email=email, first_name="Casey", last_name="Nguyen", invited_by=admin_user, role="district"
    )
    return district_staff_save(user=user, district=district, schools=schools)


def add_form(the_scene, *schools, email="CNguyen@bsd405.org"):
    return {
        "first_name": "Casey",
        "last_name": "Nguyen",
        "email": email,
        "district": the_scene.district_a.pk,
        "schools": [school.pk for school in schools],
    }


def test_the_add_page_asks_for_the_person_their_district_and_schools(admin_client):
    page = admin_client.get(STAFF_ADD)

    form = page.context["adminform"].form
    assert list(form.fields) == ["first_name", "last_name", "email", "district", "schools"]
    assert not form.fields["schools"].required
    # The district and schools are picked by typing, as every foreign key in this admin.
    assertContains(page, 'data-field-name="district"')
    assertContains(page, 'data-field-name="schools"')
    assertContains(page, "of every school of the district when none is chosen.")


def test_adding_staff_makes_the_login_and_emails_the_invitation(admin_client, admin_user):
    the_scene = scene()

    response = admin_client.post(STAFF_ADD, add_form(the_scene, the_scene.s2), follow=True)

    assert response.redirect_chain[-1][0] == STAFF_LIST
    staff = DistrictStaff.objects.select_related("user").get()
    assert (staff.district, list(staff.schools.all())) == (the_scene.district_a, [the_scene.s2])
    assert staff.user.username == "cnguyen@bsd405.org"
    assert staff.user.get_full_name() == "Casey Nguyen"
    assert not is_activated(staff.user)
    email = OutboxEmail.objects.get(kind="invitation")
    assert email.recipient == "CNguyen@bsd405.org"
    assert "made you a SERS account as district or school staff" in email.body_text
    assert "look up your schools' students" in email.body_text
    assert "/accounts/invitation/" in email.body_text
    assert email.about == "district cnguyen@bsd405.org"
    assert messages_of(response)[0] == (
        "SERS emailed CNguyen@bsd405.org an invitation to choose a password. "
        "Until they do, they cannot log in."
    )
    assert LogEntry.objects.filter(
        object_id=str(staff.pk), action_flag=ADDITION, user=admin_user
    ).exists()
    assertContains(response, "Interlake High School")


def test_staff_added_without_schools_see_the_whole_district(admin_client):
    the_scene = scene()

    response = admin_client.post(STAFF_ADD, add_form(the_scene), follow=True)

    staff = DistrictStaff.objects.get()
    assert (staff.district, list(staff.schools.all())) == (the_scene.district_a, [])
    assertContains(response, "Every school of Bellevue School District")


def test_the_add_page_refuses_a_school_of_another_district_and_invites_nobody(admin_client):
    the_scene = scene()

    refused = admin_client.post(STAFF_ADD, add_form(the_scene, the_scene.s1, the_scene.t1))

    assert refused.status_code == 200
    assert refused.context["adminform"].form.errors == {
        "schools": [
            "Issaquah High School is not a school of Bellevue School District. Choose schools "
            "of Bellevue School District, or none for the whole district."
        ]
    }
    assert not DistrictStaff.objects.exists()
    assert not get_user_model().objects.filter(username="cnguyen@bsd405.org").exists()
    assert not OutboxEmail.objects.exists()


def test_the_add_page_refuses_an_email_another_login_uses(admin_client):
    the_scene = scene()
    UserFactory(username="cnguyen@bsd405.org")

    refused = admin_client.post(STAFF_ADD, add_form(the_scene))

    assert refused.status_code == 200
    assert list(refused.context["adminform"].form.errors) == ["email"]
    assert not DistrictStaff.objects.exists()
    assert not OutboxEmail.objects.exists()


def test_the_change_page_moves_a_login_to_schools_of_its_district_only(admin_client):
    the_scene = scene()
    staff = staff_of(the_scene.district_a, username="counselor")
    change = reverse("admin:district_districtstaff_change", args=[staff.pk])

    assert list(admin_client.get(change).context["adminform"].form.fields) == [
        "user",
        "district",
        "schools",
    ]
    fields = {"user": staff.user.pk, "district": the_scene.district_a.pk}
    refused = admin_client.post(change, {**fields, "schools": [the_scene.t1.pk]})

    assert refused.status_code == 200
    assert (
        "Issaquah High School is not a school of Bellevue School District."
        in refused.content.decode()
    )
    assert list(staff.schools.all()) == []

    saved = admin_client.post(change, {**fields, "schools": [the_scene.s2.pk]})

    assert saved.status_code == 302
    assert list(staff.schools.all()) == [the_scene.s2]
    assert not OutboxEmail.objects.exists()  # changing a staff member invites nobody


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


def test_the_staff_list_says_who_has_activated_and_filters_by_it(admin_client, admin_user):
    the_scene = scene()
    waiting = invited_staff(admin_user, "waiting@bsd405.org", the_scene.district_a)
    active = staff_of(the_scene.district_a, username="counselor")

    listed = admin_client.get(STAFF_LIST)

    assertContains(listed, '<td class="field-activated">no</td>', count=1)
    assertContains(listed, '<td class="field-activated">yes</td>', count=1)
    assert list(admin_client.get(STAFF_LIST, {"activated": "no"}).context["cl"].result_list) == [
        waiting
    ]
    assert list(admin_client.get(STAFF_LIST, {"activated": "yes"}).context["cl"].result_list) == [
        active
    ]


def test_resend_mails_only_those_who_have_not_activated_and_says_how_many(admin_client, admin_user):
    the_scene = scene()
    waiting = invited_staff(admin_user, "waiting@bsd405.org", the_scene.district_a, the_scene.s1)
    active = staff_of(the_scene.district_a, username="counselor")

    with at(2027, 2, 2, 10, 0):  # a day later: a new link
        response = admin_client.post(
            STAFF_LIST,
            {"action": "resend_invitation", "_selected_action": [waiting.pk, active.pk]},
            follow=True,
        )

    assert messages_of(response) == [
        "Sent the invitation again to 1 district or school staff member. 1 has already chosen "
        "a password and got nothing."
    ]
    sent = OutboxEmail.objects.filter(kind="invitation").order_by("pk")
    assert [email.recipient for email in sent] == ["waiting@bsd405.org"] * 2
    first, again = (LINK.search(email.body_text).group(0) for email in sent)
    assert first != again  # a fresh link; the first one keeps working until it expires
    assert list(
        LogEntry.objects.filter(action_flag=CHANGE).values_list("object_id", "change_message")
    ) == [(str(waiting.pk), "Sent the invitation again.")]


def test_resend_to_staff_who_all_chose_a_password_sends_nothing(admin_client):
    the_scene = scene()
    active = staff_of(the_scene.district_a, username="counselor")

    response = admin_client.post(
        STAFF_LIST,
        {"action": "resend_invitation", "_selected_action": [active.pk]},
        follow=True,
    )

    assert messages_of(response) == [
        "Sent the invitation again to 0 district and school staff. 1 has already chosen a "
        "password and got nothing."
    ]
    assert not OutboxEmail.objects.exists()


def staff_list_queries(client) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(STAFF_LIST)
    assert response.status_code == 200
    return len(queries)


def test_the_staff_list_takes_the_same_queries_for_few_or_many_rows(admin_client, admin_user):
    the_scene = scene()
    numbers = itertools.count()

    def add_two():
        # Invited or with a password; the whole district or some schools.
        n = next(numbers)
        invited_staff(admin_user, f"invited{n}@bsd405.org", the_scene.district_a, the_scene.s1)
        staff_of(the_scene.district_b, username=f"active{n}")

    add_two()
    admin_client.get(STAFF_LIST)  # the session and the like, once
    few = staff_list_queries(admin_client)
    for _ in range(4):
        add_two()

    assert staff_list_queries(admin_client) == few
    assert admin_client.get(STAFF_LIST).context["cl"].result_count == 10


def test_the_staff_admin_passes_the_admin_checks():
    problems = [
        problem
        for problem in checks.run_checks(tags=[checks.Tags.admin])
        if getattr(problem.obj, "__module__", "").startswith(("district", "invitations"))
    ]
    assert problems == []


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
