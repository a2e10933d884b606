"""Every write about money, one transaction each, on a locked student-year account.

A module per subject; callers import from the module itself:

- ``ledger``: what every way of paying shares: ``PaymentRefused``, the student-year and
  its lock, ``payment_record`` (the one overpayment rule, the receipt, the credit rule),
  ``student_year_flag``.
- ``checkout``: card payments through Stripe Checkout, from the page to the one
  fulfilment path, the webhook and the reconciling beat job.
- ``offline``: checks and money orders staff record.
- ``waivers``: fee waivers asked for, opened for free/reduced-lunch students, decided.
- ``reminders``: the reminder before the payment deadline.

Rules: pay only after registering a class that year, only inside the payment window, only
when something is owed. A card payment is recorded once, from Stripe's own word (the
session re-read from Stripe), whoever asks first: the signed webhook or the success page.
An overpayment is recorded and flagged, never dropped. Nothing is ever refunded.
"""
