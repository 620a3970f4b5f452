"""Serving a ``FakeStripe`` on 127.0.0.1 (in a thread, for tests; or as a process, for poking at it by hand)."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import contextmanager

from livetools import serve_in_thread

from .app import create_app
from .state import FakeStripe


@contextmanager
def serve_fake(fake: FakeStripe | None = None) -> Iterator[FakeStripe]:
    """A running fake (``.base_url`` set to where it answers); stopped when the block ends."""
    fake = fake or FakeStripe()
    try:
        with serve_in_thread(create_app(fake)) as url:
            fake.base_url = url
            yield fake
    finally:
        fake.close()


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description="Run the fake Stripe on 127.0.0.1.")
    parser.add_argument("--port", type=int, default=12111)
    parser.add_argument("--secret-key", default="sk_test_fakestripe_0123456789")
    args = parser.parse_args()
    fake = FakeStripe(secret_key=args.secret_key, base_url=f"http://127.0.0.1:{args.port}")
    uvicorn.run(create_app(fake), host="127.0.0.1", port=args.port, log_level="info")


if __name__ == "__main__":
    main()
