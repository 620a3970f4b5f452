"""Who owns an organisation: the catalog's ``[sales.routing]``, else ``LICENSING_SALES_EMAIL``."""

from __future__ import annotations

from licensing.catalog import Catalog


def route(organisation: str, email: str, catalog: Catalog, sales_email: str | None) -> str | None:
    """The owner of a new ``organisation`` whose first lead wrote from ``email``: ``accounts`` (by the
    registrable domain), then ``territories`` (by the address's top-level domain, a ccTLD such as ``de``),
    then ``default``, then ``sales_email``; None when none of them names anyone."""
    routing = catalog.routing
    if organisation in routing.accounts:
        return routing.accounts[organisation]
    tld = email.rpartition("@")[2].rstrip(".").rpartition(".")[2].casefold()
    if tld in routing.territories:
        return routing.territories[tld]
    return routing.default or (sales_email or "").strip() or None
