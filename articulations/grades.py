"""The letter-grade scale teachers post and articulations set their minimum on."""

from django.db import models


class LetterGrade(models.TextChoices):
    A = "A", "A"
    A_MINUS = "A-", "A-"
    B_PLUS = "B+", "B+"
    B = "B", "B"
    B_MINUS = "B-", "B-"
    C_PLUS = "C+", "C+"
    C = "C", "C"
    C_MINUS = "C-", "C-"
    D_PLUS = "D+", "D+"
    D = "D", "D"
    F = "F", "F"
    INCOMPLETE = "I", "I (incomplete)"
    WITHDRAWN = "W", "W (withdrawn)"


# Best first. I and W are not on the scale: they never meet a minimum.
GRADE_SCALE = [
    LetterGrade.A,
    LetterGrade.A_MINUS,
    LetterGrade.B_PLUS,
    LetterGrade.B,
    LetterGrade.B_MINUS,
    LetterGrade.C_PLUS,
    LetterGrade.C,
    LetterGrade.C_MINUS,
    LetterGrade.D_PLUS,
    LetterGrade.D,
    LetterGrade.F,
]

# An articulation may ask for any passing grade as its minimum.
MINIMUM_GRADE_CHOICES = [
    (grade.value, grade.label) for grade in GRADE_SCALE if grade != LetterGrade.F
]
DEFAULT_MINIMUM_GRADE = LetterGrade.B


def meets_minimum(grade: str, minimum: str) -> bool:
    """True when ``grade`` is at or above ``minimum`` (B- does not meet B; I and W never do)."""
    if grade not in GRADE_SCALE or minimum not in GRADE_SCALE:
        return False
    return GRADE_SCALE.index(grade) <= GRADE_SCALE.index(minimum)
