"""The payment reminder: once per student and school year, before the payment deadline."""

from django.db import transaction

from articulations.models import Consortium
from articulations.school_year import WindowState
from articulations.selectors import current_terms
from outbox.models import OutboxEmail
from outbox.services import email_queue
from payments.selectors import FeeState, year_accounts_many
from payments.services.ledger import pay_links
from registration.models import Registration
from students.models import Student

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
                        "sers_contact": consortium.contact,
                        "account": account,
                        **pay_links(),
                    },
                    unique_key=keys[student.pk],
                    about=f"student {student.sers_id}",
                    consortium_id=consortium.pk,
                )
            sent += 1
    return sent
