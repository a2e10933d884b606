"""Payments test helpers: a registered student, a card page, a signed event."""

from payments.models import CheckoutSession
from payments.services.checkout import checkout_start
from registration.services import registration_create
from registration.tests.helpers import at, one_college_class, student_at

FEBRUARY = (2027, 2, 1, 10, 0)


def registered_student(*, course_class=None, **student_fields):
    """A student registered for a 2026-27 class (the window is open in February 2027)."""
    course_class = course_class or one_college_class()
    student = student_at(course_class.school, **student_fields)
    with at(*FEBRUARY):
        registration_create(student=student, course_class=course_class)
    return student, course_class.school.consortium


def open_checkout(student, consortium, start_year=2026, **options):
    """The year's card page, opened as the Pay button does."""
    url = checkout_start(
        student=student,
        consortium_id=consortium.pk,
        start_year=start_year,
        cancel_url="http://127.0.0.1/payments/",
        **options,
    )
    return CheckoutSession.objects.get(url=url)


def post_signed(client, standin, checkout, event_type, event_id=None, timestamp=None):
    """Deliver a signed event about the page to the webhook, as Stripe would."""
    payload, signature = standin.event_for(
        checkout.stripe_session_id, event_type, event_id=event_id
    )
    if timestamp is not None:
        signature = standin.signature(payload, timestamp=timestamp)
    return client.post(
        "/payments/stripe/webhook/",
        payload,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=signature,
    )
