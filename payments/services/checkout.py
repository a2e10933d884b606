"""Card payments through Stripe Checkout: whether a year can be paid by card now, the card
page opened (``checkout_start``), and what Stripe says of it recorded through the one
fulfilment path (``_checkout_settle``): from the success page, the webhook, the beat job that
catches lost webhooks, or before staff change what is owed.

Rules: pay only after registering a class that year, only inside the payment window (or once
staff approved prior-year credit in it), only when something is owed. A card payment is
recorded once, from Stripe's own word (the session re-read from Stripe), whoever asks first:
the signed webhook or the success page.
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

from articulations.school_year import WindowState, school_year_label
from outbox.services import email_queue
from payments.models import CheckoutSession, Payment, StripeEvent, StripeWebhookFailure, StudentYear
from payments.selectors import FeeState, YearAccount
from payments.services.ledger import (
    PaymentRefused,
    pay_links,
    payment_record,
    student_year_account,
    student_year_flag,
    student_year_get_or_create,
    student_year_lock,
)
from payments.stripe_gateway import checkout_session_read, stripe_client
from registration.models import Registration
from sers.formatting import dollars, long_date
from sers.money import from_cents, to_cents
from students.models import Student

logger = logging.getLogger(__name__)


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
        student_year = student_year_lock(student_year)
        account = student_year_account(student_year)
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
        student_year = student_year_lock(student_year)
        account = student_year_account(student_year)
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
        student_year = student_year_lock(checkout.student_year)
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
            return payment_record(
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
            student_year_flag(
                student_year, f"A bank payment started on the card page failed ({checkout})."
            )
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


def _set_checkout_status(checkout: CheckoutSession, status: str) -> None:
    if checkout.status != status:
        checkout.status = status
        checkout.save(update_fields=["status"])


def _email_payment_failed(checkout: CheckoutSession) -> None:
    student = checkout.student_year.student
    email_queue(
        kind="payment_failed",
        to=student.email,
        template="payment_failed",
        context={
            "student": student,
            "checkout": checkout,
            "sers_contact": checkout.student_year.consortium.contact,
            "school_year": school_year_label(checkout.student_year.school_year_id),
            **pay_links(),
        },
        unique_key=f"payment_failed:{checkout.stripe_session_id}",
        about=f"student {student.sers_id}",
        consortium_id=checkout.student_year.consortium_id,
    )
