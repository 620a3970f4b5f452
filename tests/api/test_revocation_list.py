"""The signed revocation list (SPEC section 2): `seq`, re-signed when the active key changes, entries
dropped once their grace has ended, and revoking a license revokes its whole line."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from api_testkit import Api, aware, unarmor

from licensing.signing.keys import KeyStore
from licensing.verify import Keyring, LicenseError, load_revocations, verify


def _listing(client: Any) -> tuple[dict[str, Any], dict[str, Any], str]:
    """Header, claims (checked by PyJWT against the JWKS served now) and text of the served list."""
    text = client.get("/v1/revocations").text
    compact = unarmor(text)
    header = jwt.get_unverified_header(compact)
    [jwk] = [k for k in client.get("/.well-known/jwks.json").json()["keys"] if k["kid"] == header["kid"]]
    claims: dict[str, Any] = jwt.decode(
        compact, key=jwt.PyJWK(jwk), algorithms=["EdDSA"], options={"verify_iat": False}
    )
    return header, claims, text


def _enterprise(api: Api, **extra: Any) -> dict[str, Any]:
    customer = api.customer(email="it@line-6e2f.example")["id"]
    return api.issue(customer, tier="enterprise", seats=50, duration_days=100, grace_days=30, **extra)


def test_seq_grows_by_one_with_every_re_signing(api: Api, client: Any, keyring: Keyring) -> None:
    _header, empty, _ = _listing(client)
    base = empty["seq"]
    assert base >= 0 and empty["revoked"] == []
    first = _enterprise(api)["license"]["id"]
    second = api.issue(api.customer(email="b@seq-3c1a.example")["id"], tier="free")["license"]["id"]
    api.revoke(first)
    _h, one, older_text = _listing(client)
    api.revoke(second)
    _h, two, newer_text = _listing(client)
    assert (one["seq"], two["seq"]) == (base + 1, base + 2)
    assert [e["jti"] for e in two["revoked"]] == [first, second]
    # Reading again re-signs nothing: the same list, the same seq.
    assert _listing(client)[2] == newer_text
    # An older list replayed to an install is told apart by its seq, as the verifier reads it.
    assert older_text != newer_text
    assert load_revocations(older_text, keyring).seq < load_revocations(newer_text, keyring).seq == two["seq"]


def test_the_list_follows_the_active_key(api: Api, client: Any, keystore: KeyStore) -> None:
    lic = _enterprise(api)["license"]["id"]
    api.revoke(lic)
    header, before, _ = _listing(client)
    old_kid = keystore.signer().kid
    assert header["kid"] == old_kid
    keystore.generate()
    keystore.rotate()
    keystore.retire(old_kid)
    new_kid = keystore.signer().kid
    header, after, text = _listing(client)
    assert header["kid"] == new_kid != old_kid
    assert after["seq"] == before["seq"] + 1 and [e["jti"] for e in after["revoked"]] == [lic]
    current = Keyring.from_jwks(client.get("/.well-known/jwks.json").json())
    assert old_kid not in current.key_ids
    assert lic in load_revocations(text, current)


def test_entries_drop_off_once_their_grace_has_ended(api: Api, client: Any, clock: Any) -> None:
    start = datetime(2031, 3, 1, tzinfo=UTC)
    clock.set(start)
    ending = _enterprise(api)["license"]  # ends after 100 days, grace 30 more
    perpetual = api.issue(api.customer(email="f@perp-0b9e.example")["id"], tier="free")["license"]
    api.revoke(ending["id"])
    api.revoke(perpetual["id"])
    _h, both, _ = _listing(client)
    assert {e["jti"] for e in both["revoked"]} == {ending["id"], perpetual["id"]}
    clock.set(aware(ending["grace_ends_at"]) - timedelta(seconds=1))
    assert {e["jti"] for e in _listing(client)[1]["revoked"]} == {ending["id"], perpetual["id"]}
    clock.set(aware(ending["grace_ends_at"]))
    _h, claims, _ = _listing(client)
    assert [e["jti"] for e in claims["revoked"]] == [perpetual["id"]]
    assert claims["seq"] == both["seq"] + 1


def test_revoking_a_renewed_license_revokes_its_predecessors(api: Api, client: Any, keyring: Keyring) -> None:
    first = _enterprise(api, installation_id="inst-9")
    second = api.renew(first["license"]["id"], duration_days=30)
    third = api.renew(second["license"]["id"], duration_days=30)
    api.revoke(third["license"]["id"], reason="chargeback")
    text = _listing(client)[2]
    for issued in (first, second, third):
        assert api.license(issued["license"]["id"])["status"] == "revoked"
        with pytest.raises(LicenseError) as rejected:
            verify(issued["license_file"], keyring, installation_id="inst-9", revocations=text)
        assert rejected.value.code == "revoked"
    events = api.list_all("/v1/audit-events", action="license.revoked")
    assert {e["subject_id"] for e in events} == {i["license"]["id"] for i in (first, second, third)}


def test_revoking_an_old_license_leaves_its_successor(api: Api) -> None:
    first = _enterprise(api)
    second = api.renew(first["license"]["id"], duration_days=30)
    api.revoke(first["license"]["id"], reason="this file leaked")
    assert api.license(first["license"]["id"])["status"] == "revoked"
    assert api.license(second["license"]["id"])["status"] == "active"


def test_predecessors_that_have_ended_are_not_listed_again(api: Api, client: Any, clock: Any) -> None:
    start = datetime(2032, 1, 1, tzinfo=UTC)
    clock.set(start)
    customer = api.customer(email="p@ended-77aa.example")["id"]
    old = api.issue(customer, tier="professional", seats=3, duration_days=10)["license"]
    clock.set(start + timedelta(days=40))  # old has ended (grace 10 days)
    new = api.renew(old["id"], duration_days=30)["license"]
    api.revoke(new["id"])
    assert [e["jti"] for e in _listing(client)[1]["revoked"]] == [new["id"]]
