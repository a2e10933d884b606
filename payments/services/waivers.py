"""Fee waivers: asked for by the student (or opened for every year of a student on free or
reduced-price lunch), granted or denied by staff. A granted waiver takes the year's fees
to $0.00; money already paid stays (fees are non-refundable) and the year is flagged."""

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from simple_history.utils import bulk_create_with_history

from grading.services.credit import credit_reevaluate_year
from outbox.services import email_queue
from payments.models import StudentYear, Waiver
from payments.selectors import (
    FeeState,
    YearAccount,
    accounts_of_student_years,
    year_account,
    year_accounts,
    year_accounts_many,
)
from payments.services.checkout import checkout_expire_open
from payments.services.ledger import (
    PaymentRefused,
    pay_links,
    student_year_account,
    student_year_flag,
    student_year_get_or_create,
    student_year_lock,
    year_settled,
)
from registration.models import Registration
from sers.formatting import dollars
from students.models import Student


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
            refusal = waiver_request_refusal(student_year_account(student_year_lock(student_year)))
            if refusal:
                raise PaymentRefused(refusal)
            return Waiver.objects.create(
                student_year=student_year, reason=reason, note=note.strip()
            )
    except IntegrityError:
        raise PaymentRefused(
            f"You already asked for this waiver for {student_year.school_year}. We will email you our decision."
        ) from None


def free_lunch_waivers_open(
    *, student: Student | None = None, consortium_ids: list[int] | None = None
) -> int:
    """A waiting free/reduced-lunch waiver for every year a student on free lunch registered in.

    Safe to run again and again (the unique constraint keeps one per year); run
    by Celery beat, from the admin, and when the student opens the fees page.
    A fixed number of queries per school year, however many students. With
    ``consortium_ids`` (consortium staff in the admin) only those consortia's fee years.
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
            and (consortium_ids is None or account.consortium.pk in consortium_ids)
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
        student_year_lock(waiver.student_year)
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
            student_year_flag(
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
                "sers_contact": waiver.student_year.consortium.contact,
                "waiver": waiver,
                "granted": status == Waiver.Status.GRANTED,
                "account": account,
                **pay_links(),
            },
            unique_key=f"waiver_decision:{waiver.pk}",
            about=f"student {student.sers_id}",
            consortium_id=waiver.student_year.consortium_id,
        )
        credit_reevaluate_year(
            student=student,
            start_year=waiver.student_year.school_year_id,
            fee_settled=year_settled(accounts, waiver.student_year.school_year_id),
        )
    return True
