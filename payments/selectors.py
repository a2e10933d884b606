"""The one place a year's fee balance and state are worked out.

Pages, the admin, the credit rule and emails all ask here. Charges follow from
the student's registrations and the year's terms (amounts per consortium and
school year, never a literal): the consortium fee once the student has
registered a class that year (classes all withdrawn before any payment charge
nothing; a fee already paid stays, non-refundable), and the late fee once for a
year with approved prior-year credit whose fee staff did not waive. A granted
waiver covers both.
"""

from dataclasses import dataclass, field
from decimal import Decimal

from django.db import models
from django.db.models import Prefetch
from django.shortcuts import get_object_or_404

from articulations.models import Consortium
from articulations.selectors import year_terms_many
from articulations.terms import YearTerms
from payments.models import CheckoutSession, Payment, StudentYear, Waiver
from registration.models import Registration
from sers.money import ZERO, money
from students.models import Student


class FeeState(models.TextChoices):
    UNPAID = "unpaid", "Unpaid"
    # A payment has started (a bank transfer) and not settled: no second payment is offered.
    PROCESSING = "processing", "Processing"
    PAID = "paid", "Paid"
    WAIVED = "waived", "Waived"
    OVERPAID = "overpaid", "Overpaid"


SETTLED_STATES = {FeeState.PAID, FeeState.WAIVED, FeeState.OVERPAID}


@dataclass(frozen=True)
class Charge:
    description: str
    amount: Decimal
    is_late_fee: bool = False


@dataclass
class YearAccount:
    student: Student
    consortium: Consortium
    terms: YearTerms
    student_year: StudentYear | None
    registrations: list[Registration] = field(default_factory=list)
    payments: list[Payment] = field(default_factory=list)
    waivers: list[Waiver] = field(default_factory=list)
    # The year's card page whose bank payment is on its way, if any (at most one: a constraint).
    processing_checkout: CheckoutSession | None = None

    @property
    def label(self) -> str:
        return self.terms.label

    @property
    def has_registration(self) -> bool:
        return any(registration.is_active for registration in self.registrations)

    @property
    def charges(self) -> list[Charge]:
        counted = self._registrations_charged()
        charges = []
        if counted:
            charges.append(
                Charge(
                    f"{self.terms.label} consortium fee ({self.consortium.name})",
                    self.terms.consortium_fee,
                )
            )
        if self._owes_late_fee(counted):
            charges.append(
                Charge(
                    f"{self.terms.label} late fee for prior-year credit",
                    self.terms.late_fee_per_prior_year,
                    is_late_fee=True,
                )
            )
        return charges

    def _registrations_charged(self) -> list[Registration]:
        # A class staff deleted was never owed. A withdrawn one keeps a fee already paid (no
        # refund), but leaves no debt: classes all withdrawn before paying charge nothing.
        counted = [
            registration
            for registration in self.registrations
            if registration.status != Registration.Status.DELETED
        ]
        if self.has_registration or self.payments:
            return counted
        return []

    @staticmethod
    def _owes_late_fee(registrations: list[Registration]) -> bool:
        # Once per year, however many approved prior-year classes, unless staff waived it.
        return any(r.is_late and not r.late_fee_waived for r in registrations)

    @property
    def charges_late_fee(self) -> bool:
        return any(charge.is_late_fee for charge in self.charges)

    @property
    def total_charged(self) -> Decimal:
        return money(sum((charge.amount for charge in self.charges), ZERO))

    @property
    def total_paid(self) -> Decimal:
        return money(sum((payment.amount for payment in self.payments), ZERO))

    @property
    def granted_waiver(self) -> Waiver | None:
        return next((w for w in self.waivers if w.status == Waiver.Status.GRANTED), None)

    @property
    def waived_amount(self) -> Decimal:
        return self.total_charged if self.granted_waiver else ZERO

    @property
    def balance(self) -> Decimal:
        """Fees − payments − waivers: above zero is owed, below zero is overpaid."""
        return money(self.total_charged - self.total_paid - self.waived_amount)

    @property
    def state(self) -> FeeState:
        if self.balance < 0:
            return FeeState.OVERPAID
        if self.granted_waiver:
            return FeeState.WAIVED
        if self.balance == 0:
            # Nothing owed: paid in full, or nothing charged (a $0.00 fee, classes withdrawn
            # before paying), which must not hold back the year's other accounts.
            return FeeState.PAID
        if self.processing_checkout:
            return FeeState.PROCESSING
        return FeeState.UNPAID

    @property
    def nothing_charged(self) -> bool:
        """No fee and no money in this account: nothing to pay, and no "paid" to show."""
        return self.total_charged == 0 and not self.payments and not self.granted_waiver

    @property
    def is_settled(self) -> bool:
        return self.state in SETTLED_STATES

    @property
    def open_waiver_request(self) -> Waiver | None:
        return next((w for w in self.waivers if w.status == Waiver.Status.REQUESTED), None)

    @property
    def has_approved_prior_year(self) -> bool:
        """Staff approved a prior-year class: the year is payable although its window closed."""
        return any(r.is_late and r.is_active for r in self.registrations)


def year_accounts(student: Student) -> list[YearAccount]:
    """Every school year the student has a fee account in, newest first, in a fixed number of queries."""
    accounts = _accounts(
        Registration.objects.filter(student=student),
        StudentYear.objects.filter(student=student),
    )
    return [account for account in accounts if account.student.pk == student.pk]


def fee_states(students: list[Student], start_year: int) -> dict[int, FeeState]:
    """The fee state of ``start_year`` for many students at once (a roster), by student id.

    A student with accounts in two consortia that year is settled only when both are.
    """
    by_student: dict[int, list[YearAccount]] = {}
    for account in year_accounts_many(students, start_year).values():
        by_student.setdefault(account.student.pk, []).append(account)
    return {
        # An unsettled account decides: the student still owes something that year.
        student_id: next((a.state for a in group if not a.is_settled), group[0].state)
        for student_id, group in by_student.items()
    }


def year_accounts_many(
    students: list[Student], start_year: int
) -> dict[tuple[int, int], YearAccount]:
    """Every account of ``start_year`` for many students at once, by (student id, consortium id),
    in a fixed number of queries however many students."""
    ids = [student.pk for student in students]
    accounts = _accounts(
        Registration.objects.filter(student_id__in=ids, school_year_id=start_year),
        StudentYear.objects.filter(student_id__in=ids, school_year_id=start_year),
    )
    return {(account.student.pk, account.consortium.pk): account for account in accounts}


def _accounts(registrations, student_years) -> list[YearAccount]:
    """Accounts for these registrations and fee years: six queries however many rows."""
    registrations = list(
        registrations.select_related("student", "course_class__school__consortium")
    )
    student_years = {
        (
            student_year.student_id,
            student_year.consortium_id,
            student_year.school_year_id,
        ): student_year
        for student_year in student_years.select_related("student", "consortium").prefetch_related(
            Prefetch("payments", queryset=Payment.objects.order_by("received_on", "pk")),
            Prefetch("waivers", queryset=Waiver.objects.order_by("created_at")),
            Prefetch(
                "checkout_sessions",
                queryset=CheckoutSession.objects.filter(status=CheckoutSession.Status.PROCESSING),
                to_attr="processing_checkouts",
            ),
        )
    }
    keys: dict[tuple[int, int, int], tuple[Student, Consortium]] = {}
    for registration in registrations:
        consortium = registration.course_class.school.consortium
        key = (registration.student_id, consortium.pk, registration.school_year_id)
        keys.setdefault(key, (registration.student, consortium))
    for key, student_year in student_years.items():
        keys.setdefault(key, (student_year.student, student_year.consortium))
    terms = year_terms_many((consortium, key[2]) for key, (_, consortium) in keys.items())
    by_key: dict[tuple[int, int, int], list[Registration]] = {}
    for registration in registrations:
        key = (
            registration.student_id,
            registration.course_class.school.consortium_id,
            registration.school_year_id,
        )
        by_key.setdefault(key, []).append(registration)
    accounts = []
    for key in sorted(keys, key=lambda key: (key[0], -key[2], key[1])):
        student, consortium = keys[key]
        student_year = student_years.get(key)
        accounts.append(
            YearAccount(
                student=student,
                consortium=consortium,
                terms=terms[(consortium.pk, key[2])],
                student_year=student_year,
                registrations=by_key.get(key, []),
                payments=list(student_year.payments.all()) if student_year else [],
                waivers=list(student_year.waivers.all()) if student_year else [],
                processing_checkout=(
                    next(iter(student_year.processing_checkouts), None) if student_year else None
                ),
            )
        )
    return accounts


def year_account(student: Student, consortium_id: int, start_year: int) -> YearAccount | None:
    return next(
        (
            account
            for account in year_accounts(student)
            if account.consortium.pk == consortium_id and account.terms.start_year == start_year
        ),
        None,
    )


def payment_of_student(student: Student, payment_id: int) -> Payment:
    """One of the student's own payments; 404 for anyone else's."""
    return get_object_or_404(
        Payment.objects.select_related("student_year__student", "student_year__consortium"),
        pk=payment_id,
        student_year__student=student,
    )


def settled_years(student: Student) -> set[int]:
    """The school years whose fee the student has paid or had waived (registration pages ask)."""
    return _settled(year_accounts(student))


def _settled(accounts: list[YearAccount]) -> set[int]:
    years = {account.terms.start_year for account in accounts}
    return {
        year
        for year in years
        if all(account.is_settled for account in accounts if account.terms.start_year == year)
    }


def accounts_of_student_years(student_years: list[StudentYear]) -> dict[int, YearAccount]:
    """The account of each student-year of a list page (the admin), by its id, in fixed queries."""
    if not student_years:
        return {}
    accounts = _accounts(
        Registration.objects.filter(
            student_id__in={student_year.student_id for student_year in student_years},
            school_year_id__in={student_year.school_year_id for student_year in student_years},
        ),
        StudentYear.objects.filter(pk__in=[student_year.pk for student_year in student_years]),
    )
    return {account.student_year.pk: account for account in accounts if account.student_year}


@dataclass(frozen=True)
class FeeFacts:
    """What a student's registration pages say about fees, from one reading of the ledger."""

    settled_years: set[int]
    late_fee_years: set[int]
    # What is still owed each school year: the balances above zero of its accounts, added
    # up (one consortium's overpayment does not pay another's fee). Above zero exactly
    # when the year is not settled.
    owed_by_year: dict[int, Decimal] = field(default_factory=dict)
    # Years with a payment on its way (a bank transfer): nothing to do but wait.
    processing_years: set[int] = field(default_factory=set)


def fee_facts(student: Student) -> FeeFacts:
    accounts = year_accounts(student)
    owed_by_year: dict[int, Decimal] = {}
    for account in accounts:
        start_year = account.terms.start_year
        owed_by_year[start_year] = money(
            owed_by_year.get(start_year, ZERO) + max(account.balance, ZERO)
        )
    return FeeFacts(
        settled_years=_settled(accounts),
        late_fee_years={
            account.terms.start_year for account in accounts if account.charges_late_fee
        },
        owed_by_year=owed_by_year,
        processing_years={
            account.terms.start_year for account in accounts if account.state == FeeState.PROCESSING
        },
    )
