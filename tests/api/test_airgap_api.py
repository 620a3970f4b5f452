"""SPEC section 8 through the sales API: POST /v1/activations, POST /v1/usage-reports, GET /v1/true-ups.

The installation's side is the verifier library (licensing.airgap), as a self-hosted server would use it;
forged and altered files are made by hand (tests/airgaptools.py). Every refusal leaves nothing stored."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from airgaptools import DAY, day_start, other_key, parts, resign, tampered, unsigned
from api_testkit import Api, check_problem
from sqlalchemy import func, select

from licensing.airgap import InstallationKey, activation_request, report_digest, usage_report, verify_receipt
from licensing.models import ActivationRequest, InstallationBinding, InstallationMove, TrueUp, UsageReport
from licensing.verify import Keyring


def _rows(api: Api) -> dict[str, int]:
    counts = api.counts()
    with api.session_factory() as session:
        for model in (ActivationRequest, InstallationBinding, InstallationMove, UsageReport, TrueUp):
            counts[model.__tablename__] = session.scalar(select(func.count()).select_from(model)) or 0
    return counts


@pytest.fixture
def sold(api: Api) -> dict[str, Any]:
    """A sales license: enterprise, 10 seats, 30 days."""
    customer = api.customer("ops@bound-7c1d.example")
    return api.issue(customer["id"], tier="enterprise", seats=10, duration_days=30)


def _activate(api: Api, request: str, **extra: Any) -> Any:
    return api.post("/v1/activations", {"request": request, **extra})


def _report(
    key: InstallationKey,
    license_id: str,
    installation_id: str,
    seq: int,
    prev: str | None,
    counts: list[int],
    *,
    first_day: int | None = None,
) -> str:
    start = first_day if first_day is not None else day_start(datetime.now(UTC)) - 40 * DAY
    start += (seq - 1) * 5 * DAY  # each report's days after the last's
    daily = [(start + i * DAY, users) for i, users in enumerate(counts)]
    return usage_report(
        key,
        license_id=license_id,
        installation_id=installation_id,
        seq=seq,
        prev=prev,
        period_start=start,
        period_end=start + max(len(counts), 1) * DAY,
        daily=daily,
    )


def test_an_activation_binds_the_line_to_the_installation(
    api: Api, sold: dict[str, Any], pyjwt_decode: Callable[..., dict[str, Any]]
) -> None:
    key = InstallationKey.generate()
    request = activation_request(key, "inst-east-1", license_text=sold["license_file"], product_version="9.1")
    response = _activate(api, request)
    assert response.status_code == 201, response.text
    bound = response.json()
    old, new = sold["license"], bound["license"]
    assert new["supersedes"] == old["id"] and new["line_id"] == old["line_id"]
    assert new["installation_id"] == "inst-east-1" and new["cnf_jkt"] == key.thumbprint
    for same in ("tier", "trial", "seats", "features", "grace_days", "starts_at", "expires_at", "customer_id"):
        assert new[same] == old[same], same
    claims = pyjwt_decode(bound["license_file"])
    assert claims["cnf"] == {"jkt": key.thumbprint} and claims["installation_id"] == "inst-east-1"
    assert claims["supersedes"] == old["id"]
    assert api.license(old["id"])["status"] == "superseded"
    # The same request again: the same license, nothing new.
    before = _rows(api)
    again = _activate(api, request)
    assert again.status_code == 201 and again.json()["license"]["id"] == new["id"]
    assert _rows(api) == before
    # Another request from the same installation (a new nonce): the line's license as it is, nothing issued.
    fresh = _activate(api, activation_request(key, "inst-east-1", license_text=sold["license_file"]))
    assert fresh.status_code == 201 and fresh.json()["license"]["id"] == new["id"]
    assert _rows(api)["licenses"] == before["licenses"]
    # Renewing keeps the binding; so does a preview of the next renewal; refresh answers the bound license.
    preview = api.post("/v1/licenses/preview", {"renews": new["id"], "duration_days": 30}).json()
    assert preview["claims"]["cnf"] == {"jkt": key.thumbprint}
    renewed = api.renew(new["id"], duration_days=365)
    assert pyjwt_decode(renewed["license_file"])["cnf"] == {"jkt": key.thumbprint}
    assert renewed["license"]["installation_id"] == "inst-east-1"
    refreshed = api.client.post("/v1/licenses/refresh", json={"license_file": sold["license_file"]}).json()
    assert refreshed["changed"] is True and refreshed["license_file"] == renewed["license_file"]
    actions = [e["action"] for e in api.get("/v1/audit-events", params={"subject_id": new["id"]}).json()["data"]]
    assert "license.activated" in actions and "license.issued" in actions


def test_another_installation_is_refused_unless_sales_move_the_line(
    api: Api, sold: dict[str, Any], pyjwt_decode: Callable[..., dict[str, Any]]
) -> None:
    first, second = InstallationKey.generate(), InstallationKey.generate()
    bound = _activate(api, activation_request(first, "inst-a", license_text=sold["license_file"])).json()
    request = activation_request(second, "inst-b", license_text=bound["license_file"])
    before = _rows(api)
    refused = check_problem(_activate(api, request), 409, "already_activated")
    assert refused["installation_id"] == "inst-a"
    assert _rows(api) == before
    moved = _activate(api, request, move=True)
    assert moved.status_code == 201, moved.text
    assert pyjwt_decode(moved.json()["license_file"])["cnf"] == {"jkt": second.thumbprint}
    assert moved.json()["license"]["supersedes"] == bound["license"]["id"]
    events = api.get("/v1/audit-events", params={"action": "license.moved"}).json()["data"]
    assert len(events) == 1 and events[0]["actor"].startswith("sally (key_")
    assert events[0]["data"]["from_installation_id"] == "inst-a"
    assert events[0]["data"]["to_installation_id"] == "inst-b"
    assert events[0]["data"]["from_jkt"] == first.thumbprint and events[0]["data"]["to_jkt"] == second.thumbprint


def test_activation_refusals(api: Api, sold: dict[str, Any]) -> None:
    key = InstallationKey.generate()
    check_problem(_activate(api, activation_request(key, "inst-1", license_id="lic_nope")), 404, "license_not_found")
    customer = api.customer("ops@revoked-88aa.example")
    revoked = api.issue(customer["id"], tier="enterprise", seats=5, duration_days=30)
    api.revoke(revoked["license"]["id"])
    check_problem(
        _activate(api, activation_request(key, "inst-1", license_text=revoked["license_file"])), 409, "license_revoked"
    )


def _forgeries(sold: dict[str, Any]) -> list[tuple[str, str, str]]:
    key, stranger = InstallationKey.generate(), other_key()
    genuine = activation_request(key, "inst-1", license_text=sold["license_file"])
    header, _claims, _sig = parts(genuine)
    return [
        ("signed by another key than the one embedded", resign(genuine, stranger), "bad_signature"),
        ("tampered payload", tampered(genuine, installation_id="inst-evil"), "bad_signature"),
        ("wrong typ", resign(genuine, key, header={**header, "typ": "license+jwt"}), "unsupported"),
        ("alg none", unsigned(genuine, "none"), "unsupported"),
        ("alg HS256", unsigned(genuine, "HS256"), "unsupported"),
        ("a usage report", _report(key, "lic_x", "inst-1", 1, None, [1]), "malformed"),
        ("not a file", "hello", "malformed"),
    ]


def test_forged_activation_requests_are_refused_and_nothing_is_stored(api: Api, sold: dict[str, Any]) -> None:
    before = _rows(api)
    for what, text, reason in _forgeries(sold):
        problem = check_problem(_activate(api, text), 422, "invalid_request_file")
        assert problem["reason"] == reason, (what, problem)
    assert _rows(api) == before


def test_usage_reports_are_chained_stored_once_and_answered_with_a_receipt(
    api: Api, sold: dict[str, Any], jwks: dict[str, Any]
) -> None:
    key = InstallationKey.generate()
    bound = _activate(api, activation_request(key, "inst-1", license_text=sold["license_file"])).json()["license"]
    first = _report(key, bound["id"], "inst-1", 1, None, [3, 12, 7])
    response = api.post("/v1/usage-reports", {"report": first})
    assert response.status_code == 201, response.text
    answer = response.json()
    assert {k: answer[k] for k in ("seq", "overage", "gap")} == {"seq": 1, "overage": 2, "gap": False}
    receipt = verify_receipt(answer["receipt"], Keyring.from_jwks(jwks), report_digest(first))
    assert (receipt.seq, receipt.overage, receipt.gap, receipt.seats, receipt.peak_users) == (1, 2, False, 10, 12)
    # The same report again: the same receipt, stored once.
    before = _rows(api)
    assert api.post("/v1/usage-reports", {"report": first}).json() == answer
    assert _rows(api) == before
    # Another report of seq 1: a conflict.
    check_problem(
        api.post("/v1/usage-reports", {"report": _report(key, bound["id"], "inst-1", 1, None, [4])}),
        409,
        "report_conflict",
    )
    # seq 2 whose prev is not seq 1's digest: chain_broken.
    wrong_prev = _report(
        key, bound["id"], "inst-1", 2, report_digest(_report(key, bound["id"], "inst-1", 1, None, [9])), [5]
    )
    check_problem(api.post("/v1/usage-reports", {"report": wrong_prev}), 409, "chain_broken")
    assert _rows(api) == before
    second = _report(key, bound["id"], "inst-1", 2, report_digest(first), [5, 6])
    ok = api.post("/v1/usage-reports", {"report": second})
    assert ok.status_code == 201 and ok.json()["gap"] is False and ok.json()["overage"] == 0
    # seq 4 after seq 2: a gap, accepted and marked (its prev cannot be checked).
    fourth = _report(key, bound["id"], "inst-1", 4, report_digest(second), [8])
    gap = api.post("/v1/usage-reports", {"report": fourth})
    assert gap.status_code == 201 and gap.json()["gap"] is True
    assert verify_receipt(gap.json()["receipt"], Keyring.from_jwks(jwks), report_digest(fourth)).gap is True
    # The sales line's overage is recorded for sales.
    true_ups = api.get("/v1/true-ups").json()["data"]
    assert len(true_ups) == 1
    assert true_ups[0]["status"] == "recorded" and true_ups[0]["overage"] == 2 and true_ups[0]["seats_before"] == 10
    assert api.get("/v1/true-ups", params={"status": "pending"}).json()["data"] == []
    assert api.get("/v1/true-ups", params={"customer_id": bound["customer_id"]}).json()["data"] == true_ups


def test_reports_signed_by_another_key_or_for_an_unbound_line_are_refused(api: Api, sold: dict[str, Any]) -> None:
    key, stranger = InstallationKey.generate(), InstallationKey.generate()
    unbound = _report(key, sold["license"]["id"], "inst-1", 1, None, [1])
    check_problem(api.post("/v1/usage-reports", {"report": unbound}), 409, "not_activated")
    bound = _activate(api, activation_request(key, "inst-1", license_text=sold["license_file"])).json()["license"]
    genuine = _report(key, bound["id"], "inst-1", 1, None, [30])
    header, _claims, _sig = parts(genuine)
    before = _rows(api)
    cases = [
        (_report(stranger, bound["id"], "inst-1", 1, None, [1]), 409, "installation_mismatch", None),
        (resign(genuine, stranger), 422, "invalid_report_file", "bad_signature"),  # the bound kid, another key
        (tampered(genuine, peak_users=0, daily=[]), 422, "invalid_report_file", "bad_signature"),
        (
            resign(genuine, key, header={**header, "typ": "license-activation+jwt"}),
            422,
            "invalid_report_file",
            "unsupported",
        ),
        (unsigned(genuine, "none"), 422, "invalid_report_file", "unsupported"),
        (unsigned(genuine, "HS256"), 422, "invalid_report_file", "unsupported"),
        (_report(key, bound["id"], "inst-other", 1, None, [1]), 409, "installation_mismatch", None),
        (_report(key, "lic_unknown", "inst-1", 1, None, [1]), 404, "license_not_found", None),
        ("not a report", 422, "invalid_report_file", "malformed"),
    ]
    for text, status, code, reason in cases:
        problem = check_problem(api.post("/v1/usage-reports", {"report": text}), status, code)
        if reason is not None:
            assert problem["reason"] == reason, problem
    assert _rows(api) == before


def test_idempotency_key_and_roles(api: Api, sold: dict[str, Any], client: Any, readonly_auth: dict[str, str]) -> None:
    key = InstallationKey.generate()
    request = activation_request(key, "inst-1", license_text=sold["license_file"])
    check_problem(client.post("/v1/activations", json={"request": request}, headers=readonly_auth), 403)
    headers = {"Idempotency-Key": "act-1"}
    first = api.post("/v1/activations", {"request": request}, headers=headers)
    again = api.post("/v1/activations", {"request": request}, headers=headers)
    assert first.status_code == again.status_code == 201 and again.headers.get("Idempotent-Replayed") == "true"
    assert again.json() == first.json()
    assert client.get("/v1/true-ups", headers=readonly_auth).status_code == 200


def test_the_catalog_says_how_often_a_customer_may_move_a_license(api: Api) -> None:
    offers = {o["key"]: o for o in api.get("/v1/catalog").json()["offers"]}
    assert {key: offers[key]["max_moves"] for key in offers} == {
        "free": 1,
        "professional_trial": 1,
        "professional": 3,
        "enterprise": 3,
    }


def test_true_ups_come_in_cursor_pages_newest_first(api: Api) -> None:
    made = []
    for i in range(3):
        customer = api.customer(f"ops@pages-{i}-4e1f.example")
        sold = api.issue(customer["id"], tier="enterprise", seats=2, duration_days=30)
        key = InstallationKey.generate()
        bound = _activate(api, activation_request(key, f"inst-{i}", license_text=sold["license_file"])).json()
        report = _report(key, bound["license"]["id"], f"inst-{i}", 1, None, [3 + i])
        assert api.post("/v1/usage-reports", {"report": report}).json()["overage"] == 1 + i
        made.append(customer["id"])
    listed = api.list_all("/v1/true-ups", limit=1)
    assert [row["customer_id"] for row in listed] == made[::-1]
    assert [row["overage"] for row in listed] == [3, 2, 1]
    check_problem(api.get("/v1/true-ups", params={"cursor": "nope"}), 422, "invalid_cursor")
    check_problem(api.get("/v1/true-ups", params={"status": "nope"}), 422)


def test_a_license_issued_for_an_installation_id_is_bound_to_it(api: Api) -> None:
    """Issued with an installation_id (no key yet): that installation activates it; another is a move."""
    customer = api.customer("ops@preset-0b3c.example")
    sold = api.issue(customer["id"], tier="enterprise", seats=5, duration_days=30, installation_id="srv-known")
    other = activation_request(InstallationKey.generate(), "srv-other", license_text=sold["license_file"])
    check_problem(_activate(api, other), 409, "already_activated")
    key = InstallationKey.generate()
    ok = _activate(api, activation_request(key, "srv-known", license_text=sold["license_file"]))
    assert ok.status_code == 201 and ok.json()["license"]["cnf_jkt"] == key.thumbprint
    assert api.get("/v1/audit-events", params={"action": "license.moved"}).json()["data"] == []
    moved = _activate(
        api, activation_request(InstallationKey.generate(), "srv-new", license_id=sold["license"]["id"]), move=True
    )
    assert moved.status_code == 201 and moved.json()["license"]["installation_id"] == "srv-new"
