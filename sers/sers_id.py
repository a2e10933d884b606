"""SERS IDs: ``TP3-NN-NNNN``, random, and forgiving when typed.

The ID is what a student needs to pay, to get help and to be found by staff.
It is random rather than sequential so that a neighbour's ID cannot be
guessed from one's own; uniqueness is the database's job (see
``students.services.student_create``, which retries on a clash).
"""

import re
import secrets

PREFIX = "TP3"
SERS_ID_PATTERN = r"^TP3-[0-9]{2}-[0-9]{4}$"
EXAMPLE = "TP3-07-4412"

# Whatever people put between the parts: spaces, hyphens, dots, slashes, underscores.
_SEPARATORS = re.compile(r"[\s\-._/]+")
_TYPED = re.compile(r"^(?:TP3)?([0-9]{6})$")


class InvalidSersId(ValueError):
    def __init__(self, typed: str):
        super().__init__(f"Enter a SERS ID like {EXAMPLE}.")
        self.typed = typed


def format_sers_id(number: int) -> str:
    digits = f"{number:06d}"
    return f"{PREFIX}-{digits[:2]}-{digits[2:]}"


def random_sers_id() -> str:
    return format_sers_id(secrets.randbelow(1_000_000))


def parse_sers_id(typed: str) -> str:
    """The canonical ``TP3-NN-NNNN`` for what someone typed, or InvalidSersId.

    ``tp3 07 4412``, ``TP3074412``, ``tp3-07-4412`` and ``07-4412`` all mean
    ``TP3-07-4412``: people copy IDs from emails, read them aloud over the
    phone and leave the prefix off.
    """
    match = _TYPED.match(_SEPARATORS.sub("", typed.strip().upper()))
    if not match:
        raise InvalidSersId(typed)
    return format_sers_id(int(match.group(1)))
