"""Money and dates as every page and email writes them."""

import datetime as dt
from decimal import Decimal

import pytest

from sers.formatting import dollars, long_date


@pytest.mark.parametrize(
    ("amount", "written"),
    [
        (Decimal("50"), "$50.00"),
        (Decimal("1234.5"), "$1,234.50"),
        (Decimal("-15.00"), "-$15.00"),
        # Half a cent rounds up, as charges and payments do (sers.money.money).
        (Decimal("0.125"), "$0.13"),
        (None, ""),
    ],
)
def test_dollars(amount, written):
    assert dollars(amount) == written


def test_long_date():
    assert long_date(dt.date(2027, 6, 5)) == "June 5, 2027"
    assert long_date(None) == ""
