"""What teachers and staff do to registrations after they are made: rosters and grades."""

import csv
import io
from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from articulations.grades import LetterGrade
from articulations.models import Class, Teacher
from grading.services.credit import credit_evaluate
from outbox.services import email_queue
from registration.models import Registration
from registration.services import RegistrationRefused, class_terms
from sers.formatting import long_date
from sers.sers_id import InvalidSersId, parse_sers_id
from students.models import Student

GRADES = [grade.value for grade in LetterGrade]


@dataclass(frozen=True)
class RosterEntry:
    """The teacher's word on one student: enrolled or not, and the final grade ("" = none yet)."""

    registration_id: int
    enrollment: str
    grade: str


def roster_save(*, teacher: Teacher, course_class: Class, entries: list[RosterEntry]) -> int:
    """Save the teacher's roster in one go; how many registrations changed.

    Only the class's own teacher, only while they are approved (an ended approval posts
    nothing, whichever page asks), and only until the school year's grading deadline;
    staff change grades after it in the admin.
    """
    if course_class.teacher_id != teacher.pk:
        raise RegistrationRefused("This is not one of your classes.")
    terms = class_terms(course_class)
    today = terms.today()
    if not teacher.is_approved_on(today):
        raise RegistrationRefused(_not_approved_reason(teacher, today))
    if not terms.grading_is_open(today):
        raise RegistrationRefused(
            f"Grades for {terms.label} closed on {long_date(terms.grading_deadline)}. "
            f"Email {settings.SERS_CONTACT['email']} to change a grade."
        )
    changed = 0
    with transaction.atomic():
        registrations = {
            registration.pk: registration
            for registration in Registration.objects.select_for_update()
            .filter(course_class=course_class, status=Registration.Status.REGISTERED)
            .select_related("student", "articulation__college")
        }
        for entry in entries:
            registration = registrations.get(entry.registration_id)
            if registration is None:
                raise RegistrationRefused(
                    "A student on this form is no longer on the roster. Reload the page."
                )
            if _apply(
                registration, enrollment=entry.enrollment, grade=entry.grade, by=teacher.user
            ):
                changed += 1
    return changed


def _not_approved_reason(teacher: Teacher, today) -> str:
    contact = settings.SERS_CONTACT["email"]
    if teacher.approved_on and teacher.approval_expires_on and teacher.approval_expires_on < today:
        return (
            f"Your approval as a CTE Dual Credit teacher ended on "
            f"{long_date(teacher.approval_expires_on)}, so you cannot post grades. "
            f"Email {contact} to be approved again."
        )
    return (
        "Your teacher account waits for the consortium office's approval, so you cannot post "
        f"grades yet. Email {contact} to ask about it."
    )


def grade_set_by_staff(
    *, registration: Registration, grade: str, staff_user, enrollment: str | None = None
) -> bool:
    """Staff change a grade, or the teacher's enrollment word, at any time (with history).

    ``enrollment`` lets staff undo a wrong "not in the class" after the grading deadline.
    """
    with transaction.atomic():
        registration = (
            Registration.objects.select_for_update()
            .select_related("student", "articulation")
            .get(pk=registration.pk)
        )
        return _apply(
            registration,
            enrollment=enrollment or registration.enrollment,
            grade=grade,
            by=staff_user,
        )


def _apply(registration: Registration, *, enrollment: str, grade: str, by) -> bool:
    if enrollment not in Registration.Enrollment.values:
        raise RegistrationRefused("Choose enrolled or not in the class for each student.")
    if grade and grade not in GRADES:
        raise RegistrationRefused(
            f"{grade} is not a grade. Use A, A-, B+, B, B-, C+, C, C-, D+, D, F, I or W."
        )
    if grade and enrollment == Registration.Enrollment.REJECTED:
        raise RegistrationRefused(
            f"{registration.student.full_name} is marked not in the class, so they cannot get a grade.",
            field=f"grade-{registration.pk}",  # the roster shows it in that student's row
        )
    fields = []
    newly_rejected = False
    if registration.enrollment != enrollment:
        newly_rejected = enrollment == Registration.Enrollment.REJECTED
        registration.enrollment = enrollment
        registration.enrollment_decided_at = timezone.now()
        fields += ["enrollment", "enrollment_decided_at"]
    if registration.grade != grade:
        registration.grade = grade
        registration.grade_posted_at = timezone.now() if grade else None
        fields += ["grade", "grade_posted_at"]
    if not fields:
        return False
    registration.changed_by = by
    registration.save(update_fields=[*fields, "changed_by", "updated_at"])
    if newly_rejected:
        _email_enrollment_rejected(registration)
    credit_evaluate(registration=registration)
    return True


def _email_enrollment_rejected(registration: Registration) -> None:
    student = registration.student
    email_queue(
        kind="enrollment_rejected",
        to=student.email,
        template="enrollment_rejected",
        context={
            "student": student,
            "sers_contact": student.contact,
            "registration": registration,
            "course_name": registration.articulation.hs_course_name,
            "teacher": registration.course_class.teacher.name,
            "registrations_url": settings.SITE_URL + reverse("grading:registrations"),
        },
        unique_key=f"enrollment_rejected:{registration.pk}:{registration.enrollment_decided_at.timestamp()}",
        about=f"student {student.sers_id}",
        consortium_id=student.school.consortium_id,
    )


# --- Grade import (staff) -----------------------------------------------------------------------


@dataclass
class GradeRow:
    line: int
    sers_id: str
    class_id: str
    grade: str
    registration: Registration | None = None
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def grades_import_preview(csv_text: str, *, students=None, registrations=None) -> list[GradeRow]:
    """Read a CSV of ``sers_id,class,grade`` and say, row by row, what would happen.

    ``students`` and ``registrations`` are the rows the staff user may grade (their
    consortia's, from the admin); another's student reads as a SERS ID nobody has.
    """
    # Spreadsheets save UTF-8 with a byte-order mark in front of the first column name.
    reader = csv.DictReader(io.StringIO(csv_text.removeprefix("\ufeff")))
    missing = {"sers_id", "class", "grade"} - {
        name.strip().lower() for name in reader.fieldnames or []
    }
    if missing:
        return [
            GradeRow(
                line=1,
                sers_id="",
                class_id="",
                grade="",
                errors=[
                    f"The first row must name the columns sers_id, class, grade (missing: {', '.join(sorted(missing))})."
                ],
            )
        ]
    rows = []
    seen: dict[tuple[str, str], int] = {}
    try:
        for line, raw in enumerate(reader, start=2):
            values = {
                key.strip().lower(): (value or "").strip() for key, value in raw.items() if key
            }
            row = GradeRow(
                line=line,
                sers_id=values["sers_id"],
                class_id=values["class"],
                grade=values["grade"].upper(),
            )
            _check_grade_row(row, students=students, registrations=registrations)
            key = (row.registration.pk if row.registration else row.sers_id, row.class_id)
            if row.ok and key in seen:
                row.errors.append(
                    f"Row {seen[key]} already gives this student a grade for this class."
                )
            seen.setdefault(key, line)
            rows.append(row)
    except csv.Error as error:
        rows.append(
            GradeRow(
                line=reader.line_num,
                sers_id="",
                class_id="",
                grade="",
                errors=[f"This line cannot be read as CSV: {error}."],
            )
        )
    if not rows:
        rows.append(
            GradeRow(line=2, sers_id="", class_id="", grade="", errors=["The file has no grades."])
        )
    return rows


def _check_grade_row(row: GradeRow, *, students=None, registrations=None) -> None:
    try:
        sers_id = parse_sers_id(row.sers_id)
    except InvalidSersId:
        row.errors.append(f"{row.sers_id or 'An empty cell'} is not a SERS ID like TP3-07-4412.")
        sers_id = None
    if not row.class_id.isdigit():
        row.errors.append(
            f"Class must be the class number from the admin, not {row.class_id or 'empty'}."
        )
    if row.grade not in GRADES:
        row.errors.append(
            f"{row.grade or 'An empty cell'} is not a grade (A, A-, B+, B, B-, C+, C, C-, D+, D, F, I, W)."
        )
    if row.errors:
        return
    students = Student.objects.all() if students is None else students
    registrations = Registration.objects.all() if registrations is None else registrations
    student = students.filter(sers_id=sers_id).first()
    if student is None:
        row.errors.append(f"No student has SERS ID {sers_id}.")
        return
    row.registration = (
        registrations.filter(student=student, course_class_id=int(row.class_id))
        .select_related("student", "articulation")
        .first()
    )
    if row.registration is None:
        row.errors.append(f"{sers_id} is not registered for class {row.class_id}.")
    elif row.registration.status != Registration.Status.REGISTERED:
        row.errors.append(
            f"{sers_id}'s registration for class {row.class_id} is {row.registration.get_status_display().lower()}."
        )
    elif row.registration.enrollment == Registration.Enrollment.REJECTED:
        row.errors.append(f"The teacher marked {sers_id} not in class {row.class_id}.")


def grades_import(*, csv_text: str, staff_user, students=None, registrations=None) -> int:
    """Post every grade of the file, or none: the preview is checked again inside the transaction."""
    with transaction.atomic():
        rows = grades_import_preview(csv_text, students=students, registrations=registrations)
        bad = [row for row in rows if not row.ok]
        if bad:
            raise RegistrationRefused(
                f"Nothing was imported: {len(bad)} row(s) have problems. Fix them and try again."
            )
        return sum(
            grade_set_by_staff(
                registration=row.registration, grade=row.grade, staff_user=staff_user
            )
            for row in rows
        )
