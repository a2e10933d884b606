"""Every write about money, one transaction each, on a locked student-year account.

Rules: pay only after registering a class that year, only inside the payment
window, only when something is owed. A card payment is recorded once, from
Stripe's own word (the session re-read from Stripe), whoever asks first: the
signed webhook or the success page. An overpayment is recorded and flagged,
never dropped. Nothing is ever refunded.
"""

import contextlib
import logging

import stripe
from django.conf import settings
from django.db import DatabaseError, IntegrityError, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from simple_history.utils import bulk_create_with_history

from articulations.models import Consortium
from articulations.school_year import WindowState, school_year_label
from articulations.selectors import current_terms
from outbox.models import OutboxEmail
from outbox.services import email_queue
from payments.models import (
    CheckoutSession,
    Payment,
    StripeEvent,
    StripeWebhookFailure,
    StudentYear,
    Waiver,
)
from payments.money import from_cents, money, to_cents
from payments.selectors import (
    FeeState,
    YearAccount,
    accounts_of_student_years,
    year_account,
    year_accounts_many,
)
from payments.stripe_gateway import stripe_client
from registration.models import Registration, Student
from registration.services.credit import credit_reevaluate_year
from sers.formatting import dollars, long_date

logger = logging.getLogger(__name__)


class PaymentRefused(Exception):
    """A reason a student, parent or staff member can read and act on."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


def student_year_get_or_create(
    *, student: Student, consortium_id: int, start_year: int
) -> StudentYear:
    try:
        with transaction.atomic():
            student_year, _ = StudentYear.objects.get_or_create(
                student=student, consortium_id=consortium_id, school_year_id=start_year
            )
    except IntegrityError:
        student_year = StudentYear.objects.get(
            student=student, consortium_id=consortium_id, school_year_id=start_year
        )
    return student_year


def _locked(student_year: StudentYear) -> StudentYear:
    return StudentYear.objects.select_for_update().get(pk=student_year.pk)


def _account_of(student_year: StudentYear) -> YearAccount:
    # Never None: the student-year itself makes an account.
    return year_account(
        student_year.student, student_year.consortium_id, student_year.school_year_id
    )


# --- Card payments ---------------------------------------------------------------------------


def card_payment_refusal(account: YearAccount) -> str | None:
    """Why this year cannot be paid by card now, in words for the page; None when it can."""
    if not account.has_registration:
        return (
            f"Register a class for {account.label} before you pay. "
            "One fee covers all your classes that year."
        )
    state = account.terms.payment_state()
    if state == WindowState.NOT_YET_OPEN:
        return f"Payment for {account.label} opens on {long_date(account.terms.payment.opens_on)}."
    if state == WindowState.CLOSED:
        return (
            f"The payment deadline for {account.label} was {long_date(account.terms.payment.closes_on)}. "
            f"Email {settings.SERS_CONTACT['email']} for help."
        )
    if account.balance <= 0:
        return f"Nothing to pay for {account.label}: {account.state.label.lower()}."
    return None


def _line_items(account: YearAccount) -> list[dict]:
    # A line per charge; once part is paid, one line for what is left.
    if account.total_paid == 0:
        lines = [(charge.description, charge.amount) for charge in account.charges]
    else:
        lines = [(f"{account.label} balance ({account.consortium.name})", account.balance)]
    return [
        {
            "quantity": 1,
            "price_data": {
                "currency": "usd",
                "unit_amount": to_cents(amount),
                "product_data": {"name": description},
            },
        }
        for description, amount in lines
    ]


def checkout_start(
    *, student: Student, consortium_id: int, start_year: int, cancel_url: str
) -> str:
    """The address of a Stripe Checkout page for what the student owes that year.

    One open session per student-year: a second click gets the same page back.
    The idempotency key comes from our own ids, so a retried create never
    opens a second session for the same attempt.
    """
    account = year_account(student, consortium_id, start_year)
    if account is None:
        raise PaymentRefused(
            "Register a class before you pay. One fee covers all your classes that year."
        )
    refusal = card_payment_refusal(account)
    if refusal:
        raise PaymentRefused(refusal)
    client = stripe_client()
    with transaction.atomic():
        student_year = _locked(
            student_year_get_or_create(
                student=student, consortium_id=consortium_id, start_year=start_year
            )
        )
        reusable = _reusable_open_session(client, student_year, account.balance)
        if reusable:
            return reusable.url
        attempt = (
            student_year.checkout_sessions.order_by("-attempt")
            .values_list("attempt", flat=True)
            .first()
            or 0
        ) + 1
        session = client.v1.checkout.sessions.create(
            params={
                "mode": "payment",
                "line_items": _line_items(account),
                "client_reference_id": f"student-year-{student_year.pk}",
                "metadata": {
                    "student_year": str(student_year.pk),
                    "sers_id": student.sers_id,
                    "school_year": account.label,
                },
                "customer_email": student.email,
                "success_url": settings.SITE_URL
                + reverse("payments:checkout_success")
                + "?session_id={CHECKOUT_SESSION_ID}",
                "cancel_url": cancel_url,
            },
            options={"idempotency_key": f"fee:{student_year.pk}:{attempt}"},
        )
        CheckoutSession.objects.create(
            student_year=student_year,
            stripe_session_id=session.id,
            url=session.url,
            amount=from_cents(session.amount_total),
            attempt=attempt,
        )
    return session.url


def _reusable_open_session(client, student_year: StudentYear, balance) -> CheckoutSession | None:
    """The open session of this year if Stripe still has it open for the same amount."""
    checkout = student_year.checkout_sessions.filter(status=CheckoutSession.Status.OPEN).first()
    if checkout is None:
        return None
    session = client.v1.checkout.sessions.retrieve(checkout.stripe_session_id)
    if session.status == "open" and from_cents(session.amount_total) == money(balance):
        return checkout
    if session.status == "open":
        # The amount changed (a late fee was added): this page would charge the wrong sum.
        client.v1.checkout.sessions.expire(checkout.stripe_session_id)
        checkout.status = CheckoutSession.Status.EXPIRED
    else:
        checkout.status = (
            CheckoutSession.Status.COMPLETE
            if session.status == "complete"
            else CheckoutSession.Status.EXPIRED
        )
    checkout.save(update_fields=["status"])
    return None


HANDLED_EVENTS = {
    "checkout.session.completed",
    "checkout.session.async_payment_succeeded",
    "checkout.session.async_payment_failed",
    "checkout.session.expired",
}


def checkout_fulfil(
    *, stripe_session_id: str, event_id: str = "", event_type: str = ""
) -> Payment | None:
    """Record what Stripe says about a session, once. Called by the webhook and the success page.

    The session is read again from Stripe, whatever the caller was told. Under
    the student-year's lock: a replayed event id, or a session already paid,
    changes nothing; a new payment is recorded and its receipt queued for after
    the commit.
    """
    checkout = CheckoutSession.objects.filter(stripe_session_id=stripe_session_id).first()
    if checkout is None:
        return None  # not one of ours
    session = stripe_client().v1.checkout.sessions.retrieve(stripe_session_id)
    with transaction.atomic():
        student_year = _locked(checkout.student_year)
        if event_id:
            try:
                with transaction.atomic():
                    StripeEvent.objects.create(
                        event_id=event_id, type=event_type, stripe_session_id=stripe_session_id
                    )
            except IntegrityError:
                return None  # this event was handled before
        checkout.refresh_from_db()
        if session.status == "expired":
            _set_checkout_status(checkout, CheckoutSession.Status.EXPIRED)
            return None
        if event_type == "checkout.session.async_payment_failed":
            _set_checkout_status(checkout, CheckoutSession.Status.FAILED)
            # The family believes it paid; the office may need to call before reminders go out.
            _flag(student_year, f"A bank payment started on the card page failed ({checkout}).")
            _email_payment_failed(checkout)
            return None
        if session.payment_status != "paid":
            return None  # a bank payment still settling: "processing" until Stripe says more
        existing = Payment.objects.filter(stripe_checkout_session_id=stripe_session_id).first()
        if existing:
            return existing
        _set_checkout_status(checkout, CheckoutSession.Status.COMPLETE)
        return _record_payment(
            student_year,
            method=Payment.Method.CARD,
            amount=from_cents(session.amount_total),
            reference=session.payment_intent or "",
            stripe_checkout_session_id=stripe_session_id,
            stripe_payment_intent_id=session.payment_intent or None,
        )


def stripe_event_process(*, event_id: str, event_type: str, stripe_session_id: str) -> bool:
    """Act on a verified webhook event. False when it failed for now: the failure is kept
    for staff and the webhook answers 5xx, so Stripe sends the event again later."""
    try:
        checkout_fulfil(
            stripe_session_id=stripe_session_id, event_id=event_id, event_type=event_type
        )
    except (stripe.StripeError, DatabaseError) as error:
        logger.exception("Stripe event %s could not be processed", event_id)
        StripeWebhookFailure.objects.create(
            event_id=event_id, type=event_type, error=repr(error)[:2000]
        )
        return False
    return True


def _set_checkout_status(checkout: CheckoutSession, status: str) -> None:
    if checkout.status != status:
        checkout.status = status
        checkout.save(update_fields=["status"])


def _record_payment(student_year: StudentYear, **fields) -> Payment:
    """Insert a payment on a locked student-year. The one overpayment rule: a payment of more
    than the year still owed (any payment, once the year is settled) is kept, marked as an
    overpayment and flagged for staff."""
    owed = _account_of(student_year).balance
    is_overpayment = money(fields["amount"]) > owed
    payment = Payment.objects.create(
        student_year=student_year,
        received_on=fields.pop("received_on", None) or timezone.localdate(),
        is_overpayment=is_overpayment,
        **fields,
    )
    if is_overpayment and owed <= 0:
        _flag(student_year, f"Overpaid: {payment} arrived for a year already settled.")
    elif is_overpayment:
        _flag(
            student_year,
            f"Overpaid: {payment} is {dollars(payment.amount - owed)} more than the year owed.",
        )
    _email_receipt(payment)
    # A payment after the grade earns the credit now.
    credit_reevaluate_year(student=student_year.student, start_year=student_year.school_year_id)
    return payment


def _flag(student_year: StudentYear, note: str) -> None:
    """Put the year on the admin's "needs attention" list, saying why."""
    student_year.needs_attention = True
    student_year.attention_note = note
    student_year.save(update_fields=["needs_attention", "attention_note"])


def _pay_links() -> dict:
    """Where an email sends a student, or a parent, to pay the fee."""
    return {
        "payments_url": settings.SITE_URL + reverse("payments:fees"),
        "parent_url": settings.SITE_URL + reverse("payments:parent_pay"),
    }


def _email_payment_failed(checkout: CheckoutSession) -> None:
    student = checkout.student_year.student
    email_queue(
        kind="payment_failed",
        to=student.email,
        template="payment_failed",
        context={
            "student": student,
            "checkout": checkout,
            "school_year": school_year_label(checkout.student_year.school_year_id),
            **_pay_links(),
        },
        unique_key=f"payment_failed:{checkout.stripe_session_id}",
        about=f"student {student.sers_id}",
    )


def _email_receipt(payment: Payment) -> None:
    student = payment.student_year.student
    account = _account_of(payment.student_year)
    email_queue(
        kind="payment_receipt",
        to=student.email,
        template="payment_receipt",
        context={
            "student": student,
            "payment": payment,
            "account": account,
            "receipt_url": settings.SITE_URL + reverse("payments:receipt", args=[payment.pk]),
        },
        unique_key=f"payment_receipt:{payment.pk}",
        about=f"student {student.sers_id}",
    )


def checkout_expire_open(*, student_year: StudentYear) -> None:
    """Close the year's open card page before staff change what is owed.

    If the student paid on it in the meantime, that payment is recorded now.
    """
    checkout = student_year.checkout_sessions.filter(status=CheckoutSession.Status.OPEN).first()
    if checkout is None:
        return
    client = stripe_client()
    # Refused when no longer open at Stripe: completed or expired already.
    with contextlib.suppress(stripe.InvalidRequestError):
        client.v1.checkout.sessions.expire(checkout.stripe_session_id)
    checkout_fulfil(stripe_session_id=checkout.stripe_session_id)
    checkout.refresh_from_db()
    if checkout.status == CheckoutSession.Status.OPEN:
        _set_checkout_status(checkout, CheckoutSession.Status.EXPIRED)


# --- Checks and money orders -----------------------------------------------------------------


def payment_record_offline(
    *,
    student: Student,
    consortium_id: int,
    start_year: int,
    method: str,
    payer: str,
    reference: str,
    amount,
    received_on,
    staff_user,
) -> Payment:
    """Staff record a mailed check or money order; the student is mailed a receipt."""
    if method not in (Payment.Method.CHECK, Payment.Method.MONEY_ORDER):
        raise PaymentRefused("Choose check or money order.", field="method")
    reference = reference.strip()
    if not reference:
        raise PaymentRefused("Enter the check or money-order number.", field="reference")
    amount = money(amount)
    if amount <= 0:
        raise PaymentRefused("Enter an amount above $0.00.", field="amount")
    student_year = student_year_get_or_create(
        student=student, consortium_id=consortium_id, start_year=start_year
    )
    checkout_expire_open(student_year=student_year)
    with transaction.atomic():
        student_year = _locked(student_year)
        try:
            with transaction.atomic():
                return _record_payment(
                    student_year,
                    method=method,
                    amount=amount,
                    payer=payer.strip(),
                    reference=reference,
                    received_on=received_on,
                    recorded_by=staff_user,
                )
        except IntegrityError:
            raise PaymentRefused(
                f"{Payment.Method(method).label} {reference} is already recorded for "
                f"{student.sers_id} in {student_year.school_year}.",
                field="reference",
            ) from None


# --- Waivers -----------------------------------------------------------------------------------


def waiver_request_refusal(account: YearAccount) -> str | None:
    """Why the student cannot ask for a fee waiver for this year now, in words for the page;
    None when they can: the year owes something and no request is waiting for a decision."""
    if account.state != FeeState.UNPAID or account.balance <= 0:
        return f"Nothing to waive for {account.label}: {account.state.label.lower()}."
    if account.open_waiver_request:
        return (
            f"You already asked for a fee waiver for {account.label}. "
            "We will email you our decision."
        )
    return None


def waiver_request(
    *, student: Student, consortium_id: int, start_year: int, reason: str, note: str = ""
) -> Waiver:
    account = year_account(student, consortium_id, start_year)
    if account is None:
        raise PaymentRefused(
            "Register a class before you ask for a waiver. One fee covers all your classes that year."
        )
    refusal = waiver_request_refusal(account)
    if refusal:
        raise PaymentRefused(refusal)
    if reason == Waiver.Reason.HARDSHIP and not note.strip():
        raise PaymentRefused("Tell us in a sentence or two about your situation.", field="note")
    if reason == Waiver.Reason.FREE_REDUCED_LUNCH and not student.free_reduced_lunch:
        raise PaymentRefused(
            "Your profile says you do not get free or reduced-price lunch. "
            "If you do, change it on your profile first."
        )
    student_year = student_year_get_or_create(
        student=student, consortium_id=consortium_id, start_year=start_year
    )
    try:
        with transaction.atomic():
            # Again under the lock: a payment may have settled the year meanwhile.
            refusal = waiver_request_refusal(_account_of(_locked(student_year)))
            if refusal:
                raise PaymentRefused(refusal)
            return Waiver.objects.create(
                student_year=student_year, reason=reason, note=note.strip()
            )
    except IntegrityError:
        raise PaymentRefused(
            f"You already asked for this waiver for {student_year.school_year}. We will email you our decision."
        ) from None


def free_lunch_waivers_open(*, student: Student | None = None) -> int:
    """A waiting free/reduced-lunch waiver for every year a student on free lunch registered in.

    Safe to run again and again (the unique constraint keeps one per year); run
    by Celery beat, from the admin, and when the student opens the fees page.
    A fixed number of queries per school year, however many students.
    """
    if student is not None:
        students = [student] if student.free_reduced_lunch else []
    else:
        students = list(Student.objects.filter(free_reduced_lunch=True))
    if not students:
        return 0
    years = (
        Registration.objects.filter(student__in=students)
        .values_list("school_year_id", flat=True)
        .distinct()
        .order_by("school_year_id")
    )
    created = 0
    for start_year in years:
        due = [
            account
            for account in year_accounts_many(students, start_year).values()
            if _free_lunch_waiver_due(account)
        ]
        if due:
            created += _free_lunch_waivers_create(due)
    return created


def _free_lunch_waiver_due(account: YearAccount) -> bool:
    """The rules of waiver_request, for a free-lunch waiver nobody asked for yet."""
    return (
        account.student.free_reduced_lunch
        and account.has_registration
        and not any(w.reason == Waiver.Reason.FREE_REDUCED_LUNCH for w in account.waivers)
        and waiver_request_refusal(account) is None
    )


def _free_lunch_waivers_create(due: list[YearAccount]) -> int:
    """Open the waivers of these accounts at once, each year asked again under its lock."""
    missing = [
        StudentYear(
            student=account.student,
            consortium=account.consortium,
            school_year_id=account.terms.start_year,
        )
        for account in due
        if account.student_year is None
    ]
    if missing:
        try:
            with transaction.atomic():
                bulk_create_with_history(missing, StudentYear)
        except IntegrityError:  # made meanwhile, by a payment or a request: one at a time
            for student_year in missing:
                student_year_get_or_create(
                    student=student_year.student,
                    consortium_id=student_year.consortium_id,
                    start_year=student_year.school_year_id,
                )
    keys = Q()
    for account in due:
        keys |= Q(
            student=account.student,
            consortium=account.consortium,
            school_year_id=account.terms.start_year,
        )
    with transaction.atomic():
        # Again under the locks (in one order, as no other path takes two): a payment or a
        # request may have settled the year, or asked for its waiver, meanwhile.
        locked = list(StudentYear.objects.select_for_update().filter(keys).order_by("pk"))
        waivers = [
            Waiver(student_year=account.student_year, reason=Waiver.Reason.FREE_REDUCED_LUNCH)
            for account in accounts_of_student_years(locked).values()
            if _free_lunch_waiver_due(account)
        ]
        if waivers:
            bulk_create_with_history(waivers, Waiver)
    return len(waivers)


def waiver_grant(*, waiver: Waiver, staff_user, note: str = "") -> bool:
    """Grant: the year's fees become $0 and the student is mailed. False if already decided."""
    checkout_expire_open(student_year=waiver.student_year)
    return _decide_waiver(waiver, Waiver.Status.GRANTED, staff_user, note)


def waiver_deny(*, waiver: Waiver, staff_user, note: str = "") -> bool:
    return _decide_waiver(waiver, Waiver.Status.DENIED, staff_user, note)


def _decide_waiver(waiver: Waiver, status: str, staff_user, note: str) -> bool:
    with transaction.atomic():
        _locked(waiver.student_year)
        waiver = Waiver.objects.select_for_update().get(pk=waiver.pk)
        if waiver.status != Waiver.Status.REQUESTED:
            return False
        waiver.status = status
        waiver.decision_note = note.strip()
        waiver.decided_by = staff_user
        waiver.decided_at = timezone.now()
        waiver.save()
        account = _account_of(waiver.student_year)
        if status == Waiver.Status.GRANTED and account.balance < 0:
            # Granted after the year was paid: the money stays (non-refundable); the office looks.
            _flag(
                waiver.student_year,
                f"Overpaid: a fee waiver was granted for a year already paid "
                f"({dollars(-account.balance)} paid over the fee).",
            )
        student = waiver.student_year.student
        email_queue(
            kind="waiver_decision",
            to=student.email,
            template="waiver_decision",
            context={
                "student": student,
                "waiver": waiver,
                "granted": status == Waiver.Status.GRANTED,
                "account": account,
                **_pay_links(),
            },
            unique_key=f"waiver_decision:{waiver.pk}",
            about=f"student {student.sers_id}",
        )
        credit_reevaluate_year(student=student, start_year=waiver.student_year.school_year_id)
    return True


# --- Reminders -----------------------------------------------------------------------------------

# Two weeks before the payment deadline, once per student and school year.
REMINDER_DAYS_BEFORE_DEADLINE = 14


def payment_reminders_send() -> int:
    """Mail every student who registered but has not paid, once, in the last two weeks before
    the payment deadline of their consortium's current school year, with what that year's
    account still owes. Run daily by Celery beat."""
    sent = 0
    for consortium in Consortium.objects.all():
        terms = current_terms(consortium)
        today = terms.today()
        days_left = (terms.payment.closes_on - today).days
        if (
            terms.payment_state(today) != WindowState.OPEN
            or days_left > REMINDER_DAYS_BEFORE_DEADLINE
        ):
            continue
        students = list(
            Student.objects.filter(
                registrations__school_year_id=terms.start_year,
                registrations__status=Registration.Status.REGISTERED,
                registrations__course_class__school__consortium=consortium,
            ).distinct()
        )
        accounts = year_accounts_many(students, terms.start_year)
        keys = {
            student.pk: f"payment_reminder:{student.pk}:{consortium.pk}:{terms.start_year}"
            for student in students
        }
        # Only to count what is new: the unique key itself keeps a reminder from going twice.
        already = set(
            OutboxEmail.objects.filter(unique_key__in=keys.values()).values_list(
                "unique_key", flat=True
            )
        )
        for student in students:
            # What this consortium's account still owes: after a part payment, less than the fee.
            account = accounts.get((student.pk, consortium.pk))
            if account is None or account.state != FeeState.UNPAID or account.balance <= 0:
                continue
            if keys[student.pk] in already:
                continue
            with transaction.atomic():
                email_queue(
                    kind="payment_reminder",
                    to=student.email,
                    template="payment_reminder",
                    context={
                        "student": student,
                        "terms": terms,
                        "consortium": consortium,
                        "account": account,
                        **_pay_links(),
                    },
                    unique_key=keys[student.pk],
                    about=f"student {student.sers_id}",
                )
            sent += 1
    return sent
