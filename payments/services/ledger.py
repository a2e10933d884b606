"""The ledger's own writes, shared by every way money comes in: the student-year account
and its lock, a payment recorded with its receipt, a year flagged for staff.

Every write about money runs in one transaction on the student-year's row, locked
(``student_year_lock``). An overpayment is recorded and flagged, never dropped
(``payment_record``). Nothing is ever refunded.
"""

from django.conf import settings
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from grading.services.credit import credit_reevaluate_year
from outbox.services import email_queue
from payments.models import Payment, StudentYear
from payments.selectors import YearAccount, year_account, year_accounts
from sers.formatting import dollars
from sers.money import money
from students.models import Student


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


def student_year_lock(student_year: StudentYear) -> StudentYear:
    return StudentYear.objects.select_for_update().get(pk=student_year.pk)


def student_year_account(student_year: StudentYear) -> YearAccount:
    # Never None: the student-year itself makes an account.
    return year_account(
        student_year.student, student_year.consortium_id, student_year.school_year_id
    )


def payment_record(student_year: StudentYear, **fields) -> Payment:
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
        student_year_flag(student_year, f"Overpaid: {payment} arrived for a year already settled.")
    elif is_overpayment:
        student_year_flag(
            student_year,
            f"Overpaid: {payment} is {dollars(payment.amount - owed)} more than the year owed.",
        )
    _email_receipt(payment, account)
    # A payment after the grade earns the credit now.
    credit_reevaluate_year(
        student=student_year.student,
        start_year=student_year.school_year_id,
        fee_settled=year_settled(accounts, student_year.school_year_id),
    )
    return payment


def year_settled(accounts: list[YearAccount], start_year: int) -> bool:
    """Whether every account of the year is paid or waived: the credit rule's question."""
    return all(a.is_settled for a in accounts if a.terms.start_year == start_year)


def student_year_flag(student_year: StudentYear, note: str) -> None:
    """Put the year on the admin's "needs attention" list, saying why."""
    student_year.needs_attention = True
    student_year.attention_note = note
    student_year.save(update_fields=["needs_attention", "attention_note"])


def pay_links() -> dict:
    """Where an email sends a student, or a parent, to pay the fee."""
    return {
        "payments_url": settings.SITE_URL + reverse("payments:fees"),
        "parent_url": settings.SITE_URL + reverse("payments:parent_pay"),
    }


def _email_receipt(payment: Payment, account: YearAccount) -> None:
    student = payment.student_year.student
    email_queue(
        kind="payment_receipt",
        to=student.email,
        template="payment_receipt",
        context={
            "student": student,
            "payment": payment,
            "sers_contact": payment.student_year.consortium.contact,
            "account": account,
            "receipt_url": settings.SITE_URL + reverse("payments:receipt", args=[payment.pk]),
        },
        unique_key=f"payment_receipt:{payment.pk}",
        about=f"student {student.sers_id}",
        consortium_id=payment.student_year.consortium_id,
    )
