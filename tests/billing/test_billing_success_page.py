"""/checkout/success (issue 14): rate limited like the other public pages."""

from __future__ import annotations

from fakestripe import FakeStripe
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from licensing.context import Core
from licensing.kit.settings import Settings

SUCCESS = "/checkout/success"
BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


def test_the_success_page_is_rate_limited(
    settings: Settings, core: Core, engine: Engine, fake_stripe: FakeStripe
) -> None:
    from api.app import create_app

    app = create_app(settings.model_copy(update={"public_rate_limit": 2}), core=core, engine=engine)
    before = len(fake_stripe.requests)
    with TestClient(app, raise_server_exceptions=False) as client:
        answers = [
            client.get(SUCCESS, params={"session_id": f"cs_test_madeup{i:04d}"}, headers=BROWSER) for i in range(4)
        ]
    assert [a.status_code for a in answers] == [404, 404, 429, 429]
    refused = answers[2]
    assert refused.headers["content-type"].startswith("text/html") and "Too many requests" in refused.text
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert fake_stripe.requests[before:] == []
