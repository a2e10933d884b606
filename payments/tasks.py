from celery import shared_task

from payments.services.checkout import checkouts_reconcile
from payments.services.reminders import payment_reminders_send
from payments.services.waivers import free_lunch_waivers_open


@shared_task(acks_late=True)
def open_free_lunch_waivers() -> int:
    """Give every student on free or reduced-price lunch a waiting waiver for each registered year."""
    return free_lunch_waivers_open()


@shared_task(acks_late=True)
def send_payment_reminders() -> int:
    """Before the payment deadline: remind students who registered but have not paid."""
    return payment_reminders_send()


@shared_task(acks_late=True)
def reconcile_checkouts() -> int:
    """Every few minutes: record card payments whose webhook was lost; close stale card pages."""
    return checkouts_reconcile()
