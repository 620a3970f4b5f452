"""POST /v1/trials and the trial rules of SPEC section 1."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from api_testkit import Api, aware, check_problem, self_serve

from licensing.catalog import load_catalog
from licensing.verify import Keyring, verify

PROFESSIONAL = sorted(load_catalog().tier_features["professional"])


@pytest.fixture(params=["email", "none"])
def self_serve_confirmation(request: pytest.FixtureRequest) -> str:
    """The trial rules hold alike when trials are confirmed by e-mail (issued on confirmation) and when
    they are issued at once."""
    mode: str = request.param
    return mode


def _trial(client: Any, email: str, company: str = "Acme", **extra: Any) -> Any:
    """Ask for a trial; in ``email`` mode confirm it through its link (api_testkit.self_serve)."""
    return self_serve(client, "/v1/trials", {"email": email, "company": company, "accept_terms": True, **extra})


def test_a_trial_is_30_days_of_professional_for_250_seats(
    client: Any, api: Api, keyring: Keyring, pyjwt_decode: Callable[..., dict[str, Any]]
) -> None:
    response = _trial(client, "it@acme.io", installation_id="acme-prod")
    assert response.status_code == 201, response.text
    assert response.headers["content-type"].startswith("application/json")
    lic = response.json()["license"]
    assert set(response.json()) == {"license", "license_file"}
    assert lic["tier"] == "professional" and lic["trial"] is True
    assert lic["seats"] == 250 and lic["features"] == PROFESSIONAL and lic["grace_days"] == 0
    assert aware(lic["expires_at"]) - aware(lic["starts_at"]) == timedelta(days=30)
    assert aware(lic["starts_at"]) == aware(lic["issued_at"])
    assert lic["source"] == "trial" and lic["installation_id"] == "acme-prod" and lic["status"] == "active"

    checked = verify(response.json()["license_file"], keyring, installation_id="acme-prod")
    assert checked.trial and checked.seats == 250 and checked.has_feature("saml")
    claims = pyjwt_decode(response.json()["license_file"])
    assert claims["customer"]["email"] == "it@acme.io" and claims["customer"]["company"] == "Acme"
    assert claims["exp"] - claims["nbf"] == 30 * 86400

    customer = api.get(f"/v1/customers/{lic['customer_id']}").json()
    assert customer["email"] == "it@acme.io" and customer["organisation"] == "acme.io"


@pytest.mark.parametrize("seats", [1, 1000])
def test_seats_from_1_to_1000(client: Any, seats: int) -> None:
    response = _trial(client, f"x@seats{seats}.example", seats=seats)
    assert response.status_code == 201, response.text
    assert response.json()["license"]["seats"] == seats


def test_seats_outside_1_to_1000_are_refused(client: Any, api: Api) -> None:
    before = api.counts()
    for seats in (0, -1, 1001, 10**9):
        check_problem(_trial(client, "x@acme.io", seats=seats), 422)
    for seats in ("10", 2.5, True, [5]):
        check_problem(_trial(client, "x@acme.io", seats=seats), 422, "validation_error")
    assert api.counts() == before


def test_one_trial_per_organisation_case_folded(client: Any, api: Api) -> None:
    assert _trial(client, "Bob@ACME.io").status_code == 201
    before = api.counts()
    body = check_problem(_trial(client, "carl@acme.IO", company="Acme Inc"), 409, "trial_already_used")
    assert "sales" in body["detail"].lower()
    check_problem(_trial(client, "bob@acme.io"), 409, "trial_already_used")
    assert api.counts() == before
    # Another domain is another organisation.
    assert _trial(client, "bob@acme.example").status_code == 201


def test_free_mail_organisations_are_addresses(client: Any) -> None:
    assert _trial(client, "alice@gmail.com", company="Alice Co").status_code == 201
    assert _trial(client, "bob@gmail.com", company="Bob Co").status_code == 201
    check_problem(_trial(client, "ALICE@GMail.com", company="Alice Co"), 409, "trial_already_used")
    check_problem(_trial(client, "bob@gmail.COM", company="Bob Co"), 409, "trial_already_used")


# Each first address, then every other spelling of its organisation: all refused (SPEC section 1).
SAME_ORGANISATION = {
    "subdomains": ("it@acme.co.uk", ["ops@eu.acme.co.uk", "x@mail.EU.ACME.co.uk", "Y@Acme.Co.Uk"]),
    "idna": ("x@Bücher.example", ["y@xn--bcher-kva.example", "z@BÜCHER.example", "w@shop.xn--bcher-kva.example"]),
    "gmail": (
        "farmer@gmail.com",
        ["far.mer+1@googlemail.com", "Far.Mer@gmail.com", "FARMER+trial@GMAIL.COM", "f.a.r.m.e.r@googlemail.com"],
    ),
    "outlook": ("jo.doe@outlook.com", ["Jo.Doe+x@outlook.com", "JO.DOE+a+b@Outlook.com"]),
    "yahoo": ("jo.doe@yahoo.com", ["jo.doe-news@yahoo.com", "Jo.Doe-a-b@YAHOO.com"]),
    "unknown tld": ("a@acme.unknowntld", ["b@eu.acme.unknowntld", "c@ACME.UNKNOWNTLD"]),
}


@pytest.mark.parametrize(("first", "others"), list(SAME_ORGANISATION.values()), ids=list(SAME_ORGANISATION))
def test_one_trial_per_organisation_however_it_is_spelled(client: Any, api: Api, first: str, others: list[str]) -> None:
    response = _trial(client, first)
    assert response.status_code == 201, response.text
    before = api.counts()
    for email in [first, *others]:
        check_problem(_trial(client, email, company="Another"), 409, "trial_already_used")
    assert api.counts() == before


def test_what_are_not_one_organisation(client: Any, api: Api) -> None:
    """Private-section suffixes count as public; dots count where the provider says so."""
    for email in [
        "x@alice.github.io",
        "x@bob.github.io",
        "jo.doe@outlook.com",
        "jodoe@outlook.com",
        "jo.doe@hotmail.com",
        "alice@gmail.com",
        "alice2@googlemail.com",
        "x@acme.co.uk",
        "x@acme.com",
    ]:
        response = _trial(client, email)
        assert response.status_code == 201, (email, response.text)
    customer_id = response.json()["license"]["customer_id"]
    assert api.get(f"/v1/customers/{customer_id}").json()["organisation"] == "acme.com"


def test_the_stored_organisation_is_the_canonical_one(client: Any, api: Api) -> None:
    for email, organisation in [
        ("far.mer+1@googlemail.com", "farmer@gmail.com"),
        ("x@eu.acme.co.uk", "acme.co.uk"),
        ("x@Bücher.example", "xn--bcher-kva.example"),
    ]:
        response = _trial(client, email)
        assert response.status_code == 201, response.text
        customer = api.get(f"/v1/customers/{response.json()['license']['customer_id']}").json()
        assert customer["organisation"] == organisation


def test_no_trial_after_paying_under_another_spelling(client: Any, api: Api) -> None:
    customer = api.customer(email="far.mer+billing@googlemail.com")
    api.issue(customer["id"], tier="enterprise", seats=100)
    check_problem(_trial(client, "farmer@gmail.com"), 409, "trial_already_used")
    paying = api.customer(email="buyer@acme.co.uk")
    api.issue(paying["id"], tier="enterprise", seats=100)
    check_problem(_trial(client, "someone@eu.acme.co.uk"), 409, "trial_already_used")


def test_an_ip_literal_is_not_an_address(client: Any, api: Api) -> None:
    before = api.counts()
    for email in ["x@[192.0.2.1]", "x@[IPv6:2001:db8::1]"]:
        check_problem(_trial(client, email), 422)
    assert api.counts() == before


def test_one_trial_per_installation(client: Any, api: Api) -> None:
    assert _trial(client, "a@first.example", installation_id="srv-1").status_code == 201
    before = api.counts()
    check_problem(_trial(client, "b@second.example", installation_id="srv-1"), 409, "trial_already_used")
    assert api.counts() == before
    # The refused organisation may still try on another installation.
    assert _trial(client, "b@second.example", installation_id="srv-2").status_code == 201


@pytest.mark.parametrize(
    "paid",
    [{"tier": "professional", "seats": 5, "duration_days": 30}, {"tier": "enterprise", "seats": 100}],
    ids=["pro", "ent"],
)
def test_no_trial_after_paying(client: Any, api: Api, paid: dict[str, Any]) -> None:
    customer = api.customer(email="buyer@paidco.example", company="PaidCo")
    api.issue(customer["id"], **paid)
    before = api.counts()
    check_problem(_trial(client, "someone.else@PaidCo.example"), 409, "trial_already_used")
    assert api.counts() == before


def test_a_free_license_does_not_count_as_paying(client: Any, api: Api) -> None:
    customer = api.customer(email="buyer@freeco.example")
    api.issue(customer["id"], tier="free")
    assert _trial(client, "other@freeco.example").status_code == 201


def test_terms_must_be_accepted(client: Any, api: Api) -> None:
    before = api.counts()
    body = {"email": "a@terms.example", "company": "T"}
    check_problem(client.post("/v1/trials", json={**body, "accept_terms": False}), 422, "terms_not_accepted")
    check_problem(client.post("/v1/trials", json=body), 422, "validation_error")
    check_problem(client.post("/v1/trials", json={**body, "accept_terms": "yes"}), 422, "validation_error")
    assert api.counts() == before


def test_sales_may_issue_a_trial_outside_the_rules_and_the_audit_log_says_who(client: Any, api: Api) -> None:
    first = _trial(client, "it@acme.io")
    assert first.status_code == 201
    check_problem(_trial(client, "ops@acme.io"), 409, "trial_already_used")

    customer_id = first.json()["license"]["customer_id"]
    extension = api.issue(customer_id, tier="professional", trial=True, duration_days=14, note="extension")
    lic = extension["license"]
    assert lic["trial"] is True and lic["source"] == "api"
    assert aware(lic["expires_at"]) - aware(lic["starts_at"]) == timedelta(days=14)
    assert lic["created_by"].startswith("sally")

    [event] = api.get("/v1/audit-events", params={"subject_id": lic["id"]}).json()["data"]
    assert event["action"] == "license.issued" and event["actor"].startswith("sally")
    assert event["data"]["trial"] is True and event["data"]["note"] == "extension"
    issued_first = {"subject_id": first.json()["license"]["id"], "action": "license.issued"}
    [public_event] = api.get("/v1/audit-events", params=issued_first).json()["data"]
    assert public_event["actor"].startswith("public:")
