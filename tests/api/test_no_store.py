"""Every public answer that shows a license file (or the secret that fetches one) is ``Cache-Control:
no-store`` (issue 14): a shared cache or the browser's history must not keep someone's license. The
success page is tested with the fake Stripe (tests/billing/test_billing_success_page.py); the portal's
pages in test_portal.py."""

from __future__ import annotations

from typing import Any

import pytest
from api_testkit import CSRF_INPUT, Api, confirm_link, confirmation_path, poll

TRIAL = {"company": "Acme", "accept_terms": True}


def _no_store(response: Any) -> None:
    assert response.headers.get("cache-control") == "no-store", (response.status_code, dict(response.headers))


def test_trials_and_free_licenses_issued_at_once_are_not_cached(client: Any) -> None:
    trial = client.post("/v1/trials", json={"email": "ada@nostore-1.example", **TRIAL})
    assert trial.status_code == 201 and "license_file" in trial.json()
    _no_store(trial)
    free = client.post("/v1/free-licenses", json={"email": "bob@nostore-2.example"})
    assert free.status_code == 201 and "license_file" in free.json()
    _no_store(free)
    # A replay under the same Idempotency-Key shows the same license: not cached either.
    body = {"email": "cy@nostore-3.example"}
    first = client.post("/v1/free-licenses", json=body, headers={"Idempotency-Key": "free-1"})
    again = client.post("/v1/free-licenses", json=body, headers={"Idempotency-Key": "free-1"})
    assert again.headers.get("idempotent-replayed") == "true" and again.json() == first.json()
    _no_store(first)
    _no_store(again)


def test_refresh_is_not_cached(api: Api, client: Any) -> None:
    issued = api.issue(api.customer()["id"], tier="professional", seats=5, duration_days=30)
    refreshed = client.post("/v1/licenses/refresh", json={"license_file": issued["license_file"]})
    assert refreshed.status_code == 200 and refreshed.json()["license_file"] == issued["license_file"]
    _no_store(refreshed)


def _form_post(client: Any, path: str, data: dict[str, str]) -> Any:
    form = client.get(path)
    match = CSRF_INPUT.search(form.text)
    assert match, form.text
    return client.post(path, data={**data, "csrf_token": match.group(1)})


def test_the_trial_and_free_pages_that_show_a_license_are_not_cached(client: Any) -> None:
    trial = _form_post(
        client, "/trial", {"email": "dee@nostore-4.example", "company": "Dee", "seats": "10", "accept_terms": "on"}
    )
    assert trial.status_code == 201 and "BEGIN LICENSE FILE" in trial.text
    _no_store(trial)
    free = _form_post(client, "/free", {"email": "eve@nostore-5.example"})
    assert free.status_code == 201 and "BEGIN LICENSE FILE" in free.text
    _no_store(free)


@pytest.mark.parametrize("self_serve_confirmation", ["email"])
def test_confirmed_requests_and_their_poll_are_not_cached(client: Any) -> None:
    asked = client.post("/v1/trials", json={"email": "fay@nostore-6.example", **TRIAL})
    assert asked.status_code == 202 and "poll_token" in asked.json()
    _no_store(asked)  # the poll token fetches the license later
    pending = asked.json()
    confirmed = confirm_link(client, confirmation_path(client.app, pending["id"]))
    assert confirmed.status_code == 201 and "BEGIN LICENSE FILE" in confirmed.text
    _no_store(confirmed)
    state = poll(client, pending["id"], pending["poll_token"])
    assert state.json()["status"] == "issued" and "license_file" in state.json()
    _no_store(state)
