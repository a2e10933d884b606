"""Staff work on fees in the admin: checks recorded, payments totalled, waivers decided."""

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.contrib.admin.models import ADDITION, LogEntry
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from articulations.tests.factories import (
    ClassFactory,
    ConsortiumFactory,
    SchoolYearFactory,
    UserFactory,
)
from payments.models import (
    CheckoutSession,
    Payment,
    StripeEvent,
    StripeWebhookFailure,
    StudentYear,
    Waiver,
)
from payments.selectors import FeeState, year_account
from payments.services.offline import payment_record_offline
from payments.services.waivers import waiver_grant, waiver_request
from registration.models import Registration
from registration.services import registration_create
from registration.tests.factories import StudentFactory
from registration.tests.helpers import at, one_college_class, student_at

pytestmark = pytest.mark.django_db

PAYMENTS = "/admin/payments/payment/"
RECORD = f"{PAYMENTS}add/"
WAIVERS = "/admin/payments/waiver/"
OPEN_FREE_LUNCH = f"{WAIVERS}open-free-lunch/"
FEE_YEARS = "/admin/payments/studentyear/"
CHECKOUTS = "/admin/payments/checkoutsession/"
EVENTS = "/admin/payments/stripeevent/"
WEBHOOK_FAILURES = "/admin/payments/stripewebhookfailure/"


# --- Building the data -------------------------------------------------------------------------


def registered_student(**student_fields):
    """A student who registered a 2026-27 class, on a day its payment window is open."""
    with at(2027, 2, 1, 10, 0):
        course_class = one_college_class()
        student = student_at(course_class.school, **student_fields)
        registration_create(student=student, course_class=course_class)
    return student


def consortium_of(student):
    return student.school.consortium


def account(student, start_year=2026):
    return year_account(student, consortium_of(student).pk, start_year)


def check_paid(student, staff_user, *, reference="1001", amount="50.00"):
    """A check recorded through the service, as the admin form does."""
    return payment_record_offline(
        student=student,
        consortium_id=consortium_of(student).pk,
        start_year=2026,
        method=Payment.Method.CHECK,
        payer="Ana Lopez",
        reference=reference,
        amount=Decimal(amount),
        received_on=received_day(),
        staff_user=staff_user,
    )


def received_day():
    return timezone.localdate() - dt.timedelta(days=3)


def make_payment(*, start_year=2026, method=Payment.Method.CHECK, amount="50.00", student=None):
    """A payment row made through the ORM, as the services leave one (for lists and totals)."""
    student = student or StudentFactory()
    student_year, _ = StudentYear.objects.get_or_create(
        student=student,
        consortium=ConsortiumFactory(),
        school_year=SchoolYearFactory(start_year=start_year),
    )
    fields = {}
    if method == Payment.Method.CARD:
        fields["stripe_checkout_session_id"] = (
            f"cs_test_{student_year.pk}_{Payment.objects.count()}"
        )
        fields["reference"] = f"pi_test_{student_year.pk}_{Payment.objects.count()}"
    else:
        fields["reference"] = f"{1000 + Payment.objects.count()}"
        fields["payer"] = "Ana Lopez"
        fields["recorded_by"] = UserFactory(is_staff=True)
    return Payment.objects.create(
        student_year=student_year,
        method=method,
        amount=Decimal(amount),
        received_on=received_day(),
        **fields,
    )


def flagged_year(*, with_registration=True):
    """A fee year on the needs-attention list: a registration, one payment, one waiver."""
    course_class = ClassFactory(school_year=SchoolYearFactory(start_year=2026))
    student = StudentFactory(school=course_class.school, expected_graduation_year=2029)
    if with_registration:
        Registration.objects.create(
            student=student,
            course_class=course_class,
            articulation=course_class.articulations.get(),
            school_year=course_class.school_year,
        )
    student_year = StudentYear.objects.create(
        student=student,
        consortium=course_class.school.consortium,
        school_year=course_class.school_year,
        needs_attention=True,
        attention_note="Overpaid: a check arrived for a year already settled.",
    )
    Payment.objects.create(
        student_year=student_year,
        method=Payment.Method.CHECK,
        amount=Decimal("50.00"),
        reference="77",
        received_on=received_day(),
    )
    Waiver.objects.create(
        student_year=student_year, reason=Waiver.Reason.HARDSHIP, note="Lost my job."
    )
    return student_year


def form_data(student, **fields):
    return {
        "sers_id": student.sers_id,
        "school_year": "2026",
        "consortium": "",
        "method": Payment.Method.CHECK,
        "payer": "Ana Lopez",
        "reference": "1001",
        "amount": "50.00",
        "received_on": received_day().strftime("%m/%d/%Y"),
        "_save": "Record payment",
        **fields,
    }


def typed_forms(sers_id):
    """Three ways staff type an ID read off a check stub or out over the phone."""
    return [sers_id.lower().replace("-", " "), sers_id.replace("-", ""), sers_id.lower()]


def listed(client, url, **params):
    response = client.get(url, params)
    assert response.status_code == 200
    return list(response.context["cl"].result_list)


def run_action(client, url, action, objects, **answer):
    """Pick an action on the list, then answer its one confirmation page; the page after."""
    selected = [obj.pk for obj in objects]
    page = client.post(url, {"action": action, "_selected_action": selected, "index": 0})
    assert page.status_code == 200
    assert "admin/action_confirmation.html" in [t.name for t in page.templates]
    data = {
        "action": action,
        "_selected_action": selected,
        "select_across": "0",
        "confirmed": "yes",
        **answer,
    }
    return client.post(url, data, follow=True)


def shown_messages(response):
    return [str(message) for message in response.context["messages"]]


def text(response):
    return response.content.decode()


# --- Recording a check or money order ----------------------------------------------------------


def test_a_check_typed_with_a_loose_sers_id_is_recorded_and_the_year_is_paid(
    admin_client, admin_user, django_capture_on_commit_callbacks
):
    student = registered_student()
    loosely = student.sers_id.lower().replace("-", " ")

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            RECORD, form_data(student, sers_id=loosely, reference=" 1001 "), follow=True
        )

    payment = Payment.objects.get()
    assert response.redirect_chain[-1][0] == f"{PAYMENTS}{payment.pk}/change/"
    assert payment.student_year.student == student
    assert payment.student_year.consortium == consortium_of(student)
    assert payment.student_year.school_year_id == 2026
    assert (payment.method, payment.amount, payment.reference) == (
        "check",
        Decimal("50.00"),
        "1001",
    )
    assert (payment.payer, payment.received_on) == ("Ana Lopez", received_day())
    assert payment.recorded_by == admin_user
    assert not payment.is_overpayment
    year = account(student)
    assert year.state == FeeState.PAID
    assert year.balance == Decimal("0.00")
    [message] = shown_messages(response)
    assert payment.receipt_number in message
    assert "2026-27 is now paid, balance $0.00" in message
    assert "$50.00" in message
    # One receipt, to the student.
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [student.email]
    assert payment.receipt_number in mail.outbox[0].subject
    # Who recorded it, and when: the admin log and the payment's history.
    assert LogEntry.objects.get(object_id=str(payment.pk)).action_flag == ADDITION
    assert payment.history.get().history_user == admin_user


def test_a_money_order_with_a_dollar_sign_is_recorded(admin_client):
    student = registered_student()

    response = admin_client.post(
        RECORD,
        form_data(
            student,
            method=Payment.Method.MONEY_ORDER,
            amount="$25",
            reference="MO-9",
            _addanother="Record and add another",
        ),
    )

    assert response["Location"] == RECORD

    payment = Payment.objects.get()
    assert (payment.method, payment.amount) == (Payment.Method.MONEY_ORDER, Decimal("25.00"))
    assert account(student).balance == Decimal("25.00")
    assert account(student).state == FeeState.UNPAID


def test_the_same_check_number_twice_is_refused_on_the_number_field(
    admin_client, admin_user, django_capture_on_commit_callbacks
):
    student = registered_student()
    check_paid(student, admin_user, reference="1001")

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(RECORD, form_data(student, reference="1001", amount="10"))

    assert response.status_code == 200
    errors = response.context["form"].errors
    assert list(errors) == ["reference"]
    assert (
        f"Check 1001 is already recorded for {student.sers_id} in 2026-27" in errors["reference"][0]
    )
    assert Payment.objects.count() == 1
    assert mail.outbox == []


def test_an_unknown_sers_id_is_a_clear_error(admin_client):
    registered_student()

    response = admin_client.post(RECORD, form_data(StudentFactory.build(sers_id="TP3-99-0001")))
    malformed = admin_client.post(RECORD, form_data(StudentFactory.build(sers_id="not an id")))

    assert response.context["form"].errors["sers_id"] == [
        "No student has the SERS ID TP3-99-0001. Check it against the check or its stub, or "
        "find the student under Students by name."
    ]
    assert malformed.context["form"].errors["sers_id"] == ["Enter a SERS ID like TP3-07-4412."]
    assert Payment.objects.count() == 0


@pytest.mark.parametrize("amount", ["0", "0.00", "-5"])
def test_an_amount_of_zero_or_less_is_refused(admin_client, amount):
    student = registered_student()

    response = admin_client.post(RECORD, form_data(student, amount=amount))

    assert response.context["form"].errors == {"amount": ["Enter an amount above $0.00."]}
    assert Payment.objects.count() == 0


def test_a_date_in_the_future_is_refused(admin_client):
    student = registered_student()
    tomorrow = timezone.localdate() + dt.timedelta(days=1)

    response = admin_client.post(
        RECORD, form_data(student, received_on=tomorrow.strftime("%m/%d/%Y"))
    )

    assert list(response.context["form"].errors) == ["received_on"]
    assert Payment.objects.count() == 0


def test_a_student_without_classes_that_year_needs_the_consortium_chosen(admin_client):
    student = registered_student()

    SchoolYearFactory(start_year=2025)

    response = admin_client.post(RECORD, form_data(student, school_year="2025"))

    assert (
        "has no classes registered in 2025-26" in response.context["form"].errors["consortium"][0]
    )
    assert Payment.objects.count() == 0

    chosen = admin_client.post(
        RECORD, form_data(student, school_year="2025", consortium=consortium_of(student).pk)
    )

    assert chosen.status_code == 302
    payment = Payment.objects.get()
    assert payment.student_year.school_year_id == 2025
    # Nothing was owed that year: kept, and flagged for staff.
    assert payment.student_year.needs_attention


def test_a_check_for_a_year_already_paid_is_kept_and_flagged(admin_client, admin_user):
    student = registered_student()
    check_paid(student, admin_user, reference="1001")

    response = admin_client.post(RECORD, form_data(student, reference="1002"), follow=True)

    second = Payment.objects.get(reference="1002")
    assert second.is_overpayment
    assert second.student_year.needs_attention
    assert account(student).state == FeeState.OVERPAID
    assert any("kept and flagged as an overpayment" in m for m in shown_messages(response))


def test_a_check_for_more_than_the_year_owes_is_marked_flagged_and_warned_once(
    admin_client, admin_user
):
    student = registered_student()
    check_paid(student, admin_user, reference="1000", amount="20.00")  # $30.00 left
    flagged_year = StudentYear.objects.get()
    StudentYear.objects.filter(pk=flagged_year.pk).update(
        needs_attention=True, attention_note="A bank payment failed."
    )

    exact = admin_client.post(
        RECORD, form_data(student, reference="1001", amount="30.00"), follow=True
    )
    assert not Payment.objects.get(reference="1001").is_overpayment
    # Already on the list for another reason: no overpayment warning for an exact payment.
    assert not any("overpayment" in m for m in shown_messages(exact))

    other = registered_student()
    over = admin_client.post(
        RECORD, form_data(other, reference="2001", amount="60.00"), follow=True
    )

    payment = Payment.objects.get(reference="2001")
    assert payment.is_overpayment  # recorded by the service, read by the admin
    assert payment.student_year.needs_attention
    assert "$10.00 more than the year owed" in payment.student_year.attention_note
    assert account(other).state == FeeState.OVERPAID
    assert any("kept and flagged as an overpayment" in m for m in shown_messages(over))


def test_the_record_page_opens_with_this_year_and_today(admin_client):
    SchoolYearFactory(start_year=2026)

    page = admin_client.get(RECORD)

    assert page.status_code == 200
    assert "Record a check or money order" in text(page)
    form = page.context["form"]
    assert form["received_on"].value() == timezone.localdate()
    assert "Record a check or money order" in text(admin_client.get(PAYMENTS))


# --- The payment list --------------------------------------------------------------------------


def test_the_list_shows_what_staff_decide_on(admin_client):
    payment = make_payment(amount="1050.00")
    student = payment.student_year.student

    page = text(admin_client.get(PAYMENTS))

    for shown in [
        payment.receipt_number,
        student.sers_id,
        student.full_name,
        "2026-27",
        payment.student_year.consortium.name,
        "Check",
        "$1,050.00",
        payment.reference,
        payment.recorded_by.get_full_name(),
    ]:
        assert shown in page


def test_the_totals_show_count_and_sum_per_year_and_method_of_the_filtered_rows(admin_client):
    make_payment(start_year=2026, method=Payment.Method.CHECK, amount="50.00")
    make_payment(start_year=2026, method=Payment.Method.CHECK, amount="50.00")
    make_payment(start_year=2026, method=Payment.Method.MONEY_ORDER, amount="25.00")
    make_payment(start_year=2026, method=Payment.Method.CARD, amount="50.00")
    make_payment(start_year=2025, method=Payment.Method.CHECK, amount="50.00")

    response = admin_client.get(PAYMENTS)

    rows = [(r["year"], r["method"], r["count"], r["total"]) for r in response.context["totals"]]
    assert rows == [
        ("2026-27", "Card", 1, "$50.00"),
        ("2026-27", "Check", 2, "$100.00"),
        ("2026-27", "Money order", 1, "$25.00"),
        ("2025-26", "Check", 1, "$50.00"),
        ("All years", "All methods", 5, "$225.00"),
    ]
    assert 'id="payment-totals"' in text(response)
    assert "$225.00" in text(response)

    checks = admin_client.get(PAYMENTS, {"method__exact": "check"}).context["totals"]
    assert [(r["year"], r["count"], r["total"]) for r in checks] == [
        ("2026-27", 2, "$100.00"),
        ("2025-26", 1, "$50.00"),
        ("All years", 3, "$150.00"),
    ]
    one_year = admin_client.get(
        PAYMENTS, {"student_year__school_year__start_year__exact": "2025"}
    ).context["totals"]
    assert [(r["year"], r["method"], r["count"], r["total"]) for r in one_year] == [
        ("2025-26", "Check", 1, "$50.00")
    ]


def test_the_list_makes_the_same_queries_for_2_and_12_payments(admin_client):
    methods = [Payment.Method.CHECK, Payment.Method.MONEY_ORDER, Payment.Method.CARD]
    for index in range(2):
        make_payment(method=methods[index % 3])
    admin_client.get(PAYMENTS)  # warm caches that a first request fills
    with CaptureQueriesContext(connection) as few:
        assert admin_client.get(PAYMENTS).status_code == 200
    for index in range(10):
        make_payment(method=methods[index % 3], start_year=2025 + index % 2)

    with CaptureQueriesContext(connection) as many:
        response = admin_client.get(PAYMENTS)

    assert response.context["cl"].result_count == 12
    assert len(many.captured_queries) == len(few.captured_queries)


def test_payments_are_never_edited_or_deleted(admin_client):
    payment = make_payment()
    change = f"{PAYMENTS}{payment.pk}/change/"

    page = admin_client.get(change)
    assert page.status_code == 200
    assert payment.receipt_number in text(page)
    assert 'name="_save"' not in text(page)
    assert "deletelink" not in text(page)

    assert admin_client.post(change, {"amount": "1.00", "_save": "Save"}).status_code == 403
    assert admin_client.get(f"{PAYMENTS}{payment.pk}/delete/").status_code == 403
    assert admin_client.post(f"{PAYMENTS}{payment.pk}/delete/", {"post": "yes"}).status_code == 403
    bulk = admin_client.post(
        PAYMENTS, {"action": "delete_selected", "_selected_action": [payment.pk], "post": "yes"}
    )
    assert bulk.status_code in (200, 302)
    payment.refresh_from_db()
    assert payment.amount == Decimal("50.00")
    assert admin_client.get(f"{PAYMENTS}{payment.pk}/history/").status_code == 200


@pytest.mark.parametrize("form", [0, 1, 2])
def test_staff_find_payments_by_sers_id_typed_any_way(admin_client, form):
    payment, _other = make_payment(), make_payment()

    term = typed_forms(payment.student_year.student.sers_id)[form]

    assert listed(admin_client, PAYMENTS, q=term) == [payment]


def test_staff_find_payments_by_receipt_name_check_number_and_stripe_id(admin_client):
    check = make_payment(student=StudentFactory(legal_last_name="Okonkwo"))
    card = make_payment(method=Payment.Method.CARD)
    # Six digits read as a SERS ID without its prefix, and as a check number.
    six_digits = make_payment()
    Payment.objects.filter(pk=six_digits.pk).update(reference="123456")

    assert listed(admin_client, PAYMENTS, q=check.receipt_number) == [check]
    assert listed(admin_client, PAYMENTS, q=f"r{check.pk}") == [check]
    assert listed(admin_client, PAYMENTS, q="okonkwo") == [check]
    assert listed(admin_client, PAYMENTS, q=card.stripe_checkout_session_id) == [card]
    assert listed(admin_client, PAYMENTS, q=card.reference) == [card]
    assert listed(admin_client, PAYMENTS, q="123456") == [six_digits]


# --- Waivers -----------------------------------------------------------------------------------


def hardship_waiver(student):
    return waiver_request(
        student=student,
        consortium_id=consortium_of(student).pk,
        start_year=2026,
        reason=Waiver.Reason.HARDSHIP,
        note="My family lost our income this spring and we cannot pay right now.",
    )


def test_the_waiver_pages_open(admin_client):
    waiver = hardship_waiver(registered_student())

    page = text(admin_client.get(WAIVERS))
    assert waiver.student_year.student.sers_id in page
    assert "Waiting for a decision" in page
    assert "Financial hardship" in page
    detail = admin_client.get(f"{WAIVERS}{waiver.pk}/change/")
    assert detail.status_code == 200
    assert "Unpaid, balance $50.00" in text(detail)
    assert 'name="_save"' not in text(detail)
    assert admin_client.get(f"{WAIVERS}{waiver.pk}/history/").status_code == 200


def test_granting_selected_waivers_asks_once_then_grants_and_emails(
    admin_client, admin_user, django_capture_on_commit_callbacks
):
    first, second = registered_student(), registered_student()
    waiting, decided = hardship_waiver(first), hardship_waiver(second)
    waiver_grant(waiver=decided, staff_user=UserFactory(is_staff=True))

    with django_capture_on_commit_callbacks(execute=True):
        response = run_action(
            admin_client, WAIVERS, "grant", [waiting, decided], note="Verified with the school."
        )

    waiting.refresh_from_db()
    assert waiting.status == Waiver.Status.GRANTED
    assert waiting.decided_by == admin_user
    assert waiting.decision_note == "Verified with the school."
    assert account(first).state == FeeState.WAIVED
    assert shown_messages(response) == [
        "Granted 1 waiver. 1 was already decided and left as it was."
    ]
    assert [email.to for email in mail.outbox] == [[first.email]]
    assert "granted" in mail.outbox[0].subject
    assert waiting.history.first().history_user == admin_user


def test_denying_selected_waivers_asks_for_a_note_and_leaves_decided_ones_alone(
    admin_client, admin_user, django_capture_on_commit_callbacks
):
    students = [registered_student() for _ in range(2)]
    waivers = [hardship_waiver(student) for student in students]
    granted = hardship_waiver(registered_student())
    waiver_grant(waiver=granted, staff_user=admin_user)

    asked = admin_client.post(
        WAIVERS,
        {"action": "deny", "_selected_action": [w.pk for w in [*waivers, granted]], "index": 0},
    )
    assert "1 of these is already decided and will be left as it is." in text(asked)
    assert Waiver.objects.filter(status=Waiver.Status.DENIED).count() == 0

    with django_capture_on_commit_callbacks(execute=True):
        response = run_action(
            admin_client, WAIVERS, "deny", [*waivers, granted], note="Please pay by June 15."
        )

    assert shown_messages(response) == [
        "Denied 2 waivers. 1 was already decided and left as it was."
    ]
    for waiver in waivers:
        waiver.refresh_from_db()
        assert (waiver.status, waiver.decided_by) == (Waiver.Status.DENIED, admin_user)
        assert waiver.decision_note == "Please pay by June 15."
    granted.refresh_from_db()
    assert granted.status == Waiver.Status.GRANTED
    assert account(students[0]).state == FeeState.UNPAID
    assert sorted(email.to[0] for email in mail.outbox) == sorted(s.email for s in students)
    assert all("not granted" in email.subject for email in mail.outbox)


def free_lunch_waiver(student):
    return waiver_request(
        student=student,
        consortium_id=consortium_of(student).pk,
        start_year=2026,
        reason=Waiver.Reason.FREE_REDUCED_LUNCH,
    )


def ask_to(client, action, waivers):
    """Pick an action on the waiver list: the confirmation page, nothing decided yet."""
    page = client.post(
        WAIVERS, {"action": action, "_selected_action": [w.pk for w in waivers], "index": 0}
    )
    assert page.status_code == 200
    return page


def already_paid_box(page) -> str:
    """The warning box of the grant confirmation page, as text; "" when there is none."""
    found = re.search(r'<section[^>]*id="already-paid".*?</section>', text(page), re.DOTALL)
    return " ".join(re.sub(r"<[^>]+>", " ", found[0]).split()) if found else ""


def test_granting_a_waiver_on_a_year_already_paid_warns_before_confirming(admin_client, admin_user):
    # Asked for the waiver, then paid while it waited (the family did not wait for staff).
    paid = registered_student(free_reduced_lunch=True)
    waiver_on_paid = free_lunch_waiver(paid)
    payment = check_paid(paid, admin_user)
    unpaid = registered_student(free_reduced_lunch=True)
    waiver_on_unpaid = free_lunch_waiver(unpaid)

    asked = ask_to(admin_client, "grant", [waiver_on_paid, waiver_on_unpaid])

    box = already_paid_box(asked)
    assert box.startswith("Check before you grant: 1 of these years has money paid")
    assert f"{paid.sers_id} {paid.full_name}, 2026-27: $50.00 already paid" in box
    assert payment.receipt_number in box
    assert "Granting this waiver makes the year overpaid by $50.00" in box
    assert "non-refundable" in box
    assert "deny" in box
    assert unpaid.sers_id not in box
    assert Waiver.objects.filter(status=Waiver.Status.GRANTED).count() == 0

    # Staff read it and grant anyway: both are granted, the paid year is overpaid.
    response = run_action(admin_client, WAIVERS, "grant", [waiver_on_paid, waiver_on_unpaid])

    assert shown_messages(response)[0] == "Granted 2 waivers."
    assert account(paid).state == FeeState.OVERPAID
    assert account(unpaid).state == FeeState.WAIVED


def test_no_paid_year_warning_when_nothing_was_paid_or_the_waiver_is_decided_or_denied(
    admin_client, admin_user
):
    unpaid = free_lunch_waiver(registered_student(free_reduced_lunch=True))
    decided_student = registered_student(free_reduced_lunch=True)
    decided = free_lunch_waiver(decided_student)
    check_paid(decided_student, admin_user)
    waiver_grant(waiver=decided, staff_user=admin_user)  # left as it is: nothing to warn of

    assert already_paid_box(ask_to(admin_client, "grant", [unpaid, decided])) == ""

    paid = registered_student(free_reduced_lunch=True)
    waiting = free_lunch_waiver(paid)
    check_paid(paid, admin_user)
    # Denying changes nothing about the money: the warning belongs to granting.
    assert already_paid_box(ask_to(admin_client, "deny", [waiting])) == ""


def test_granting_a_waiver_warns_of_a_card_payment_still_processing(admin_client):
    student = registered_student(free_reduced_lunch=True)
    waiver = free_lunch_waiver(student)
    CheckoutSession.objects.create(
        student_year=waiver.student_year,
        stripe_session_id="cs_test_bank_transfer",
        url="https://checkout.stripe.test/pay/cs_test_bank_transfer",
        amount=Decimal("50.00"),
        attempt=1,
        status=CheckoutSession.Status.PROCESSING,
    )

    box = already_paid_box(ask_to(admin_client, "grant", [waiver]))

    assert f"{student.sers_id} {student.full_name}, 2026-27: a card payment of $50.00" in box
    assert "processing" in box
    assert "overpaid by $50.00" in box
    assert "non-refundable" in box


def test_the_grant_confirmation_takes_the_same_queries_for_1_or_5_paid_years(
    admin_client, admin_user
):
    def confirmation_queries(count):
        waivers = []
        for _ in range(count):
            student = registered_student(free_reduced_lunch=True)
            waivers.append(free_lunch_waiver(student))
            check_paid(student, admin_user, reference=f"{2000 + Payment.objects.count()}")
        with CaptureQueriesContext(connection) as queries:
            page = ask_to(admin_client, "grant", waivers)
        assert already_paid_box(page).count("already paid (") == count
        return len(queries)

    assert confirmation_queries(5) == confirmation_queries(1)


@pytest.mark.parametrize("form", [0, 1, 2])
def test_staff_find_waivers_by_sers_id_typed_any_way(admin_client, form):
    waiver = hardship_waiver(registered_student())
    hardship_waiver(registered_student())

    term = typed_forms(waiver.student_year.student.sers_id)[form]

    assert listed(admin_client, WAIVERS, q=term) == [waiver]


def test_staff_open_the_waiting_free_lunch_waivers(admin_client):
    on_free_lunch = registered_student(free_reduced_lunch=True)
    registered_student()

    asked = admin_client.get(OPEN_FREE_LUNCH)
    assert asked.status_code == 200
    assert "1 student on free or reduced-price lunch" in text(asked)
    assert Waiver.objects.count() == 0

    response = admin_client.post(OPEN_FREE_LUNCH, follow=True)

    waiver = Waiver.objects.get()
    assert waiver.student_year.student == on_free_lunch
    assert (waiver.reason, waiver.status) == (
        Waiver.Reason.FREE_REDUCED_LUNCH,
        Waiver.Status.REQUESTED,
    )
    assert shown_messages(response) == [
        "Opened 1 waiting free/reduced-lunch waiver. They are listed here, waiting for your "
        "decision."
    ]
    assert list(response.context["cl"].result_list) == [waiver]

    again = admin_client.post(OPEN_FREE_LUNCH, follow=True)
    assert "No new waivers" in shown_messages(again)[0]
    assert Waiver.objects.count() == 1
    assert "Open waiting free/reduced-lunch waivers" in text(admin_client.get(WAIVERS))


def test_opening_free_lunch_waivers_takes_the_same_queries_for_2_or_12_students(
    admin_client, admin_user
):
    def open_for(newcomers):
        students = [registered_student(free_reduced_lunch=True) for _ in range(newcomers)]
        with CaptureQueriesContext(connection) as opening:
            response = admin_client.post(OPEN_FREE_LUNCH)
        assert response.status_code == 302
        with CaptureQueriesContext(connection) as again:
            admin_client.post(OPEN_FREE_LUNCH)
        return students, len(opening), len(again)

    # Around them, years that get no waiver: paid, asked for already, not on free lunch.
    paid = registered_student(free_reduced_lunch=True)
    check_paid(paid, admin_user)
    hardship_waiver(registered_student(free_reduced_lunch=True))
    registered_student()

    few, few_opening, few_again = open_for(2)
    many, many_opening, many_again = open_for(12)

    assert (many_opening, many_again) == (few_opening, few_again)
    opened = Waiver.objects.filter(reason=Waiver.Reason.FREE_REDUCED_LUNCH)
    assert sorted(waiver.student_year.student.pk for waiver in opened) == sorted(
        student.pk for student in few + many
    )
    assert {waiver.status for waiver in opened} == {Waiver.Status.REQUESTED}
    history = Waiver.history.filter(id__in=opened)  # each opening kept, by whom
    assert history.count() == len(few + many)
    assert {record.history_user for record in history} == {admin_user}


# --- Fee years that need attention -------------------------------------------------------------


def test_the_fee_year_list_opens_on_what_needs_attention_with_state_and_balance(
    admin_client, admin_user
):
    overpaid, paid, unpaid = (registered_student() for _ in range(3))
    check_paid(overpaid, admin_user, reference="1")
    check_paid(overpaid, admin_user, reference="2")
    check_paid(paid, admin_user, reference="3")
    hardship_waiver(unpaid)

    flagged = listed(admin_client, FEE_YEARS)

    assert [year.student for year in flagged] == [overpaid]
    page = text(admin_client.get(FEE_YEARS))
    assert "Overpaid" in page
    assert "-$50.00" in page
    assert "Overpaid: Check $50.00" in page

    every_year = listed(admin_client, FEE_YEARS, attention="all")
    assert {year.student for year in every_year} == {overpaid, paid, unpaid}
    for row in every_year:
        expected = account(row.student)
        assert row.fee_account_of_list.state == expected.state
        assert row.fee_account_of_list.balance == expected.balance
    states = {row.student: row.fee_account_of_list.state for row in every_year}
    assert states == {overpaid: FeeState.OVERPAID, paid: FeeState.PAID, unpaid: FeeState.UNPAID}
    # A search looks at every year, flagged or not.
    assert [
        year.student
        for year in listed(admin_client, FEE_YEARS, q=paid.sers_id.lower().replace("-", " "))
    ] == [paid]


def test_a_failed_card_payment_is_found_with_its_filter(admin_client):
    student_year = flagged_year()
    StudentYear.objects.filter(pk=student_year.pk).update(needs_attention=False)
    CheckoutSession.objects.create(
        student_year=student_year,
        stripe_session_id="cs_test_failed",
        url="https://checkout.stripe.com/c/pay/cs_test_failed",
        amount=Decimal("50.00"),
        attempt=1,
        status=CheckoutSession.Status.FAILED,
    )
    flagged_year()

    assert listed(admin_client, FEE_YEARS, attention="card_failed") == [student_year]
    assert student_year not in listed(admin_client, FEE_YEARS)
    assert "cs_test_failed" in text(admin_client.get(f"{FEE_YEARS}{student_year.pk}/change/"))
    assert listed(admin_client, CHECKOUTS, q=student_year.student.sers_id.lower())[0].status == (
        CheckoutSession.Status.FAILED
    )


def test_mark_as_dealt_with_asks_once_and_clears_the_flag(admin_client, admin_user):
    first, second, quiet = flagged_year(), flagged_year(), flagged_year()
    StudentYear.objects.filter(pk=quiet.pk).update(needs_attention=False)
    asked = admin_client.post(
        f"{FEE_YEARS}?attention=all",
        {"action": "mark_dealt_with", "_selected_action": [first.pk, quiet.pk], "index": 0},
    )
    assert "1 of these does not need attention and will be left as it is." in text(asked)
    first.refresh_from_db()
    assert first.needs_attention

    response = run_action(
        admin_client,
        f"{FEE_YEARS}?attention=all",
        "mark_dealt_with",
        [first, second, quiet],
        note="Called the parent.",
    )

    assert shown_messages(response) == [
        "Marked 2 fee years as dealt with. 1 was not on the list and left as it was."
    ]
    for student_year in (first, second):
        student_year.refresh_from_db()
        assert not student_year.needs_attention
        assert student_year.attention_note  # the note stays as a record
        latest = student_year.history.first()
        assert latest.history_user == admin_user
        assert latest.history_change_reason == "Dealt with: Called the parent."
    assert listed(admin_client, FEE_YEARS) == []


def test_the_fee_year_page_shows_its_payments_waivers_and_account(admin_client):
    student_year = flagged_year()
    payment = student_year.payments.get()

    page = admin_client.get(f"{FEE_YEARS}{student_year.pk}/change/")

    assert page.status_code == 200
    assert payment.receipt_number in text(page)
    assert "Financial hardship" in text(page)
    assert "Paid, balance $0.00" in text(page)
    assert admin_client.get(f"{FEE_YEARS}{student_year.pk}/history/").status_code == 200
    assert admin_client.get(f"{FEE_YEARS}{student_year.pk}/delete/").status_code == 403


def test_the_fee_year_list_makes_the_same_queries_for_2_and_12_years(admin_client):
    for _ in range(2):
        flagged_year()
    admin_client.get(FEE_YEARS)
    with CaptureQueriesContext(connection) as few:
        assert admin_client.get(FEE_YEARS).status_code == 200
    for index in range(10):
        flagged_year(with_registration=index % 2 == 0)

    with CaptureQueriesContext(connection) as many:
        response = admin_client.get(FEE_YEARS)

    assert response.context["cl"].result_count == 12
    assert len(many.captured_queries) == len(few.captured_queries)


def completed_checkout():
    student_year = flagged_year()
    return CheckoutSession.objects.create(
        student_year=student_year,
        stripe_session_id=f"cs_test_done_{student_year.pk}",
        url=f"https://checkout.stripe.com/c/pay/cs_test_done_{student_year.pk}",
        amount=Decimal("50.00"),
        attempt=1,
        status=CheckoutSession.Status.COMPLETE,
    )


@pytest.mark.parametrize(
    ("url", "make"),
    [(WAIVERS, lambda: flagged_year().waivers.get()), (CHECKOUTS, completed_checkout)],
)
def test_the_other_lists_make_the_same_queries_for_2_and_12_rows(admin_client, url, make):
    for _ in range(2):
        make()
    admin_client.get(url)
    with CaptureQueriesContext(connection) as few:
        assert admin_client.get(url).status_code == 200
    for _ in range(10):
        make()

    with CaptureQueriesContext(connection) as many:
        response = admin_client.get(url)

    assert response.context["cl"].result_count == 12
    assert len(many.captured_queries) == len(few.captured_queries)


@pytest.mark.parametrize("url", [PAYMENTS, WAIVERS, FEE_YEARS, CHECKOUTS, WEBHOOK_FAILURES])
def test_every_column_sorts(admin_client, url):
    completed_checkout()
    make_payment()
    StripeWebhookFailure.objects.create(event_id="evt_1", type="checkout.session.completed")
    every_row = {"attention": "all"} if url == FEE_YEARS else {}
    columns = len(admin_client.get(url, every_row).context["cl"].list_display)

    for column in range(columns):
        for direction in ("", "-"):
            response = admin_client.get(url, {"o": f"{direction}{column}", **every_row})
            assert response.status_code == 200
            assert response.context["cl"].result_count >= 1


def test_failed_webhooks_are_one_click_from_the_needs_attention_list(admin_client):
    StripeWebhookFailure.objects.create(
        event_id="evt_still_failing", type="checkout.session.completed", error="Timeout"
    )
    StripeWebhookFailure.objects.create(
        event_id="evt_retried", type="checkout.session.completed", error="Timeout"
    )
    StripeEvent.objects.create(event_id="evt_retried", type="checkout.session.completed")

    assert "Failed Stripe webhooks (1)" in text(admin_client.get(FEE_YEARS))
    failing = listed(admin_client, WEBHOOK_FAILURES, state="failing")
    assert [failure.event_id for failure in failing] == ["evt_still_failing"]
    assert len(listed(admin_client, WEBHOOK_FAILURES)) == 2
    assert [event.event_id for event in listed(admin_client, EVENTS)] == ["evt_retried"]
    failure = failing[0]
    assert admin_client.get(f"{WEBHOOK_FAILURES}{failure.pk}/change/").status_code == 200
    assert admin_client.get(f"{WEBHOOK_FAILURES}add/").status_code == 403
    assert admin_client.get(f"{WEBHOOK_FAILURES}{failure.pk}/delete/").status_code == 403


# --- Who may ------------------------------------------------------------------------------------


ADMIN_PAGES = [PAYMENTS, RECORD, WAIVERS, OPEN_FREE_LUNCH, FEE_YEARS, CHECKOUTS, WEBHOOK_FAILURES]


@pytest.mark.parametrize("url", ADMIN_PAGES)
def test_a_non_staff_user_is_refused(client, url):
    client.force_login(StudentFactory().user)

    response = client.get(url)

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


@pytest.mark.parametrize("url", ADMIN_PAGES)
def test_staff_without_permissions_are_refused(client, url):
    client.force_login(UserFactory(is_staff=True))

    assert client.get(url).status_code == 403


def test_staff_without_permissions_cannot_record_a_check(client):
    student = registered_student()
    client.force_login(UserFactory(is_staff=True))

    assert client.post(RECORD, form_data(student)).status_code == 403
    assert Payment.objects.count() == 0
