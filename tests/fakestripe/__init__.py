"""A stateful fake of the Stripe API for tests, served on loopback (see README.md in this directory)."""

from .app import create_app
from .server import serve_fake
from .state import CARD_3DS, CARD_3DS_ALWAYS, CARD_OK, IBAN_FAILS, IBAN_SUCCEEDS, FakeStripe, Hold, PaymentDeclined
from .webhooks import Delivery, Endpoint, Webhooks, sign

CARD_DECLINED = "4000000000000002"

__all__ = [
    "CARD_3DS",
    "CARD_3DS_ALWAYS",
    "CARD_DECLINED",
    "CARD_OK",
    "IBAN_FAILS",
    "IBAN_SUCCEEDS",
    "Delivery",
    "Endpoint",
    "FakeStripe",
    "Hold",
    "PaymentDeclined",
    "Webhooks",
    "create_app",
    "serve_fake",
    "sign",
]
