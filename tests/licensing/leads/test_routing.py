"""[sales.routing] in the catalog and the owner it gives a new organisation."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest

import licensing.catalog
from licensing.catalog import CatalogError, SalesRouting, load_catalog, parse_catalog
from licensing.leads.routing import route

SHIPPED: dict[str, Any] = tomllib.loads(Path(licensing.catalog.__file__).with_name("catalog.toml").read_text("utf-8"))


def _catalog(routing: dict[str, Any]) -> Any:
    return parse_catalog({**SHIPPED, "sales": {"routing": routing}})


def test_the_shipped_catalog_routes_nobody_so_the_sales_address_decides() -> None:
    assert load_catalog().routing == SalesRouting()
    assert route("acme.example", "x@acme.example", load_catalog(), "sales@example.com") == "sales@example.com"
    assert route("acme.example", "x@acme.example", load_catalog(), None) is None


def test_accounts_then_territories_then_default() -> None:
    catalog = _catalog(
        {"default": "d@s.example", "accounts": {"Acme.co.uk": "a@s.example"}, "territories": {"UK": "uk@s.example"}}
    )
    assert route("acme.co.uk", "x@eu.acme.co.uk", catalog, "sales@example.com") == "a@s.example"
    assert route("other.co.uk", "x@other.co.uk", catalog, "sales@example.com") == "uk@s.example"
    assert route("other.de", "x@other.de", catalog, "sales@example.com") == "d@s.example"


@pytest.mark.parametrize(
    "routing",
    [{"default": "nobody"}, {"accounts": {"acme.example": 3}}, {"territories": ["de"]}, "owner@example.com"],
)
def test_a_bad_routing_table_is_refused(routing: Any) -> None:
    with pytest.raises(CatalogError):
        _catalog(routing)
