"""Customers: create, list with cursor pagination, get, 404."""

from __future__ import annotations

from api_testkit import Api, aware, check_problem


def test_create_customer_returns_it_with_its_organisation(api: Api) -> None:
    response = api.post("/v1/customers", {"name": "  Ada Lovelace ", "email": "Ada@EXAMPLE.com", "company": "Ex Ltd"})
    assert response.status_code == 201, response.text
    customer = response.json()
    assert customer["id"].startswith("cus_")
    assert customer["name"] == "Ada Lovelace"
    # The domain is case-folded; the local part is kept as given.
    assert customer["email"] == "Ada@example.com"
    assert customer["organisation"] == "example.com"
    assert customer["company"] == "Ex Ltd"
    assert aware(customer["created_at"])
    assert api.get(f"/v1/customers/{customer['id']}").json() == customer


def test_company_is_optional_and_free_mail_organisations_are_addresses(api: Api) -> None:
    response = api.post("/v1/customers", {"name": "Bob", "email": "Bob.Smith@GMail.com"})
    assert response.status_code == 201, response.text
    customer = response.json()
    assert customer["company"] is None
    assert customer["organisation"] == "bobsmith@gmail.com"  # Gmail ignores dots (the catalog says so)


def test_list_customers_pages_without_gaps_or_duplicates(api: Api) -> None:
    created = [api.customer(email=f"user{i}@org{i}.example", name=f"User {i}")["id"] for i in range(7)]

    first = api.get("/v1/customers", params={"limit": 3})
    assert first.status_code == 200
    page1 = first.json()
    assert len(page1["data"]) == 3 and page1["next_cursor"] is not None
    page2 = api.get("/v1/customers", params={"limit": 3, "cursor": page1["next_cursor"]}).json()
    assert len(page2["data"]) == 3 and page2["next_cursor"] is not None
    page3 = api.get("/v1/customers", params={"limit": 3, "cursor": page2["next_cursor"]}).json()
    assert len(page3["data"]) == 1
    assert page3["next_cursor"] is None

    ids = [c["id"] for page in (page1, page2, page3) for c in page["data"]]
    assert len(ids) == len(set(ids)) == 7
    assert set(ids) == set(created)
    assert ids == sorted(ids, reverse=True), "newest first"

    # A page that ends exactly at the last item says so.
    exact = api.get("/v1/customers", params={"limit": 7}).json()
    assert len(exact["data"]) == 7 and exact["next_cursor"] is None
    # The default page holds them all, in the same order.
    assert [c["id"] for c in api.get("/v1/customers").json()["data"]] == ids
    assert [c["id"] for c in api.list_all("/v1/customers", limit=2)] == ids


def test_list_customers_by_email(api: Api) -> None:
    ada = api.customer(email="ada@example.com")
    api.customer(email="bob@example.com", name="Bob")
    found = api.get("/v1/customers", params={"email": "ada@example.com"}).json()
    assert [c["id"] for c in found["data"]] == [ada["id"]]
    assert api.get("/v1/customers", params={"email": "nobody@example.com"}).json() == {"data": [], "next_cursor": None}


def test_empty_list(api: Api) -> None:
    assert api.get("/v1/customers").json() == {"data": [], "next_cursor": None}


def test_unknown_customer_is_404(api: Api) -> None:
    body = check_problem(api.get("/v1/customers/cus_00000000000000000000000000"), 404, "customer_not_found")
    assert "cus_00000000000000000000000000" in body["detail"]


def test_an_empty_company_is_no_company(api: Api) -> None:
    customer = api.customer(email="blank@example.com", company="   ")
    assert customer["company"] is None
