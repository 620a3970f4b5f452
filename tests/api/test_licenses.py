"""Issuing every offer through POST /v1/licenses; the files verify with our verifier and with PyJWT;
GET one, GET its file."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from api_testkit import Api, aware, check_problem, ts, unarmor

from licensing.catalog import load_catalog
from licensing.verify import Keyring, LicenseError, jwk_thumbprint, verify

CATALOG = load_catalog()
PROFESSIONAL = sorted(CATALOG.tier_features["professional"])
ENTERPRISE = sorted(CATALOG.tier_features["enterprise"])
ISSUER = "test-issuer"


def _common_claims(claims: dict[str, Any], lic: dict[str, Any], customer: dict[str, Any]) -> None:
    assert claims["iss"] == ISSUER
    assert claims["jti"] == lic["id"]
    assert claims["sub"] == customer["id"] == lic["customer_id"]
    assert claims["ver"] == 1
    assert claims["iat"] == ts(aware(lic["issued_at"]))
    assert claims["nbf"] == ts(aware(lic["starts_at"]))
    assert claims["tier"] == lic["tier"]
    assert claims["trial"] is lic["trial"]
    assert claims["seats"] == lic["seats"]
    assert claims["features"] == sorted(claims["features"]) == lic["features"]
    assert claims["grace_days"] == lic["grace_days"]
    assert claims["customer"] == {"name": customer["name"], "email": customer["email"], "company": customer["company"]}
    if lic["expires_at"] is None:
        assert "exp" not in claims
    else:
        assert claims["exp"] == ts(aware(lic["expires_at"]))


def test_jwks_publishes_the_signing_key(client: Any, jwks: dict[str, Any], keyring: Keyring) -> None:
    response = client.get("/.well-known/jwks.json")
    assert response.headers["content-type"].startswith("application/json")
    [key] = jwks["keys"]
    assert key["kty"] == "OKP" and key["crv"] == "Ed25519" and key["use"] == "sig" and key["alg"] == "EdDSA"
    assert key["kid"] == jwk_thumbprint(key["x"])
    assert "d" not in key, "never the private part"
    assert Keyring.from_jwks(jwks).key_ids == keyring.key_ids


def test_issue_free_license(api: Api, keyring: Keyring, pyjwt_decode: Callable[..., dict[str, Any]]) -> None:
    customer = api.customer()
    issued = api.issue(customer["id"], tier="free")
    lic = issued["license"]
    assert lic["tier"] == "free" and lic["trial"] is False
    assert lic["seats"] is None and lic["features"] == [] and lic["grace_days"] == 0
    assert lic["expires_at"] is None and lic["grace_ends_at"] is None
    assert lic["status"] == "active" and lic["source"] == "api"
    assert lic["line_id"] == lic["id"] and lic["supersedes"] is None and lic["superseded_by"] is None
    assert lic["created_by"].startswith("sally")

    checked = verify(issued["license_file"], keyring)
    assert checked.id == lic["id"] and checked.expires_at is None and checked.seats is None
    # Perpetual: still valid in a century.
    assert verify(issued["license_file"], keyring, now=datetime(2125, 1, 1, tzinfo=UTC)).status == "valid"
    claims = pyjwt_decode(issued["license_file"])
    _common_claims(claims, lic, customer)
    assert "exp" not in claims and claims["seats"] is None and claims["features"] == []


def test_issue_professional_trial(api: Api, keyring: Keyring, pyjwt_decode: Callable[..., dict[str, Any]]) -> None:
    customer = api.customer()
    issued = api.issue(customer["id"], tier="professional", trial=True)
    lic = issued["license"]
    assert lic["tier"] == "professional" and lic["trial"] is True
    assert lic["seats"] == 250 and lic["features"] == PROFESSIONAL and lic["grace_days"] == 0
    assert aware(lic["expires_at"]) - aware(lic["starts_at"]) == timedelta(days=30)
    assert aware(lic["starts_at"]) == aware(lic["issued_at"])
    checked = verify(issued["license_file"], keyring)
    assert checked.trial is True and checked.seats == 250 and checked.has_feature("saml")
    assert not checked.has_feature("cluster")
    _common_claims(pyjwt_decode(issued["license_file"]), lic, customer)


def test_issue_professional_paid(api: Api, keyring: Keyring, pyjwt_decode: Callable[..., dict[str, Any]]) -> None:
    customer = api.customer()
    issued = api.issue(customer["id"], tier="professional", seats=25, duration_days=365)
    lic = issued["license"]
    assert lic["trial"] is False and lic["seats"] == 25 and lic["features"] == PROFESSIONAL
    assert lic["grace_days"] == 10
    assert aware(lic["expires_at"]) - aware(lic["starts_at"]) == timedelta(days=365)
    assert aware(lic["grace_ends_at"]) - aware(lic["expires_at"]) == timedelta(days=10)
    claims = pyjwt_decode(issued["license_file"])
    _common_claims(claims, lic, customer)
    assert claims["exp"] - claims["nbf"] == 365 * 86400

    # In grace after the end, rejected after the grace period, by both verifiers.
    end = aware(lic["expires_at"])
    assert verify(issued["license_file"], keyring, now=end + timedelta(days=5)).status == "grace"
    assert verify(issued["license_file"], keyring, now=end - timedelta(days=5)).status == "valid"
    with pytest.raises(LicenseError) as rejected:
        verify(issued["license_file"], keyring, now=end + timedelta(days=11))
    assert rejected.value.code == "expired"


def test_professional_with_a_subset_of_features(api: Api, keyring: Keyring) -> None:
    customer = api.customer()
    issued = api.issue(customer["id"], tier="professional", seats=3, features=["saml", "ldap"], duration_days=30)
    assert issued["license"]["features"] == ["ldap", "saml"]
    checked = verify(issued["license_file"], keyring)
    assert checked.has_feature("ldap") and not checked.has_feature("openid")


def test_issue_enterprise_with_every_custom_term(
    api: Api, keyring: Keyring, pyjwt_decode: Callable[..., dict[str, Any]]
) -> None:
    customer = api.customer(company="Big Corp", email="it@bigcorp.example")
    starts = (datetime.now(UTC) + timedelta(days=10)).replace(microsecond=0)
    ends = starts + timedelta(days=3 * 365)
    issued = api.issue(
        customer["id"],
        tier="enterprise",
        seats=5000,
        features=["saml"],
        custom_features=["custom_sso_bridge"],
        starts_at=starts.isoformat(),
        expires_at=ends.isoformat().replace("+00:00", "Z"),
        grace_days=45,
        installation_id="inst-42.prod:eu",
        note="3-year deal, PO 4471",
    )
    lic = issued["license"]
    assert lic["tier"] == "enterprise" and lic["seats"] == 5000 and lic["grace_days"] == 45
    assert lic["features"] == sorted({*ENTERPRISE, "custom_sso_bridge"})
    assert aware(lic["starts_at"]) == starts and aware(lic["expires_at"]) == ends
    assert aware(lic["grace_ends_at"]) == ends + timedelta(days=45)
    assert lic["installation_id"] == "inst-42.prod:eu" and lic["note"] == "3-year deal, PO 4471"
    assert lic["status"] == "scheduled"

    claims = pyjwt_decode(issued["license_file"], verify_nbf=False)
    _common_claims(claims, lic, customer)
    assert claims["installation_id"] == "inst-42.prod:eu"
    assert "note" not in claims, "notes are internal"
    # PyJWT agrees that it is not valid yet.
    with pytest.raises(jwt.ImmatureSignatureError):
        pyjwt_decode(issued["license_file"])

    during = starts + timedelta(days=100)
    checked = verify(issued["license_file"], keyring, now=during, installation_id="inst-42.prod:eu")
    assert checked.seats == 5000 and checked.has_feature("custom_sso_bridge") and checked.has_feature("cluster")
    for bad_installation in (None, "inst-43"):
        with pytest.raises(LicenseError) as rejected:
            verify(issued["license_file"], keyring, now=during, installation_id=bad_installation)
        assert rejected.value.code == "installation_mismatch"


def test_enterprise_defaults_and_unlimited_seats(api: Api, keyring: Keyring) -> None:
    customer = api.customer()
    default = api.issue(customer["id"], tier="enterprise", seats=100)["license"]
    assert default["seats"] == 100 and default["grace_days"] == 30 and default["features"] == ENTERPRISE
    assert aware(default["expires_at"]) - aware(default["starts_at"]) == timedelta(days=365)
    unlimited = api.issue(customer["id"], tier="enterprise", seats=None, duration_days=30)
    assert unlimited["license"]["seats"] is None
    assert verify(unlimited["license_file"], keyring).seats is None


def test_the_header_is_the_one_the_spec_names(api: Api, jwks: dict[str, Any]) -> None:
    issued = api.issue(api.customer()["id"], tier="free")
    header = jwt.get_unverified_header(unarmor(issued["license_file"]))
    assert header == {"alg": "EdDSA", "typ": "license+jwt", "kid": jwks["keys"][0]["kid"]}
    assert issued["license"]["key_id"] == header["kid"]
    lines = issued["license_file"].splitlines()
    assert lines[0] == "-----BEGIN LICENSE FILE-----" and lines[-1] == "-----END LICENSE FILE-----"
    assert all(len(line) <= 64 for line in lines[1:-1])


def test_get_license_and_its_file(api: Api, keyring: Keyring) -> None:
    issued = api.issue(api.customer()["id"], tier="professional", seats=3, duration_days=30)
    lic = issued["license"]
    assert api.license(lic["id"]) == lic

    response = api.get(f"/v1/licenses/{lic['id']}/file")
    assert response.status_code == 200
    assert response.text == issued["license_file"]
    disposition = response.headers["content-disposition"]
    assert disposition.startswith("attachment")
    assert f'filename="{lic["id"]}.lic"' in disposition
    assert response.headers["content-type"].startswith("application/x-license-file")
    assert verify(response.text, keyring).id == lic["id"]


def test_unknown_license_is_404(api: Api) -> None:
    for path in ("/v1/licenses/lic_nope", "/v1/licenses/lic_nope/file"):
        check_problem(api.get(path), 404, "license_not_found")
    check_problem(api.post("/v1/licenses/lic_nope/renew", {"duration_days": 30}), 404, "license_not_found")
    check_problem(api.post("/v1/licenses/lic_nope/revoke", {"reason": "x"}), 404, "license_not_found")


def test_issue_for_unknown_customer_is_404(api: Api) -> None:
    check_problem(api.post("/v1/licenses", {"customer_id": "cus_nope", "tier": "free"}), 404, "customer_not_found")
