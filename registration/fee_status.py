"""What the fee ledger says, for the apps below payments: the one narrow way they ask it.

Fees are worked out in ``payments``, which sits above ``registration`` and ``grading``
because a payment or a waiver re-evaluates credit. Below it, four questions need the
ledger's answer: whether a student's year is settled (the credit rule), the fee state of
each student on a roster, what a student still owes each year (their history page), and a
year's balance once staff approve prior-year credit (the approval email). They ask here
and only here: the import contract (``make lint``) names this module as the one exception
to "a lower app never imports a higher one".
"""

from payments.selectors import (
    FeeFacts,
    FeeState,
    fee_facts,
    fee_states,
    settled_years,
    year_account,
)

__all__ = ["FeeFacts", "FeeState", "fee_facts", "fee_states", "settled_years", "year_account"]
