"""What a request to the Stripe stand-in carries: Stripe's form encoding and the checks of
a create call's parameters (messages follow Stripe's where it matters)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import parse_qsl, urlsplit

from stripe_standin.common import StandinError, _random_id

DAY = 24 * 60 * 60
# Stripe accepts `expires_at` between 30 minutes and 24 hours after creation.
MIN_EXPIRY, MAX_EXPIRY = 30 * 60, DAY
# Parameters of a create call the stand-in accepts without acting on them.
IGNORED_CREATE_PARAMS = {
    "payment_method_types",
    "locale",
    "submit_type",
    "billing_address_collection",
    "allow_promotion_codes",
    "expand",
}
CREATE_PARAMS = {
    "mode",
    "line_items",
    "success_url",
    "cancel_url",
    "client_reference_id",
    "metadata",
    "customer_email",
    "expires_at",
    "payment_intent_data",  # its description and metadata go to the PaymentIntent
} | IGNORED_CREATE_PARAMS
# What `expand[]` may name on a Checkout Session.
EXPANDABLE = ("line_items", "payment_intent")


# --- Stripe's form encoding ----------------------------------------------------------------------

_BRACKETED = re.compile(r"\[([^\[\]]*)\]")


def _key_path(key: str) -> list[str]:
    """`line_items[0][price_data][unit_amount]` -> ["line_items", "0", "price_data", "unit_amount"]."""
    head, bracket, rest = key.partition("[")
    if not bracket:
        return [key]
    parts = _BRACKETED.findall("[" + rest)
    if not head or "".join(f"[{part}]" for part in parts) != "[" + rest:
        raise StandinError(f"Invalid parameter name: {key}", param=key)
    return [head, *parts]


def _listify(value, key: str = ""):
    """Turn dicts keyed "0".."n-1" into lists; metadata keeps its keys, whatever they look like."""
    if not isinstance(value, dict):
        return value
    children = {name: _listify(child, name) for name, child in value.items()}
    if key != "metadata" and children and set(children) == {str(i) for i in range(len(children))}:
        return [children[str(i)] for i in range(len(children))]
    return children


def parse_stripe_form(pairs: Iterable[tuple[str, str]]) -> dict:
    """Nested dicts and lists from Stripe's bracket notation (`metadata[student_year]=12`)."""
    root: dict = {}
    for key, value in pairs:
        *parents, leaf = _key_path(key)
        node = root
        for part in parents:
            node = node.setdefault(part, {})
            if not isinstance(node, dict) or part == "":
                raise StandinError(f"Invalid parameter name: {key}", param=key)
        if isinstance(node.get(leaf), dict):
            raise StandinError(f"Invalid parameter name: {key}", param=key)
        node[leaf or str(len(node))] = value  # `expand[]=x` appends
    return _listify(root)


def _parse_query(query: str) -> dict:
    return parse_stripe_form(parse_qsl(query, keep_blank_values=True))


# --- Parameter checks (messages follow Stripe's where it matters) -------------------------------


def _integer(value, param: str, *, minimum: int = 0) -> int:
    # The client sends ints as "5000"; a Decimal or float would arrive as "50.00" and Stripe
    # rejects it, so the stand-in does too (money becomes cents before it reaches Stripe).
    if not isinstance(value, str) or not re.fullmatch(r"-?\d+", value):
        raise StandinError(f"Invalid integer: {value}", param=param)
    number = int(value)
    if number < minimum:
        raise StandinError(f"{param} must be at least {minimum}.", param=param)
    return number


def _optional_string(params: dict, name: str, *, max_length: int = 5000) -> str | None:
    value = params.get(name)
    if value in (None, ""):
        return None  # Stripe reads an empty value as "not given"
    if not isinstance(value, str):
        raise StandinError(f"Invalid string: {name}", param=name)
    if len(value) > max_length:
        raise StandinError(f"{name} must be at most {max_length} characters long.", param=name)
    return value


def _url(params: dict, name: str) -> str | None:
    value = _optional_string(params, name, max_length=5000)
    if value is not None:
        parts = urlsplit(value.replace("{CHECKOUT_SESSION_ID}", "x"))
        # Control characters would end up in the redirect's Location header.
        has_controls = any(ord(char) < 32 or ord(char) == 127 for char in value)
        if parts.scheme not in ("http", "https") or not parts.netloc or has_controls:
            raise StandinError("Not a valid URL", param=name)
    return value


def _metadata(raw) -> dict:
    if raw in (None, ""):
        return {}
    if not isinstance(raw, dict) or len(raw) > 50:
        raise StandinError("metadata must be a hash of at most 50 keys.", param="metadata")
    for key, value in raw.items():
        if len(key) > 40 or not isinstance(value, str) or len(value) > 500:
            raise StandinError(
                "Metadata keys are at most 40 characters and values at most 500 characters.",
                param=f"metadata[{key}]",
            )
    return {key: value for key, value in raw.items() if value != ""}


def _required(params, name: str, where: str):
    if not isinstance(params, dict):
        raise StandinError(f"Invalid object: {where}", param=where)
    if params.get(name) in (None, ""):
        raise StandinError(f"Missing required param: {where}[{name}].", param=f"{where}[{name}]")
    return params[name]


def _price_data(raw, where: str) -> tuple[str, int, str]:
    """(currency, unit_amount, product name) from `price_data`, the only pricing supported."""
    if not isinstance(raw, dict):
        raise StandinError(f"Missing required param: {where}.", param=where)
    currency = _required(raw, "currency", where)
    if not isinstance(currency, str) or not re.fullmatch(r"[A-Za-z]{3}", currency):
        raise StandinError("Invalid currency", param=f"{where}[currency]")
    unit_amount = _integer(_required(raw, "unit_amount", where), f"{where}[unit_amount]")
    product_data = _required(raw, "product_data", where)
    name = _required(product_data, "name", f"{where}[product_data]")
    if not isinstance(name, str):
        raise StandinError("Invalid string", param=f"{where}[product_data][name]")
    return currency.lower(), unit_amount, name


def _line_item(raw, index: int) -> dict:
    where = f"line_items[{index}]"
    if not isinstance(raw, dict):
        raise StandinError(f"Invalid object: {where}", param=where)
    if "price" in raw:
        raise StandinError(
            "The stand-in supports price_data only, not saved prices.", param=f"{where}[price]"
        )
    currency, unit_amount, name = _price_data(raw.get("price_data"), f"{where}[price_data]")
    quantity = _integer(_required(raw, "quantity", where), f"{where}[quantity]", minimum=1)
    amount = unit_amount * quantity
    return {
        "id": _random_id("li_test_"),
        "object": "item",
        "amount_discount": 0,
        "amount_subtotal": amount,
        "amount_tax": 0,
        "amount_total": amount,
        "currency": currency,
        "description": name,
        "price": {
            "id": _random_id("price_test_"),
            "object": "price",
            "currency": currency,
            "livemode": False,
            "product": _random_id("prod_test_"),
            "type": "one_time",
            "unit_amount": unit_amount,
        },
        "quantity": quantity,
    }


def _line_items(raw) -> list[dict]:
    if not isinstance(raw, list) or not raw:
        raise StandinError("Missing required param: line_items.", param="line_items")
    items = [_line_item(item, index) for index, item in enumerate(raw)]
    if len({item["currency"] for item in items}) > 1:
        raise StandinError("All line items must use the same currency.", param="line_items")
    return items


def _expires_at(raw, created: int) -> int:
    if raw in (None, ""):
        return created + DAY
    expires_at = _integer(raw, "expires_at")
    # A minute of slack: the caller computed its "now + 24 h" a moment before `created`.
    if not created + MIN_EXPIRY - 60 <= expires_at <= created + MAX_EXPIRY + 60:
        raise StandinError(
            "The `expires_at` timestamp must be between 30 minutes and 24 hours from"
            " Checkout Session creation.",
            param="expires_at",
        )
    return expires_at


def _intent_data(raw) -> tuple[str | None, dict]:
    """The PaymentIntent's (description, metadata) from `payment_intent_data`; the rest is ignored.

    As at Stripe, the session's own metadata is not copied to its PaymentIntent.
    """
    if raw in (None, ""):
        return None, {}
    if not isinstance(raw, dict):
        raise StandinError("Invalid object: payment_intent_data", param="payment_intent_data")
    return _optional_string(raw, "description", max_length=1000), _metadata(raw.get("metadata"))


def _expand(query: dict) -> list[str]:
    expand = query.get("expand") or []
    expand = expand if isinstance(expand, list) else [expand]
    for name in expand:
        if name not in EXPANDABLE:
            raise StandinError(
                f"The Stripe stand-in can expand {' and '.join(EXPANDABLE)} only, not {name}.",
                param="expand",
            )
    return expand
