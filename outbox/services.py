"""Queue an email: the one way SERS sends mail.

A service that changes something and must tell someone calls ``email_queue``
inside its own transaction. The email is rendered at once and stored as an
``OutboxEmail`` row in that transaction; the send task is scheduled only when
the transaction commits, so a rolled-back change sends nothing, and the task
needs nothing but the row's id.
"""

from functools import partial
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.template import Context
from django.template.loader import get_template, render_to_string
from django.utils.text import Truncator

from outbox.models import OutboxEmail
from outbox.tasks import send_outbox_email


def email_queue(
    *,
    kind: str,
    to: str,
    template: str,
    context: dict[str, Any],
    unique_key: str,
    about: str = "",
    consortium_id: int | None = None,
) -> OutboxEmail:
    """Store an email for ``to`` and send it once the caller's transaction commits.

    ``template`` names three files under templates/emails/: ``<template>_subject.txt``,
    ``<template>.txt`` and ``<template>.html``. ``unique_key`` identifies the
    message (build it from your own ids, e.g. ``f"registration_created:{registration.pk}"``):
    queuing the same key again returns the stored email and sends nothing more.
    ``about`` is free text staff search by in the admin, e.g. "student TP3-07-4412".
    ``consortium_id``: the consortium of the student it concerns, whose staff may read it.
    """
    context = {"site_url": settings.SITE_URL, "sers_contact": settings.SERS_CONTACT, **context}
    # A subject is one header line: newlines and runs of spaces from the template go.
    subject = " ".join(render_text(f"emails/{template}_subject.txt", context).split())
    subject = Truncator(subject).chars(OutboxEmail._meta.get_field("subject").max_length)
    body_text = render_text(f"emails/{template}.txt", context)
    body_html = render_to_string(f"emails/{template}.html", context)

    try:
        # A savepoint, so that a duplicate key leaves the caller's transaction usable.
        # The unique constraint decides, not a lookup first: two requests can race.
        with transaction.atomic():
            email = OutboxEmail.objects.create(
                kind=kind,
                recipient=to,
                subject=subject,
                body_text=body_text,
                body_html=body_html,
                unique_key=unique_key,
                about=about,
                consortium_id=consortium_id,
            )
    except IntegrityError:
        existing = OutboxEmail.objects.filter(unique_key=unique_key).first()
        if existing is None:
            raise  # some other constraint failed
        return existing

    send_after_commit(email.pk)
    return email


def email_resend(*, email: OutboxEmail) -> bool:
    """Queue an email again (staff, from the admin). A failed email becomes ready.

    Returns False, and does nothing, when the email has been sent meanwhile.
    """
    with transaction.atomic():
        locked = OutboxEmail.objects.select_for_update().get(pk=email.pk)
        if locked.status == OutboxEmail.Status.SENT:
            return False
        # Staff asked for it now: a retry waiting for its turn need not wait.
        locked.status = OutboxEmail.Status.READY
        locked.retry_at = None
        locked.save(update_fields=["status", "retry_at"])
        send_after_commit(locked.pk)
    email.status, email.retry_at = locked.status, locked.retry_at
    return True


def send_after_commit(email_id: int) -> None:
    # Robust: once the data is committed, a broker that does not answer must not
    # turn the user's page into an error. The row stays ready and the safety net
    # (tasks.send_ready_emails) sends it later.
    transaction.on_commit(partial(send_outbox_email.delay, email_id), robust=True)


def render_text(template_name: str, context: dict[str, Any]) -> str:
    """Render a plain-text template without HTML escaping (O'Brien, not O&#x27;Brien)."""
    # The backend's template always escapes; its inner Django template takes a
    # Context that says not to, so no text template needs {% autoescape off %}.
    return get_template(template_name).template.render(Context(context, autoescape=False))
