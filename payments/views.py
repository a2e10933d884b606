import logging

import stripe
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import DatabaseError
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST
from django_ratelimit.decorators import ratelimit

from payments.forms import ParentLookupForm, WaiverRequestForm, YearChoiceForm
from payments.models import CheckoutSession
from payments.selectors import FeeState, payment_of_student, year_account, year_accounts
from payments.services.checkout import (
    HANDLED_EVENTS,
    AlreadyPaid,
    card_payment_choice,
    checkout_fulfil,
    checkout_start,
    processing_note,
    stripe_event_process,
)
from payments.services.ledger import PaymentRefused
from payments.services.waivers import (
    free_lunch_waivers_open,
    waiver_request,
    waiver_request_refusal,
)
from payments.stripe_gateway import is_test_mode, webhook_event
from students.models import Student
from students.selectors import student_for_user

logger = logging.getLogger(__name__)

PARENT_SESSION_KEY = "parent_pay_student"
PARENT_LOOKUP_RATE = "10/h"
NO_MATCH = (
    "We could not find a student with that SERS ID and last name. "
    "Check both against an email from SERS and try again."
)


def _accounts_with_actions(student: Student) -> list[tuple]:
    return [
        (account, card_payment_choice(account), waiver_request_refusal(account))
        for account in year_accounts(student)
    ]


@login_required
def fees(request):
    student = student_for_user(request.user)
    # Students on free lunch get their waiting waiver as soon as they look (beat does it too).
    free_lunch_waivers_open(student=student)
    return render(
        request,
        "payments/fees.html",
        {
            "student": student,
            "accounts": _accounts_with_actions(student),
            "checkout_url": reverse("payments:checkout"),
            "test_mode": is_test_mode(),
        },
    )


def _start_card_payment(request, student: Student, cancel_url: str):
    form = YearChoiceForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose the school year to pay for.")
        return redirect(cancel_url)
    try:
        url = checkout_start(
            student=student,
            consortium_id=form.cleaned_data["consortium"],
            start_year=form.cleaned_data["year"],
            cancel_url=settings.SITE_URL + cancel_url,
            despite_waiver=form.cleaned_data["pay_anyway"],
        )
    except AlreadyPaid as news:
        messages.success(request, str(news))
        return redirect(cancel_url)
    except PaymentRefused as refusal:
        messages.error(request, str(refusal))
        return redirect(cancel_url)
    except stripe.StripeError:
        logger.exception("Stripe refused to open a Checkout Session")
        messages.error(
            request, "The card payment page is not answering. Please try again in a few minutes."
        )
        return redirect(cancel_url)
    # 303: the browser follows with a GET, as after any form post.
    response = HttpResponseRedirect(url)
    response.status_code = 303
    return response


@login_required
@require_POST
def checkout(request):
    student = student_for_user(request.user)
    return _start_card_payment(request, student, reverse("payments:fees"))


def checkout_success(request):
    """Where Stripe sends the payer back. It may confirm early.

    It says "did not go through" only once Stripe has said so (the session failed or expired);
    until then, "processing".
    """
    session_id = request.GET.get("session_id", "")
    checkout_row = (
        CheckoutSession.objects.select_related("student_year__student", "student_year__consortium")
        .filter(stripe_session_id=session_id)
        .first()
    )
    if checkout_row is None:
        return render(request, "payments/checkout_success.html", {"account": None}, status=404)
    payment = None
    try:
        payment = checkout_fulfil(stripe_session_id=session_id)
    except (stripe.StripeError, DatabaseError):
        # The webhook will record it; the page simply says "processing".
        logger.warning(
            "Could not confirm checkout %s from the success page", session_id, exc_info=True
        )
    checkout_row.refresh_from_db(fields=["status"])  # what checkout_fulfil just learned
    student_year = checkout_row.student_year
    account = year_account(
        student_year.student, student_year.consortium_id, student_year.school_year_id
    )
    is_owner = request.user.is_authenticated and request.user.pk == student_year.student.user_id
    return render(
        request,
        "payments/checkout_success.html",
        {
            "account": account,
            "payment": payment,
            "is_owner": is_owner,
            "checkout": checkout_row,
            "processing_note": (
                processing_note(account) if account.state == FeeState.PROCESSING else ""
            ),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def waiver(request):
    student = student_for_user(request.user)
    choice = YearChoiceForm(request.GET)
    account = (
        year_account(student, choice.cleaned_data["consortium"], choice.cleaned_data["year"])
        if choice.is_valid()
        else None
    )
    if account is None:
        messages.error(request, "Choose the school year from your fees page.")
        return redirect("payments:fees")
    form = WaiverRequestForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            waiver_request(
                student=student,
                consortium_id=account.consortium.pk,
                start_year=account.terms.start_year,
                reason=form.cleaned_data["reason"],
                note=form.cleaned_data["note"],
            )
        except PaymentRefused as refusal:
            form.add_error(refusal.field if refusal.field in form.fields else None, str(refusal))
        else:
            messages.success(
                request,
                f"We have your waiver request for {account.label}. We will email you our decision.",
            )
            return redirect("payments:fees")
    return render(
        request, "payments/waiver.html", {"form": form, "account": account, "student": student}
    )


@login_required
def receipt(request, payment_id: int):
    student = student_for_user(request.user)
    payment = payment_of_student(student, payment_id)
    return render(request, "payments/receipt.html", {"payment": payment, "student": student})


@require_http_methods(["GET", "POST"])
@ratelimit(key="ip", rate=PARENT_LOOKUP_RATE, method="POST", block=False)
def parent_pay(request):
    """A parent pays with the student's SERS ID and last name, without the student's password."""
    form = ParentLookupForm(request.POST if request.method == "POST" else None)
    student = None
    if request.method == "POST" and form.is_valid():
        if getattr(request, "limited", False):
            form.add_error(
                None, "Too many tries from this device. Please wait an hour and try again."
            )
        else:
            student = Student.objects.filter(
                sers_id=form.cleaned_data["sers_id"],
                legal_last_name__iexact=form.cleaned_data["last_name"].strip(),
            ).first()
            if student is None:
                form.add_error(None, NO_MATCH)
            else:
                request.session[PARENT_SESSION_KEY] = student.pk
    elif request.method == "GET" and request.GET.get("continue"):
        student = Student.objects.filter(pk=request.session.get(PARENT_SESSION_KEY)).first()
    return render(
        request,
        "payments/parent_pay.html",
        {
            "form": form,
            "student": student,
            "accounts": _accounts_with_actions(student) if student else [],
            "checkout_url": reverse("payments:parent_checkout"),
            "test_mode": is_test_mode(),
        },
    )


@require_POST
def parent_checkout(request):
    student = Student.objects.filter(pk=request.session.get(PARENT_SESSION_KEY)).first()
    if student is None:
        messages.error(request, "Enter the student's SERS ID and last name first.")
        return redirect("payments:parent_pay")
    return _start_card_payment(request, student, reverse("payments:parent_pay") + "?continue=1")


@csrf_exempt
@require_POST
def stripe_webhook(request):
    """Stripe's signed events. 400 for a bad signature, 5xx so Stripe retries a failure."""
    try:
        event = webhook_event(request.body, request.headers.get("Stripe-Signature", ""))
    except (ValueError, stripe.SignatureVerificationError):
        return HttpResponse("Invalid signature", status=400)
    if event["type"] not in HANDLED_EVENTS:
        return HttpResponse("Ignored", status=200)
    if not stripe_event_process(
        event_id=event["id"],
        event_type=event["type"],
        stripe_session_id=event["data"]["object"]["id"],
    ):
        return HttpResponse("Try again later", status=503)
    return HttpResponse("OK", status=200)
