"""Every write about money, one transaction each, on a locked student-year account.

Rules: pay only after registering a class that year, only inside the payment
window, only when something is owed. A card payment is recorded once, from
Stripe's own word (the session re-read from Stripe), whoever asks first: the
signed webhook or the success page. An overpayment is recorded and flagged,
never dropped. Nothing is ever refunded.
"""

import contextlib
import datetime as dt
import hashlib
import logging
from dataclasses import dataclass
from enum import Enum

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
from grading.services.credit import credit_reevaluate_year
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
from payments.selectors import (
    FeeState,
    YearAccount,
    accounts_of_student_years,
    year_account,
    year_accounts,
    year_accounts_many,
)
from payments.stripe_gateway import checkout_session_read, stripe_client
from registration.models import Registration
from sers.formatting import dollars, long_date
from sers.money import from_cents, money, to_cents
from students.models import Student

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


class AlreadyPaid(PaymentRefused):
    """Good news in place of a payment page: an earlier card payment went through."""


@dataclass(frozen=True)
class CardPaymentChoice:
    """What a fees page offers for one year's card payment."""

    # Why the year cannot be paid by card now, in words for the page; None when it can.
    refusal: str | None
    # A waiver is waiting: there is no need to pay, but a family that insists may.
    pay_anyway: bool = False


def card_payment_refusal(account: YearAccount, *, despite_waiver: bool = False) -> str | None:
    """Why this year cannot be paid by card now, in words for the page; None when it can.

    A year is payable while it owes something, inside its payment window or once staff
    approved prior-year credit in it, and no earlier payment is still on its way. A year
    whose waiver is waiting needs no payment, unless the family insists (``despite_waiver``).
    """
    if not account.has_registration:
        return (
            f"Register a class for {account.label} before you pay. "
            "One fee covers all your classes that year."
        )
    if account.state == FeeState.PROCESSING:
        return processing_note(account)
    if account.balance <= 0:
        return f"Nothing to pay for {account.label}: {account.state.label.lower()}."
    if not account.has_approved_prior_year:
        state = account.terms.payment_state()
        if state == WindowState.NOT_YET_OPEN:
            return (
                f"Payment for {account.label} opens on {long_date(account.terms.payment.opens_on)}."
            )
        if state == WindowState.CLOSED:
            return (
                f"The payment deadline for {account.label} was {long_date(account.terms.payment.closes_on)}. "
                f"Email {settings.SERS_CONTACT['email']} for help."
            )
    if account.open_waiver_request and not despite_waiver:
        return (
            "You don't need to pay while we check your waiver. "
            "We will email you our decision; if it is not granted, you can pay then."
        )
    return None


def card_payment_choice(account: YearAccount) -> CardPaymentChoice:
    refusal = card_payment_refusal(account)
    pay_anyway = (
        refusal is not None
        and account.open_waiver_request is not None
        and card_payment_refusal(account, despite_waiver=True) is None
    )
    return CardPaymentChoice(refusal=refusal, pay_anyway=pay_anyway)


def processing_note(account: YearAccount) -> str:
    """What a processing year tells the family: since when, and what happens next."""
    checkout = account.processing_checkout
    started = timezone.localdate(checkout.processing_since or checkout.created_at)
    return (
        f"A payment of {dollars(checkout.amount)} for {account.label} started on "
        f"{long_date(started)} and is processing. Bank payments take a few days. We will email "
        "a receipt when it arrives, or tell you if it does not go through. Please do not pay "
        "again meanwhile."
    )


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


@dataclass(frozen=True)
class _CheckoutPlan:
    account: YearAccount
    earlier: CheckoutSession | None  # the year's open card page, if there is one
    attempt: int


def _checkout_plan(student_year: StudentYear, *, despite_waiver: bool) -> _CheckoutPlan:
    """Under the year's lock: what is owed now, or why nothing can be paid."""
    with transaction.atomic():
        student_year = _locked(student_year)
        account = _account_of(student_year)
        refusal = card_payment_refusal(account, despite_waiver=despite_waiver)
        if refusal:
            raise PaymentRefused(refusal)
        return _CheckoutPlan(
            account=account,
            earlier=student_year.checkout_sessions.filter(
                status=CheckoutSession.Status.OPEN
            ).first(),
            attempt=_next_attempt(student_year),
        )


def checkout_start(
    *,
    student: Student,
    consortium_id: int,
    start_year: int,
    cancel_url: str,
    despite_waiver: bool = False,
) -> str:
    """The address of a Stripe Checkout page for what the student owes that year.

    No network call is made while the year's row is locked: what is owed is worked out under
    the lock, Stripe is asked without it, and a new page is kept only if, under the lock
    again, the year still owes exactly its amount (a check or a waiver may have come in
    between; then the page is closed unused). An open page of the year is reused when it
    asks for the same amount; if Stripe says it was paid meanwhile, that payment is recorded
    and no second page opens. The idempotency key comes from our own ids, so a retried
    create never opens a second session for the same attempt.
    """
    if not Registration.objects.filter(
        student=student,
        school_year_id=start_year,
        course_class__school__consortium_id=consortium_id,
        status=Registration.Status.REGISTERED,
    ).exists():
        raise PaymentRefused(
            "Register a class before you pay. One fee covers all your classes that year."
        )
    student_year = student_year_get_or_create(
        student=student, consortium_id=consortium_id, start_year=start_year
    )
    client = stripe_client()
    plan = _checkout_plan(student_year, despite_waiver=despite_waiver)
    if plan.earlier is not None:
        reusable = _checkout_reuse(client, plan.earlier, plan.account)
        if reusable:
            return reusable
        plan = _checkout_plan(student_year, despite_waiver=despite_waiver)
    session = _checkout_session_create(client, student_year, plan, cancel_url)
    kept, refusal = _checkout_keep(student_year, session, despite_waiver=despite_waiver)
    if kept:
        return kept
    # Nobody has seen this page's address: close it at Stripe, so it can never take money.
    with contextlib.suppress(stripe.StripeError):
        client.v1.checkout.sessions.expire(session.id)
    raise PaymentRefused(refusal)


def _checkout_reuse(client, earlier: CheckoutSession, account: YearAccount) -> str | None:
    """The earlier page's address if Stripe still has it open for what is owed now.

    Otherwise what became of it is recorded (paid, processing, failed, expired); a page open
    for another amount (a late fee was added) is closed first, as it would charge the wrong sum.
    """
    session = checkout_session_read(client, earlier.stripe_session_id)
    if session.status == "open" and from_cents(session.amount_total) == account.balance:
        return earlier.url
    if session.status == "open":
        with contextlib.suppress(stripe.InvalidRequestError):  # paid or closed meanwhile
            client.v1.checkout.sessions.expire(earlier.stripe_session_id)
        session = checkout_session_read(client, earlier.stripe_session_id)
    payment = _checkout_settle(earlier, session)
    if payment is not None:
        raise AlreadyPaid(
            f"Your card payment of {dollars(payment.amount)} for {account.label} went through "
            f"(receipt {payment.receipt_number}). There is nothing more to pay."
        )
    return None


def _checkout_session_create(client, student_year: StudentYear, plan: _CheckoutPlan, cancel_url):
    account, student = plan.account, student_year.student
    # Whole minutes, so that two clicks of one page a moment apart send the same request and
    # get the same session back; two pages (the student's and a parent's) get one each, and
    # only one of them is kept.
    expires_at = (timezone.now() + dt.timedelta(minutes=settings.STRIPE_CHECKOUT_MINUTES)).replace(
        second=0, microsecond=0
    )
    request_digest = hashlib.sha256(
        f"{account.balance}|{cancel_url}|{expires_at.isoformat()}".encode()
    ).hexdigest()[:16]
    return client.v1.checkout.sessions.create(
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
            "expires_at": int(expires_at.timestamp()),
        },
        options={"idempotency_key": f"fee:{student_year.pk}:{plan.attempt}:{request_digest}"},
    )


def _checkout_keep(
    student_year: StudentYear, session, *, despite_waiver: bool
) -> tuple[str | None, str]:
    """Keep a new page if the year, locked again, still owes its amount: (its url, "") or
    (another live page's url, "") or (None, why it cannot be paid)."""
    amount = from_cents(session.amount_total)
    with transaction.atomic():
        student_year = _locked(student_year)
        account = _account_of(student_year)
        refusal = card_payment_refusal(account, despite_waiver=despite_waiver)
        if refusal:
            return None, refusal
        if account.balance != amount:
            return None, (
                f"What is owed for {account.label} changed just now: it is "
                f"{dollars(account.balance)}. Press Pay again."
            )
        try:
            with transaction.atomic():
                CheckoutSession.objects.create(
                    student_year=student_year,
                    stripe_session_id=session.id,
                    url=session.url,
                    amount=amount,
                    attempt=_next_attempt(student_year),
                    expires_at=dt.datetime.fromtimestamp(session.expires_at, tz=dt.UTC),
                )
        except IntegrityError:
            # Another click opened a page for this year a moment ago: the same one (a double
            # click), or the other (the student's and a parent's page at once). Use it.
            winner = student_year.checkout_sessions.filter(
                status=CheckoutSession.Status.OPEN
            ).first()
            if winner is None:
                return None, f"A payment for {account.label} is already under way."
            if winner.stripe_session_id == session.id:
                return winner.url, ""
            return None, (
                f"Someone else is paying for {account.label} right now. "
                "Reload this page in a few minutes to see the result."
            )
        return session.url, ""


def _next_attempt(student_year: StudentYear) -> int:
    latest = (
        student_year.checkout_sessions.order_by("-attempt")
        .values_list("attempt", flat=True)
        .first()
    )
    return (latest or 0) + 1


HANDLED_EVENTS = {
    "checkout.session.completed",
    "checkout.session.async_payment_succeeded",
    "checkout.session.async_payment_failed",
    "checkout.session.expired",
}


class _Outcome(Enum):
    """What Stripe's current state of a session means for the fee account."""

    OPEN = "open"
    PAID = "paid"
    PROCESSING = "processing"
    FAILED = "failed"
    EXPIRED = "expired"


def _outcome_of(session) -> _Outcome:
    if session.payment_status == "paid":
        return _Outcome.PAID
    if session.status == "expired":
        return _Outcome.EXPIRED
    if session.status != "complete":
        return _Outcome.OPEN
    # Complete but not paid: a bank payment, still on its way or failed. Only the
    # PaymentIntent tells which; without its word, it is still on its way (never pay twice).
    intent = session.payment_intent
    intent_status = getattr(intent, "status", None) if not isinstance(intent, str) else None
    if intent_status in ("requires_payment_method", "canceled"):
        return _Outcome.FAILED
    return _Outcome.PROCESSING


def _intent_id(session) -> str | None:
    intent = session.payment_intent
    return intent if isinstance(intent, str) or intent is None else intent.id


def checkout_fulfil(
    *, stripe_session_id: str, event_id: str = "", event_type: str = ""
) -> Payment | None:
    """Record what Stripe says about a session now, once. Called by the webhook and the success page.

    The session is read again from Stripe, whatever the caller was told: an event says only
    that something happened, and events arrive late, twice or out of order.
    """
    checkout = (
        CheckoutSession.objects.select_related("student_year")
        .filter(stripe_session_id=stripe_session_id)
        .first()
    )
    if checkout is None:
        return None  # not one of ours
    session = checkout_session_read(stripe_client(), stripe_session_id)
    return _checkout_settle(checkout, session, event_id=event_id, event_type=event_type)


def _checkout_settle(
    checkout: CheckoutSession, session, *, event_id: str = "", event_type: str = ""
) -> Payment | None:
    """The one fulfilment path: what Stripe's session says now, recorded under the year's lock.

    Paid: one Payment (its receipt and the credit it earns follow). Processing: the year
    offers no second payment. Failed: the year is payable again, and the family is told
    once. Expired: nothing. A replayed event id, or a session already recorded, changes
    nothing; a late "failed" for a paid session finds it paid and leaves it so.
    """
    with transaction.atomic():
        student_year = _locked(checkout.student_year)
        if event_id:
            try:
                with transaction.atomic():
                    StripeEvent.objects.create(
                        event_id=event_id, type=event_type, stripe_session_id=session.id
                    )
            except IntegrityError:
                return None  # this event was handled before
        checkout.refresh_from_db()
        checkout.checked_at = timezone.now()
        checkout.save(update_fields=["checked_at"])
        existing = Payment.objects.filter(stripe_checkout_session_id=session.id).first()
        if existing:
            _set_checkout_status(checkout, CheckoutSession.Status.COMPLETE)
            return existing
        outcome = _outcome_of(session)
        if outcome == _Outcome.PAID:
            _set_checkout_status(checkout, CheckoutSession.Status.COMPLETE)
            return _record_payment(
                student_year,
                method=Payment.Method.CARD,
                amount=from_cents(session.amount_total),
                reference=_intent_id(session) or "",
                stripe_checkout_session_id=session.id,
                stripe_payment_intent_id=_intent_id(session),
            )
        if outcome == _Outcome.PROCESSING and checkout.status != CheckoutSession.Status.PROCESSING:
            checkout.processing_since = checkout.processing_since or timezone.now()
            checkout.save(update_fields=["processing_since"])
            _set_checkout_status(checkout, CheckoutSession.Status.PROCESSING)
        elif outcome == _Outcome.FAILED and checkout.status != CheckoutSession.Status.FAILED:
            _set_checkout_status(checkout, CheckoutSession.Status.FAILED)
            # The family believed it paid; the office may need to call before reminders go out.
            _flag(student_year, f"A bank payment started on the card page failed ({checkout}).")
            _email_payment_failed(checkout)
        elif outcome == _Outcome.EXPIRED:
            _set_checkout_status(checkout, CheckoutSession.Status.EXPIRED)
        return None


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


def checkouts_reconcile() -> int:
    """Ask Stripe about card pages whose end we may not have heard of; record what it says.

    A webhook can be lost (the database restarting, a worker killed mid-request) and
    Stripe's retries can take hours, so every few minutes (Celery beat) each page open
    for a while, and each bank payment still processing (hourly), is read again from Stripe
    and settled through the one fulfilment path. A page past its expiry that Stripe still
    shows open is closed. Returns how many pages changed state.
    """
    now = timezone.now()
    asked_recently = now - dt.timedelta(minutes=settings.STRIPE_RECONCILE_AFTER_MINUTES)
    due = CheckoutSession.objects.select_related("student_year").filter(
        Q(status=CheckoutSession.Status.OPEN, created_at__lte=asked_recently)
        & (Q(checked_at__isnull=True) | Q(checked_at__lte=asked_recently))
        | Q(status=CheckoutSession.Status.PROCESSING)
        & (Q(checked_at__isnull=True) | Q(checked_at__lte=now - dt.timedelta(hours=1)))
    )
    client = stripe_client()
    changed = 0
    for checkout in due.order_by("created_at"):
        before = checkout.status
        try:
            session = checkout_session_read(client, checkout.stripe_session_id)
            expires_at = checkout.expires_at or checkout.created_at + dt.timedelta(days=1)
            if session.status == "open" and expires_at <= now:
                with contextlib.suppress(stripe.InvalidRequestError):  # paid meanwhile
                    client.v1.checkout.sessions.expire(checkout.stripe_session_id)
                session = checkout_session_read(client, checkout.stripe_session_id)
            _checkout_settle(checkout, session)
        except (stripe.StripeError, DatabaseError):
            logger.warning("Could not reconcile checkout %s", checkout, exc_info=True)
            continue
        checkout.refresh_from_db(fields=["status"])
        changed += checkout.status != before
    return changed


def _set_checkout_status(checkout: CheckoutSession, status: str) -> None:
    if checkout.status != status:
        checkout.status = status
        checkout.save(update_fields=["status"])


def _record_payment(student_year: StudentYear, **fields) -> Payment:
    """Insert a payment on a locked student-year. The one overpayment rule: a payment of more
    than the year still owed (any payment, once the year is settled) is kept, marked as an
    overpayment and flagged for staff.

    The ledger is read once: the receipt and the credit rule use that reading, with the new
    payment added.
    """
    accounts = year_accounts(student_year.student)
    account = next(
        a for a in accounts if a.student_year is not None and a.student_year.pk == student_year.pk
    )
    owed = account.balance
    is_overpayment = money(fields["amount"]) > owed
    payment = Payment.objects.create(
        student_year=student_year,
        received_on=fields.pop("received_on", None) or timezone.localdate(),
        is_overpayment=is_overpayment,
        **fields,
    )
    account.payments.append(payment)
    if is_overpayment and owed <= 0:
        _flag(student_year, f"Overpaid: {payment} arrived for a year already settled.")
    elif is_overpayment:
        _flag(
            student_year,
            f"Overpaid: {payment} is {dollars(payment.amount - owed)} more than the year owed.",
        )
    _email_receipt(payment, account)
    # A payment after the grade earns the credit now.
    credit_reevaluate_year(
        student=student_year.student,
        start_year=student_year.school_year_id,
        fee_settled=_year_settled(accounts, student_year.school_year_id),
    )
    return payment


def _year_settled(accounts: list[YearAccount], start_year: int) -> bool:
    """Whether every account of the year is paid or waived: the credit rule's question."""
    return all(a.is_settled for a in accounts if a.terms.start_year == start_year)


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


def _email_receipt(payment: Payment, account: YearAccount) -> None:
    student = payment.student_year.student
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
    _checkout_settle(checkout, checkout_session_read(client, checkout.stripe_session_id))
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
    if account.state == FeeState.PROCESSING:
        return (
            f"A payment for {account.label} is processing. If it does not go through, "
            "you can ask for a fee waiver then."
        )
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
        # The ledger read once: the overpayment check, the email and the credit rule use it.
        accounts = year_accounts(waiver.student_year.student)
        account = next(
            a
            for a in accounts
            if a.student_year is not None and a.student_year.pk == waiver.student_year_id
        )
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
        credit_reevaluate_year(
            student=student,
            start_year=waiver.student_year.school_year_id,
            fee_settled=_year_settled(accounts, waiver.student_year.school_year_id),
        )
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
