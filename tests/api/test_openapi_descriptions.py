"""``/openapi.json`` tells a client what the fields mean that a name alone does not: each documented field of a body
carries its docstring as its description."""

from __future__ import annotations

import httpx


async def test_the_served_openapi_describes_the_fields_a_client_cannot_guess(http: httpx.AsyncClient) -> None:
    """The docstrings were read by engineers only: ``/docs`` showed ``total_billed`` with no word of what it is when
    a customer's bills are in two currencies, nor what ``total_cost`` counts."""
    schemas = (await http.get("/openapi.json")).json()["components"]["schemas"]

    def description(model: str, field: str) -> str:
        return str(schemas[model]["properties"][field].get("description", ""))

    assert "None when they do not" in description("DashboardPublic", "total_billed")
    assert "never summed" in description("DashboardPublic", "total_billed_by_currency")
    assert "current_charges" in description("MonthlyTotal", "total_cost")
    assert "None: no more" in description("JobPage", "next_cursor")
    assert "soft claim" in description("ReviewSummary", "claimed_by")
