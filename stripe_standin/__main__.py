"""The command line: `python -m stripe_standin --port 12111 --webhook-url ...` (see __init__.py)."""

from __future__ import annotations

import argparse
import logging
import time

from stripe_standin.checkout import RETRY_DELAYS
from stripe_standin.server import LOOPBACK, StripeStandin


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m stripe_standin",
        description="A local Stripe Checkout stand-in for the SERS dev run (test data only).",
    )
    parser.add_argument("--host", default=LOOPBACK, help="only 127.0.0.1 is allowed")
    parser.add_argument("--port", type=int, default=12111)
    parser.add_argument("--webhook-url", default=None, help="where to POST signed events")
    parser.add_argument("--webhook-secret", default="whsec_local_standin")
    parser.add_argument(
        "--no-retries",
        action="store_true",
        help="deliver each webhook once; by default a failed one is retried with backoff",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    standin = StripeStandin(
        webhook_url=args.webhook_url,
        webhook_secret=args.webhook_secret,
        host=args.host,
        port=args.port,
        retry_delays=() if args.no_retries else RETRY_DELAYS,
    ).start()
    where = f"webhooks to {args.webhook_url}" if args.webhook_url else "no webhook URL"
    try:
        # Announced inside the try: a Ctrl-C right after the line still stops it cleanly.
        print(f"Stripe stand-in listening on {standin.url} ({where}); Ctrl-C stops it", flush=True)
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        standin.stop()


if __name__ == "__main__":
    main()
