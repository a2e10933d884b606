"""How SERS writes money and dates everywhere: $50.00, June 15, 2026."""

import datetime as dt

from django.utils.dateformat import format as format_date

from sers.money import money


def dollars(amount) -> str:
    if amount is None or amount == "":
        return ""
    value = money(amount)  # rounded as every charge and payment is
    sign = "-" if value < 0 else ""
    return f"{sign}${abs(value):,.2f}"


def long_date(day: dt.date | None) -> str:
    if not day:
        return ""
    return format_date(day, "F j, Y")
