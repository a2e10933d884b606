"""How SERS writes money and dates everywhere: $50.00, June 15, 2026."""

from decimal import Decimal

from django import template
from django.utils.dateformat import format as format_date

register = template.Library()


@register.filter
def dollars(amount) -> str:
    if amount is None or amount == "":
        return ""
    value = Decimal(amount).quantize(Decimal("0.01"))
    sign = "-" if value < 0 else ""
    return f"{sign}${abs(value):,.2f}"


@register.filter
def long_date(day) -> str:
    if not day:
        return ""
    return format_date(day, "F j, Y")
