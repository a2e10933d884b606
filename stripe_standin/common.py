"""What every part of the Stripe stand-in shares: Stripe's error, its ids, its clock, its API version."""

from __future__ import annotations

import secrets
import string
import time

import stripe

# Events carry the API version the installed client speaks, as Stripe's would for this account.
API_VERSION = stripe.api_version


class StandinError(Exception):
    """An API error, rendered like Stripe's: `{"error": {"type": ..., "message": ...}}`."""

    def __init__(
        self,
        message: str,
        *,
        status: int = 400,
        type: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
    ):
        super().__init__(message)
        self.message, self.status, self.type, self.code, self.param = (
            message,
            status,
            type,
            code,
            param,
        )

    def body(self) -> dict:
        error = {"type": self.type, "message": self.message}
        if self.code:
            error["code"] = self.code
        if self.param:
            error["param"] = self.param
        return {"error": error}


def _random_id(prefix: str, length: int = 24) -> str:
    alphabet = string.ascii_letters + string.digits
    return prefix + "".join(secrets.choice(alphabet) for _ in range(length))


def _now() -> int:
    return int(time.time())
