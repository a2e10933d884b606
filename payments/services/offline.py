"""Checks and money orders, recorded by staff in the admin."""

from django.db import IntegrityError, transaction

from payments.models import Payment
from payments.services.checkout import checkout_expire_open
from payments.services.ledger import (
    PaymentRefused,
    payment_record,
    student_year_get_or_create,
    student_year_lock,
)
from sers.money import money
from students.models import Student


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
        student_year = student_year_lock(student_year)
        try:
            with transaction.atomic():
                return payment_record(
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
