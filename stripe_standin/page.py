"""The Stripe stand-in's hosted test payment page: phone-sized and clearly marked as a test."""

from __future__ import annotations

import html

from stripe_standin.common import _now

# --- Money on the hosted page ---------------------------------------------------------------------


def format_amount(cents: int, currency: str) -> str:
    """5000, "usd" -> "$50.00"; other currencies keep their code."""
    number = f"{cents // 100:,}.{cents % 100:02d}"
    return f"${number}" if currency == "usd" else f"{number} {currency.upper()}"


# --- The hosted page ----------------------------------------------------------------------------

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 0; color: #1a1a1a; background: #f6f7f9; }
.banner { background: #b00020; color: #fff; font-weight: 700; font-size: 1.25rem;
          text-align: center; padding: 1rem; }
main { max-width: 28rem; margin: 0 auto; padding: 1rem; }
table { width: 100%; border-collapse: collapse; margin: 1rem 0; }
td { padding: .5rem 0; border-bottom: 1px solid #ddd; vertical-align: top; }
td.amount { text-align: right; white-space: nowrap; }
tr.total td { font-weight: 700; border-bottom: none; }
button { display: block; width: 100%; font-size: 1.1rem; padding: .9rem; margin: .75rem 0;
         border-radius: .5rem; border: 1px solid #444; background: #fff; }
button.primary { background: #0a5cd5; color: #fff; border-color: #0a5cd5; }
.notice { background: #fff3cd; padding: .75rem; border-radius: .5rem; }
"""

_BANNER = "TEST PAYMENT – no real money is charged"


def _page(title: str, content: str) -> str:
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)} – Stripe stand-in</title>
<style>{_STYLE}</style>
</head>
<body>
<div class="banner" role="alert">{_BANNER}</div>
<main>
{content}
</main>
</body>
</html>
"""


def _status_message(data: dict) -> str:
    """Why a session cannot be paid (any more)."""
    if data["status"] in ("open", "expired"):  # open but past expires_at counts as expired
        return "This checkout session has expired. Go back to start a new payment."
    if data["payment_status"] == "paid":
        return "This payment is complete."
    return "Your bank transfer has been started and will settle later."


def _checkout_page(data: dict, items: list[dict], notice: str) -> str:
    currency = data["currency"]
    total = format_amount(data["amount_total"], currency)
    rows = "".join(
        f"<tr><td>{html.escape(item['description'])}"
        + (f" × {item['quantity']}" if item["quantity"] != 1 else "")
        + f'</td><td class="amount">{format_amount(item["amount_total"], currency)}</td></tr>'
        for item in items
    )
    rows += f'<tr class="total"><td>Total</td><td class="amount">{total}</td></tr>'
    parts = [
        "<h1>Checkout</h1>",
        f'<p class="notice">{html.escape(notice)}</p>' if notice else "",
        f"<table>{rows}</table>",
    ]
    payable = data["status"] == "open" and _now() < data["expires_at"]
    if payable:
        base = f"/checkout/{data['id']}"
        parts += [
            f'<form method="post" action="{base}/pay">'
            f'<button class="primary" type="submit">Pay {total} with a test card</button></form>',
            f'<form method="post" action="{base}/pay-later">'
            '<button type="submit">Pay by bank transfer (test: settles later)</button></form>',
        ]
        if data["cancel_url"]:
            parts.append(
                f'<p><a href="{html.escape(data["cancel_url"])}">Cancel and go back</a></p>'
            )
    else:
        parts.append(f'<p class="notice">{html.escape(_status_message(data))}</p>')
    return _page("Checkout", "\n".join(parts))
