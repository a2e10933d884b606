"""Invitations: consortium staff make a login for a teacher, a registrar or district staff.

Nobody is given a password. ``user_invite`` makes the login (the username is the email
address, lowercased) with an unusable password, so it cannot log in yet, and mails an
invitation: a one-time link, valid for ``settings.PASSWORD_RESET_TIMEOUT``, where the person
chooses a password (``invitations.views``). From then on they log in like everyone else.
Staff can send a new link to anyone who has not chosen a password yet (``invitation_send``).

The role's own row (a ``Teacher``, a ``Registrar``...) belongs to the app above that calls
this one, in the same transaction: the email leaves only once both are committed.
"""

from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import BaseUserManager
from django.contrib.auth.hashers import UNUSABLE_PASSWORD_PREFIX
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from invitations.tokens import invitation_token_generator
from outbox.models import OutboxEmail
from outbox.services import email_queue

# The username is the email address, and usernames hold at most 150 characters.
EMAIL_MAX_LENGTH = 150


@dataclass(frozen=True)
class Role:
    words: str  # "You have a SERS account as ..."
    work: str  # what they do in SERS, for the email


ROLES = {
    "teacher": Role(
        words="a teacher",
        work="You will see the rosters of your articulated classes, confirm who is "
        "enrolled and post final grades.",
    ),
    "registrar": Role(
        words="a college registrar",
        work="You will download the list of students who earned credit at your college.",
    ),
    "district": Role(
        words="district or school staff",
        work="You will look up your schools' students and see who registered, paid and "
        "earned credit.",
    ),
}


class InvitationRefused(Exception):
    """A reason staff can read and act on; the admin shows it on the form."""

    field = "email"


def _role(role: str) -> Role:
    try:
        return ROLES[role]
    except KeyError:
        raise ValueError(f"Unknown role {role!r}: use one of {', '.join(ROLES)}.") from None


def username_for_email(email: str) -> str:
    return email.strip().lower()


def email_in_use_problem(email: str) -> str | None:
    """Why ``email`` cannot get a new login, or None: another login has it already."""
    email = email.strip()
    if len(email) > EMAIL_MAX_LENGTH:
        return f"Use an email address of at most {EMAIL_MAX_LENGTH} characters."
    other = (
        get_user_model()
        .objects.filter(Q(username__iexact=username_for_email(email)) | Q(email__iexact=email))
        .order_by("pk")
        .first()
    )
    if other is None:
        return None
    return (
        f"The SERS login {other.get_username()} already uses {email}. Each person needs an "
        "email address of their own: enter another one."
    )


def user_invite(*, email: str, first_name: str, last_name: str, invited_by, role: str):
    """Make the login of a person staff invite, and mail them the invitation.

    The login is active but has no usable password: it cannot log in until its person
    follows the link and chooses one. An email address another login already uses is
    refused (``InvitationRefused``), also when two staff members invite it at once.
    """
    _role(role)  # an unknown role is a mistake in the code, found before anything is written
    problem = email_in_use_problem(email)
    if problem:
        raise InvitationRefused(problem)
    email = BaseUserManager.normalize_email(email.strip())
    with transaction.atomic():
        try:
            with transaction.atomic():
                user = get_user_model().objects.create_user(
                    username=username_for_email(email),
                    email=email,
                    password=None,  # unusable: no login until the person chooses one
                    first_name=first_name.strip(),
                    last_name=last_name.strip(),
                )
        except IntegrityError:
            # Someone invited the same address a moment ago: the unique username decides.
            raise InvitationRefused(
                email_in_use_problem(email)
                or f"The SERS login {username_for_email(email)} already exists: enter another email."
            ) from None
        invitation_send(user=user, role=role, sent_by=invited_by)
    return user


def invitation_send(*, user, role: str, sent_by=None) -> OutboxEmail:
    """Queue the invitation email with a fresh one-time link to choose a password.

    Earlier links of the same person keep working until they expire or one of them is
    used. Refused for a login whose person has already chosen a password.
    """
    details = _role(role)
    if is_activated(user):
        raise InvitationRefused(
            f"{user.get_username()} has already chosen a password and logs in as usual."
        )
    uidb64 = urlsafe_base64_encode(force_bytes(user.pk))
    token = invitation_token_generator.make_token(user)
    accept_url = settings.SITE_URL + reverse(
        "invitations:accept", kwargs={"uidb64": uidb64, "token": token}
    )
    with transaction.atomic():
        return email_queue(
            kind="invitation",
            to=user.email,
            template="invitation",
            context={
                "first_name": user.first_name,
                "username": user.get_username(),
                "role": details,
                "accept_url": accept_url,
                "link_lifetime": link_lifetime(),
                "sent_by_name": (sent_by.get_full_name() if sent_by else "") or "",
                "sent_by_email": (sent_by.email if sent_by else "") or "",
            },
            # One message per link: the token changes every second and once the password is set.
            unique_key=f"invitation:{uidb64}:{token}",
            about=f"{role} {user.get_username()}",
        )


def is_activated(user) -> bool:
    """Whether the person has followed an invitation (or otherwise has a password)."""
    return user.has_usable_password()


def activated_q(user_path: str = "") -> Q:
    """The query twin of ``is_activated``, through ``user_path`` (e.g. "user")."""
    prefix = f"{user_path}__" if user_path else ""
    return ~Q(**{f"{prefix}password__startswith": UNUSABLE_PASSWORD_PREFIX})


def link_lifetime() -> str:
    """How long an invitation link works, in words: "3 days", "12 hours"."""
    seconds = settings.PASSWORD_RESET_TIMEOUT
    days, rest = divmod(seconds, 24 * 60 * 60)
    if days and not rest:
        return f"{days} day{'' if days == 1 else 's'}"
    hours = max(1, seconds // (60 * 60))
    return f"{hours} hour{'' if hours == 1 else 's'}"
