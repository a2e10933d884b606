import factory

from outbox.models import OutboxEmail
from outbox.services import email_queue


def queue_test_message(
    *, key: str = "test_message:1", to: str = "pat@example.org", name: str = "Pat", about: str = ""
) -> OutboxEmail:
    """Queue templates/emails/test_message through the real service."""
    return email_queue(
        kind="test_message",
        to=to,
        template="test_message",
        context={"name": name},
        unique_key=key,
        about=about,
    )


class OutboxEmailFactory(factory.django.DjangoModelFactory):
    """A stored email, for tests that start after queuing (admin, safety net)."""

    class Meta:
        model = OutboxEmail

    kind = "test_message"
    recipient = factory.Sequence(lambda n: f"student{n}@example.org")
    subject = factory.Sequence(lambda n: f"SERS test message {n}")
    body_text = "Hello"
    body_html = "<p>Hello</p>"
    unique_key = factory.Sequence(lambda n: f"test_message:{n}")
