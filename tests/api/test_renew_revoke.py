"""Renewing (a new license superseding the old) and revoking (and the signed revocation list)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from api_testkit import Api, aware, check_problem, ts

from licensing.verify import Keyring, LicenseError, load_revocations, verify


def _enterprise(api: Api, days: int = 100, **extra: Any) -> dict[str, Any]:
    customer = api.customer()["id"]
    end = (datetime.now(UTC) + timedelta(days=days)).replace(microsecond=0)
    return api.issue(
        customer,
        tier="enterprise",
        seats=500,
        custom_features=["custom_sso_bridge"],
        expires_at=end.isoformat(),
        grace_days=45,
        installation_id="inst-1",
        **extra,
    )


def test_renew_supersedes_the_old_license(
    api: Api, keyring: Keyring, pyjwt_decode: Callable[..., dict[str, Any]]
) -> None:
    old = _enterprise(api)["license"]
    response = api.post(f"/v1/licenses/{old['id']}/renew", {"duration_days": 365, "seats": 600, "note": "renewal"})
    assert response.status_code == 201, response.text
    new = response.json()["license"]
    file = response.json()["license_file"]

    assert new["id"] != old["id"]
    assert new["supersedes"] == old["id"] and new["line_id"] == old["line_id"] == old["id"]
    assert new["status"] == "active" and new["superseded_by"] is None
    # duration_days counts from the old end, not from now.
    assert aware(new["expires_at"]) == aware(old["expires_at"]) + timedelta(days=365)
    assert new["seats"] == 600 and new["note"] == "renewal"
    for kept in ("customer_id", "tier", "trial", "features", "grace_days", "installation_id"):
        assert new[kept] == old[kept], kept

    claims = pyjwt_decode(file)
    assert claims["supersedes"] == old["id"] and claims["jti"] == new["id"] and claims["seats"] == 600
    assert claims["exp"] == ts(aware(new["expires_at"]))
    checked = verify(file, keyring, installation_id="inst-1")
    assert checked.supersedes == old["id"] and checked.has_feature("custom_sso_bridge")

    old_now = api.license(old["id"])
    assert old_now["status"] == "superseded" and old_now["superseded_by"] == new["id"]

    again = api.post(f"/v1/licenses/{old['id']}/renew", {"duration_days": 30})
    body = check_problem(again, 409, "license_superseded")
    assert body["superseded_by"] == new["id"]

    # The new one renews on; the line stays one line.
    third = api.renew(new["id"], expires_at=(aware(new["expires_at"]) + timedelta(days=10)).isoformat())["license"]
    assert third["supersedes"] == new["id"] and third["line_id"] == old["id"]
    assert aware(third["expires_at"]) == aware(new["expires_at"]) + timedelta(days=10)
    assert api.license(new["id"])["superseded_by"] == third["id"]


def test_renew_keeps_seats_when_not_given(api: Api) -> None:
    old = _enterprise(api)["license"]
    new = api.renew(old["id"], duration_days=30)["license"]
    assert new["seats"] == 500
    unlimited = api.issue(old["customer_id"], tier="enterprise", seats=None, duration_days=30)["license"]
    assert api.renew(unlimited["id"], duration_days=30)["license"]["seats"] is None


def test_renewing_an_expired_license_counts_from_now(api: Api, clock: Any) -> None:
    start = datetime(2030, 1, 1, tzinfo=UTC)
    clock.set(start)
    old = api.issue(api.customer()["id"], tier="professional", seats=3, duration_days=30)["license"]
    later = start + timedelta(days=100)
    clock.set(later)
    assert api.license(old["id"])["status"] == "expired"
    new = api.renew(old["id"], duration_days=30)["license"]
    assert aware(new["starts_at"]) == later
    assert aware(new["expires_at"]) == later + timedelta(days=30)


def test_renewing_a_revoked_license_is_refused(api: Api) -> None:
    lic = _enterprise(api)["license"]
    api.revoke(lic["id"])
    before = api.counts()
    check_problem(api.post(f"/v1/licenses/{lic['id']}/renew", {"duration_days": 30}), 409, "license_revoked")
    assert api.counts() == before


def test_renew_needs_exactly_one_end(api: Api) -> None:
    lic = _enterprise(api)["license"]
    before = api.counts()
    check_problem(api.post(f"/v1/licenses/{lic['id']}/renew", {}), 422, "invalid_term")
    end = (datetime.now(UTC) + timedelta(days=400)).isoformat()
    both = api.post(f"/v1/licenses/{lic['id']}/renew", {"expires_at": end, "duration_days": 30})
    check_problem(both, 422, "invalid_term")
    past = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    check_problem(api.post(f"/v1/licenses/{lic['id']}/renew", {"expires_at": past}), 422, "invalid_term")
    assert api.counts() == before
    assert api.license(lic["id"])["status"] == "active"


def test_revoke(api: Api, keyring: Keyring, client: Any) -> None:
    issued = _enterprise(api)
    lic = issued["license"]
    other = api.issue(lic["customer_id"], tier="free")

    empty = client.get("/v1/revocations")
    assert empty.status_code == 200
    assert len(load_revocations(empty.text, keyring)) == 0

    response = api.post(f"/v1/licenses/{lic['id']}/revoke", {"reason": "chargeback on invoice 1042"})
    assert response.status_code == 200, response.text
    revoked = response.json()
    assert revoked["id"] == lic["id"] and revoked["status"] == "revoked"
    assert revoked["revoked_reason"] == "chargeback on invoice 1042" and aware(revoked["revoked_at"])
    assert api.license(lic["id"])["status"] == "revoked"

    check_problem(api.post(f"/v1/licenses/{lic['id']}/revoke", {"reason": "again"}), 409, "already_revoked")
    assert api.license(lic["id"])["revoked_reason"] == "chargeback on invoice 1042"

    listing = client.get("/v1/revocations")
    assert listing.status_code == 200 and listing.headers["content-type"].startswith("text/plain")
    text = listing.text
    assert text.startswith("-----BEGIN LICENSE REVOCATIONS-----\n")
    assert text.rstrip().endswith("-----END LICENSE REVOCATIONS-----")
    revocations = load_revocations(text, keyring)
    assert lic["id"] in revocations and other["license"]["id"] not in revocations
    assert len(revocations) == 1
    assert revocations.revoked[lic["id"]] == aware(revoked["revoked_at"])
    assert revocations.issuer == "test-issuer"

    for given in (text, revocations, [lic["id"]]):
        with pytest.raises(LicenseError) as rejected:
            verify(issued["license_file"], keyring, installation_id="inst-1", revocations=given)
        assert rejected.value.code == "revoked"
    # Other licenses are untouched by the list.
    assert verify(other["license_file"], keyring, revocations=text).status == "valid"

    # A second revocation: the list holds both.
    api.revoke(other["license"]["id"], reason="duplicate")
    both = load_revocations(client.get("/v1/revocations").text, keyring)
    assert set(both.revoked) == {lic["id"], other["license"]["id"]}


def test_revoking_a_superseded_license_still_lists_it(api: Api, keyring: Keyring, client: Any) -> None:
    old = _enterprise(api)["license"]
    api.renew(old["id"], duration_days=30)
    api.revoke(old["id"], reason="leaked")
    assert api.license(old["id"])["status"] == "revoked"
    assert old["id"] in load_revocations(client.get("/v1/revocations").text, keyring)
