"""Amounts a new consortium starts with; staff change them per consortium and school year."""

from decimal import Decimal

CONSORTIUM_FEE = Decimal("50.00")
LATE_FEE_PER_PRIOR_YEAR = Decimal("15.00")
