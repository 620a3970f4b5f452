"""POST /v1/licenses/refresh: the newest license of a line, for a file we signed."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

from api_testkit import Api, check_problem

from licensing.context import Core
from licensing.licenses.issuance import license_claims
from licensing.models import Customer, License
from licensing.signing.keys import KeyStore


def _refresh(client: Any, license_file: Any) -> Any:
    return client.post("/v1/licenses/refresh", json={"license_file": license_file})


def test_refresh_after_renewals_gives_the_newest(api: Api, client: Any) -> None:
    first = api.issue(api.customer()["id"], tier="professional", seats=5, duration_days=30)
    second = api.renew(first["license"]["id"], duration_days=30, seats=10)
    third = api.renew(second["license"]["id"], duration_days=30)

    for older in (first, second):
        response = _refresh(client, older["license_file"])  # no API key: public
        assert response.status_code == 200, response.text
        assert response.json() == {"license_file": third["license_file"], "changed": True}

    newest = _refresh(client, third["license_file"])
    assert newest.status_code == 200
    assert newest.json() == {"license_file": third["license_file"], "changed": False}


def test_refresh_tolerates_how_the_file_travelled(api: Api, client: Any) -> None:
    issued = api.issue(api.customer()["id"], tier="free")
    mangled = "Your license:\r\n\r\n" + "\r\n".join("   " + line for line in issued["license_file"].splitlines())
    response = _refresh(client, mangled)
    assert response.status_code == 200, response.text
    assert response.json() == {"license_file": issued["license_file"], "changed": False}


def test_refresh_of_a_revoked_license_is_403(api: Api, client: Any) -> None:
    first = api.issue(api.customer()["id"], tier="professional", seats=5, duration_days=30)
    api.revoke(first["license"]["id"], reason="fraud")
    body = check_problem(_refresh(client, first["license_file"]), 403, "revoked")
    assert first["license"]["id"] in body["detail"]


def test_refresh_when_the_newest_of_the_line_is_revoked_is_403(api: Api, client: Any) -> None:
    first = api.issue(api.customer()["id"], tier="professional", seats=5, duration_days=30)
    second = api.renew(first["license"]["id"], duration_days=30)
    api.revoke(second["license"]["id"], reason="fraud")
    check_problem(_refresh(client, first["license_file"]), 403, "revoked")
    check_problem(_refresh(client, second["license_file"]), 403, "revoked")


def test_a_file_signed_by_another_key_is_refused(api: Api, client: Any, core: Core, tmp_path: Path) -> None:
    issued = api.issue(api.customer()["id"], tier="free")
    other = KeyStore(tmp_path / "other-issuer")
    other.generate()
    claims = json.loads(base64.urlsafe_b64decode(_payload(issued["license_file"]) + "=="))
    forged = other.signer().sign_license(claims)  # the same claims, another issuer's key
    body = check_problem(_refresh(client, forged), 422, "invalid_license")
    assert body["reason"] == "unknown_key"


def test_a_tampered_file_is_refused(api: Api, client: Any) -> None:
    issued = api.issue(api.customer()["id"], tier="professional", seats=5, duration_days=30)
    payload = _payload(issued["license_file"])
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["seats"] = 5000
    new_payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    header, _, signature = _compact(issued["license_file"]).split(".")
    body = check_problem(_refresh(client, f"{header}.{new_payload}.{signature}"), 422, "invalid_license")
    assert body["reason"] == "bad_signature"


def test_unsigned_and_garbage_input_gets_clean_problems(api: Api, client: Any) -> None:
    issued = api.issue(api.customer()["id"], tier="free")
    _header, payload, _sig = _compact(issued["license_file"]).split(".")
    none_header = base64.urlsafe_b64encode(b'{"alg":"none","typ":"license+jwt"}').decode().rstrip("=")
    revocation_list = client.get("/v1/revocations").text
    malformed, unsupported = {"malformed"}, {"unsupported", "malformed"}
    cases = {
        "garbage": ("not a license", malformed),
        "alg none": (f"{none_header}.{payload}.", unsupported),
        "alg none, signed part": (f"{none_header}.{payload}.AAAA", unsupported),
        "a revocation list": (revocation_list, malformed),
        "cut short": (issued["license_file"][:-40], malformed),
        "binary-ish": ("\ufffd\u202e" * 100, malformed),
        "armor only": ("-----BEGIN LICENSE FILE-----\n-----END LICENSE FILE-----", malformed),
    }
    before = api.counts()
    for name, (text, reasons) in cases.items():
        body = check_problem(_refresh(client, text), 422, "invalid_license")
        assert body["reason"] in reasons, name
    assert api.counts() == before


def test_a_genuine_file_we_have_no_record_of_is_404(client: Any, core: Core) -> None:
    # Signed with our own key, but never stored: say so rather than pretend.
    customer = Customer(id="cus_ghost", name="Ghost", email="ghost@example.com", company=None)
    ghost = License(
        id="lic_ghost",
        customer=customer,
        customer_id=customer.id,
        tier="free",
        trial=False,
        seats=None,
        features=[],
        grace_days=0,
        issued_at=core.now(),
        starts_at=core.now(),
        expires_at=None,
    )
    text = core.signer().sign_license(license_claims(ghost, core.issuer))
    check_problem(_refresh(client, text), 404, "license_not_found")


def _compact(license_file: str) -> str:
    return "".join(line for line in license_file.splitlines() if not line.startswith("-----"))


def _payload(license_file: str) -> str:
    return _compact(license_file).split(".")[1]
