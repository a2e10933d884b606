"""Fees in the admin: checks recorded, payments listed and totalled, waivers decided.

Every write goes through ``payments.services`` (a check is recorded by
``payment_record_offline``, a waiver decided by ``waiver_grant``/``waiver_deny``)
and every balance and state comes from ``payments.selectors``. Payments are a
ledger: staff add checks and money orders, never edit or delete a payment.
Lists fetch their relations with the rows, so a page makes the same few queries
however long it is; a SERS ID typed in any form finds that student's rows.

A module per model group: ``payment``, ``waiver``, ``student_year`` (what needs
attention), ``stripe_records`` (Stripe's side, to look at), and ``common`` (what they share).
"""

# Django's admin autodiscovery imports ``payments.admin``; importing the modules here is what
# registers their ModelAdmins (each module's ``@admin.register``). Nothing else imports this way.
from payments.admin import payment, stripe_records, student_year, waiver  # noqa: F401
