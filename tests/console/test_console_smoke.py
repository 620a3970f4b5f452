from __future__ import annotations

from consoletools import Console


def test_smoke(sales: Console) -> None:
    for path in (
        "/console/leads",
        "/console/customers",
        "/console/licenses",
        "/console/subscriptions",
        "/console/audit",
        "/console/true-ups",
        "/console/customers/new",
        "/console/licenses/new",
    ):
        r = sales.client.get(path)
        assert r.status_code == 200, (path, r.text[:3000])
