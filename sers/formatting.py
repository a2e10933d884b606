"""How SERS writes money and dates everywhere: $50.00, June 15, 2026."""

import datetime as dt
from decimal import Decimal

from django.utils.dateformat import format as format_date


def dollars(amount) -> str:
    if amount is None or amount == "":
        return ""
    value = Decimal(amount).quantize(Decimal("0.01"))
    sign = "-" if value < 0 else ""
    return f"{sign}${abs(value):,.2f}"


def long_date(day: dt.date | None) -> str:
    if not day:
        return ""
    return format_date(day, "F j, Y")
