"""A refusal on a page's route (here: the public rate limit on a form post) is a page in the site's
layout, not the API's problem+json; the JSON API answers problem+json whatever the client accepts."""

from __future__ import annotations

import re

import pytest
from pagetools import Forms, Traffic
from playwright.sync_api import Page, expect

from licensing.kit.settings import Settings

BROWSER_ACCEPT = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
FORM = {"email": "ann@rate-4c2e.example", "company": "Rate Co", "seats": "5", "accept_terms": "on"}


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"public_rate_limit": 2})


def test_a_rate_limited_form_post_gets_a_page(forms: Forms) -> None:
    answers = [forms.post("/trial", FORM, headers=BROWSER_ACCEPT) for _ in range(3)]
    refused = answers[-1]
    assert refused.status_code == 429, [a.status_code for a in answers]
    assert refused.headers["content-type"].startswith("text/html")
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert "default-src 'self'" in refused.headers["content-security-policy"]
    assert "<h1>Too many requests</h1>" in refused.text
    assert "Nothing was done with this request." in refused.text
    assert 'href="/trial"' in refused.text  # back to the form
    assert '<link rel="stylesheet"' in refused.text  # the site's layout


def test_the_api_answers_problem_json_even_to_a_browser(forms: Forms) -> None:
    for _ in range(3):
        answer = forms.client.post("/v1/free-licenses", json={"email": "x"}, headers=BROWSER_ACCEPT)
    assert answer.status_code == 429
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["code"] == "rate_limited"


def test_the_browser_shows_the_rate_limit_page(page: Page, traffic: Traffic) -> None:
    for n in range(3):
        page.goto("/trial")
        page.get_by_label("Work e-mail").fill(f"ann{n}@rate-{n}a7f.example")
        page.get_by_label("Company").fill("Rate Co")
        page.get_by_label("I accept the trial terms").check()
        page.locator("form button[type=submit]").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Too many requests")
    page.screenshot(path="/tmp/problem-429.png", full_page=True)
    page.get_by_role("link", name="Back").click()
    expect(page).to_have_url(re.compile(r"/trial$"))
    # Chromium reports every non-2xx document in the console; that one line is the only entry.
    assert traffic.console == [
        "error: Failed to load resource: the server responded with a status of 429 (Too Many Requests)"
    ]
    traffic.console.clear()
    traffic.assert_clean()
