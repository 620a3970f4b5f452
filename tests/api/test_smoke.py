from licensing.verify import Keyring, verify


def test_issue_and_verify_round_trip(client, auth, keyring: Keyring) -> None:
    customer = client.post("/v1/customers", json={"name": "Ada", "email": "ada@example.com"}, headers=auth)
    assert customer.status_code == 201, customer.text
    issued = client.post(
        "/v1/licenses",
        json={"customer_id": customer.json()["id"], "tier": "enterprise", "seats": 10, "duration_days": 30},
        headers=auth,
    )
    assert issued.status_code == 201, issued.text
    lic = verify(issued.json()["license_file"], keyring)
    assert lic.id == issued.json()["license"]["id"]
    assert lic.tier == "enterprise" and lic.seats == 10 and lic.status == "valid"
    assert lic.has_feature("cluster") and lic.has_feature("saml")
