from celery import shared_task

from payments.services import free_lunch_waivers_open


@shared_task(acks_late=True)
def open_free_lunch_waivers() -> int:
    """Give every student on free or reduced-price lunch a waiting waiver for each registered year."""
    return free_lunch_waivers_open()
