"""The balance and state of a school year: fees − payments − waivers."""

import datetime as dt
import threading
from decimal import Decimal

import pytest
from django.db import connection

from articulations.models import ConsortiumYear
from grading.models import Credit
from grading.services.teaching import RosterEntry, roster_save
from payments.models import Payment, StudentYear, Waiver
from payments.selectors import (
    FeeState,
    fee_states,
    settled_years,
    year_account,
    year_accounts,
)
from payments.services.checkout import card_payment_refusal
from payments.services.ledger import PaymentRefused, student_year_get_or_create
from payments.services.offline import payment_record_offline
from payments.services.waivers import (
    waiver_deny,
    waiver_grant,
    waiver_request,
    waiver_request_refusal,
)
from payments.tests.helpers import FEBRUARY, registered_student
from registration.models import Registration
from registration.services import registration_withdraw
from registration.tests.helpers import at, one_college_class

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def february():
    with at(*FEBRUARY):
        yield


def record_check(student, consortium, amount="50.00", reference="1001", staff=None, year=2026):
    return payment_record_offline(
        student=student,
        consortium_id=consortium.pk,
        start_year=year,
        method=Payment.Method.CHECK,
        payer="Ana Lopez",
        reference=reference,
        amount=Decimal(amount),
        received_on=dt.date(2027, 2, 1),
        staff_user=staff,
    )


def test_a_registered_year_owes_the_consortium_fee_of_its_consortium_and_year():
    student, consortium = registered_student()
    ConsortiumYear.objects.create(
        consortium=consortium, school_year_id=2026, consortium_fee=Decimal("45.00")
    )

    account = year_account(student, consortium.pk, 2026)

    assert [charge.amount for charge in account.charges] == [Decimal("45.00")]
    assert account.balance == Decimal("45.00")
    assert account.state == FeeState.UNPAID


def test_one_fee_covers_every_class_of_the_year():
    student, consortium = registered_student()
    second = one_college_class(school=student.school)
    from registration.services import registration_create

    registration_create(student=student, course_class=second)

    assert year_account(student, consortium.pk, 2026).total_charged == Decimal("50.00")


def test_paying_the_fee_makes_the_year_paid_and_a_second_payment_overpaid(admin_user):
    student, consortium = registered_student()
    record_check(student, consortium, staff=admin_user)
    assert year_account(student, consortium.pk, 2026).state == FeeState.PAID
    assert 2026 in settled_years(student)

    extra = record_check(student, consortium, reference="1002", staff=admin_user)

    account = year_account(student, consortium.pk, 2026)
    assert account.state == FeeState.OVERPAID
    assert account.balance == Decimal("-50.00")
    assert extra.is_overpayment
    assert extra.student_year.needs_attention


def test_withdrawing_keeps_the_fee_it_is_non_refundable(admin_user):
    student, consortium = registered_student()
    record_check(student, consortium, staff=admin_user)

    registration_withdraw(registration=Registration.objects.get(student=student))

    account = year_account(student, consortium.pk, 2026)
    assert account.total_charged == Decimal("50.00")
    assert account.state == FeeState.PAID


def test_the_late_fee_is_charged_once_per_prior_year_however_many_classes(admin_user):
    student, consortium = registered_student(expected_graduation_year=2028)
    for _ in range(2):
        late_class = one_college_class(start_year=2025, school=student.school)
        Registration.objects.create(
            student=student,
            course_class=late_class,
            articulation=late_class.articulations.get(),
            school_year=late_class.school_year,
            is_late=True,
        )

    prior = year_account(student, consortium.pk, 2025)

    assert [charge.amount for charge in prior.charges] == [Decimal("50.00"), Decimal("15.00")]
    assert prior.total_charged == Decimal("65.00")
    assert year_account(student, consortium.pk, 2026).total_charged == Decimal("50.00")


def test_a_granted_waiver_brings_the_year_to_zero(admin_user):
    student, consortium = registered_student(free_reduced_lunch=True)
    waiver = waiver_request(
        student=student,
        consortium_id=consortium.pk,
        start_year=2026,
        reason=Waiver.Reason.FREE_REDUCED_LUNCH,
    )

    assert waiver_grant(waiver=waiver, staff_user=admin_user)

    account = year_account(student, consortium.pk, 2026)
    assert account.state == FeeState.WAIVED
    assert account.balance == Decimal("0.00")
    assert 2026 in settled_years(student)
    assert card_payment_refusal(account) == "Nothing to pay for 2026-27: waived."


def test_pay_is_refused_before_any_registration_after_the_window_and_at_zero(admin_user):
    student, consortium = registered_student()
    account = year_account(student, consortium.pk, 2026)
    assert card_payment_refusal(account) is None

    with at(2027, 6, 16, 9, 0):
        assert card_payment_refusal(account).startswith(
            "The payment deadline for 2026-27 was June 15, 2027."
        )

    registration_withdraw(registration=Registration.objects.get(student=student))
    assert card_payment_refusal(year_account(student, consortium.pk, 2026)).startswith(
        "Register a class for 2026-27 before you pay."
    )


def test_the_same_check_number_cannot_be_entered_twice_for_one_student_year(admin_user):
    student, consortium = registered_student()
    record_check(student, consortium, amount="25.00", reference="777", staff=admin_user)

    with pytest.raises(PaymentRefused, match="Check 777 is already recorded"):
        record_check(student, consortium, amount="25.00", reference="777", staff=admin_user)

    assert Payment.objects.count() == 1
    assert year_account(student, consortium.pk, 2026).balance == Decimal("25.00")


def test_a_check_mails_a_receipt(admin_user, django_capture_on_commit_callbacks, mailoutbox):
    student, consortium = registered_student()

    with django_capture_on_commit_callbacks(execute=True):
        payment = record_check(student, consortium, staff=admin_user)

    receipts = [message for message in mailoutbox if payment.receipt_number in message.subject]
    assert len(receipts) == 1
    assert student.sers_id in receipts[0].body
    assert "$50.00" in receipts[0].body
    assert "non-refundable" in receipts[0].body


def test_a_hardship_request_needs_a_note_and_waits_for_staff():
    student, consortium = registered_student()

    with pytest.raises(PaymentRefused, match="situation"):
        waiver_request(
            student=student,
            consortium_id=consortium.pk,
            start_year=2026,
            reason=Waiver.Reason.HARDSHIP,
        )
    waiver = waiver_request(
        student=student,
        consortium_id=consortium.pk,
        start_year=2026,
        reason=Waiver.Reason.HARDSHIP,
        note="Job lost.",
    )

    assert waiver.status == Waiver.Status.REQUESTED
    assert year_account(student, consortium.pk, 2026).state == FeeState.UNPAID


def test_the_fees_page_queries_do_not_grow_with_years(
    client, django_assert_max_num_queries, admin_user
):
    student, consortium = registered_student(expected_graduation_year=2028)
    record_check(student, consortium, amount="5.00", reference="100", staff=admin_user)
    client.force_login(student.user)
    with django_assert_max_num_queries(60) as few:
        client.get("/payments/")
    late_class = one_college_class(start_year=2025, school=student.school)
    Registration.objects.create(
        student=student,
        course_class=late_class,
        articulation=late_class.articulations.get(),
        school_year=late_class.school_year,
        is_late=True,
    )
    for number in range(3):
        record_check(student, consortium, amount="10.00", reference=f"20{number}", staff=admin_user)

    with django_assert_max_num_queries(len(few.captured_queries)):
        page = client.get("/payments/").content.decode()
    assert page.count('data-testid="fee-year"') == 2


@pytest.mark.django_db(transaction=True)
def test_student_year_accounts_are_made_once_under_races():
    student, consortium = registered_student()
    racers = 6
    start = threading.Barrier(racers)
    made, errors = [], []

    def make():
        try:
            start.wait()
            made.append(
                student_year_get_or_create(
                    student=student, consortium_id=consortium.pk, start_year=2026
                )
            )
        except Exception as error:
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=make) for _ in range(racers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    assert len(made) == racers
    assert StudentYear.objects.filter(student=student, school_year_id=2026).count() == 1
    assert {student_year.pk for student_year in made} == {StudentYear.objects.get().pk}
    assert len(year_accounts(student)) == 1


def test_a_waiver_granted_after_the_year_was_paid_flags_the_overpayment(admin_user):
    student, consortium = registered_student()
    waiver = waiver_request(
        student=student,
        consortium_id=consortium.pk,
        start_year=2026,
        reason=Waiver.Reason.HARDSHIP,
        note="Job lost.",
    )
    payment = record_check(student, consortium, staff=admin_user)  # the family paid meanwhile
    assert not payment.student_year.needs_attention

    assert waiver_grant(waiver=waiver, staff_user=admin_user)

    account = year_account(student, consortium.pk, 2026)
    assert account.state == FeeState.OVERPAID
    assert account.balance == Decimal("-50.00")
    student_year = account.student_year
    student_year.refresh_from_db()
    assert student_year.needs_attention
    assert "waiver" in student_year.attention_note
    assert "$50.00" in student_year.attention_note


def test_a_denied_waiver_raises_no_flag(admin_user):
    student, consortium = registered_student()
    waiver = waiver_request(
        student=student,
        consortium_id=consortium.pk,
        start_year=2026,
        reason=Waiver.Reason.HARDSHIP,
        note="Job lost.",
    )

    assert waiver_deny(waiver=waiver, staff_user=admin_user)

    waiver.student_year.refresh_from_db()
    assert not waiver.student_year.needs_attention


def test_no_waiver_can_be_asked_for_a_year_already_paid_or_already_asked(admin_user):
    student, consortium = registered_student()
    account = year_account(student, consortium.pk, 2026)
    assert waiver_request_refusal(account) is None
    ask = dict(
        student=student,
        consortium_id=consortium.pk,
        start_year=2026,
        reason=Waiver.Reason.HARDSHIP,
        note="Job lost.",
    )
    waiver_request(**ask)
    assert waiver_request_refusal(year_account(student, consortium.pk, 2026)) == (
        "You already asked for a fee waiver for 2026-27. We will email you our decision."
    )

    paid, paid_consortium = registered_student()
    record_check(paid, paid_consortium, staff=admin_user)
    assert waiver_request_refusal(year_account(paid, paid_consortium.pk, 2026)) == (
        "Nothing to waive for 2026-27: paid."
    )
    with pytest.raises(PaymentRefused, match="Nothing to waive for 2026-27: paid."):
        waiver_request(**{**ask, "student": paid, "consortium_id": paid_consortium.pk})
    assert not Waiver.objects.filter(student_year__student=paid).exists()


def test_a_zero_fee_year_is_settled_and_the_page_says_nothing_to_pay(client):
    student, consortium = registered_student()
    ConsortiumYear.objects.create(
        consortium=consortium, school_year_id=2026, consortium_fee=Decimal("0.00")
    )

    account = year_account(student, consortium.pk, 2026)
    assert account.balance == Decimal("0.00")
    assert account.is_settled
    assert 2026 in settled_years(student)
    assert settled_years(student) == {2026}
    assert fee_states([student], 2026) == {student.pk: FeeState.PAID}
    client.force_login(student.user)
    page = client.get("/payments/").content.decode()
    assert "Nothing to pay for 2026-27." in page
    assert "Unpaid" not in page
    assert "by card" not in page
    assert "Ask for a fee waiver" not in page


def test_a_class_withdrawn_before_paying_leaves_no_debt_and_does_not_block_the_year(
    client, admin_user
):
    student, consortium = registered_student()
    other_class = one_college_class()  # another school, another consortium
    other = other_class.school.consortium
    assert other.pk != consortium.pk
    withdrawn = Registration.objects.create(
        student=student,
        course_class=other_class,
        articulation=other_class.articulations.get(),
        school_year=other_class.school_year,
    )
    assert 2026 not in settled_years(student)  # both accounts owe

    registration_withdraw(registration=withdrawn)
    record_check(student, consortium, staff=admin_user)

    assert year_account(student, other.pk, 2026).total_charged == Decimal("0.00")
    assert 2026 in settled_years(student)
    assert settled_years(student) == {2026}
    registration = Registration.objects.get(student=student, status=Registration.Status.REGISTERED)
    roster_save(
        teacher=registration.course_class.teacher,
        course_class=registration.course_class,
        entries=[RosterEntry(registration.pk, Registration.Enrollment.CONFIRMED, "A")],
    )
    assert Credit.objects.filter(registration=registration).exists()
    client.force_login(student.user)
    page = client.get("/payments/").content.decode()
    assert "Nothing to pay for 2026-27: you have no classes that year." in page
    assert page.count("Pay $50.00 by card") == 0
