"""``/openapi.json`` tells a client what the fields mean that a name alone does not: each documented field of a body
carries its docstring as its description."""

from __future__ import annotations

from typing import Any

import httpx

from api.problems import ProblemCode
from api.schemas import ReviewRefusal
from shared.review import ReviewAction
from shared.settings import REPO_ROOT


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
    assert "amount due" in description("JobResult", "total_amount"), "not what the period cost: a client summed it"


async def test_a_reviews_bill_is_closed_to_fields_it_does_not_have_as_the_server_holds_it(
    http: httpx.AsyncClient,
) -> None:
    """The server refuses ``statement_dt`` in a decision's bill (422), but the document let any field through, so a
    client generated from it sent the typo, and a validator built from it passed the body."""
    schemas = (await http.get("/openapi.json")).json()["components"]["schemas"]
    for name in ("NormalizedBill-Input", "LineItem-Input", "UsageReading-Input"):
        assert schemas[name].get("additionalProperties") is False, name
    assert schemas["JobResult"]["additionalProperties"] is True, "a result a later release adds to stays open"


def _integer_bounds(node: object) -> list[object]:
    if isinstance(node, list):
        return [bound for child in node for bound in _integer_bounds(child)]
    if not isinstance(node, dict):
        return []
    own = [node[key] for key in ("minimum", "maximum") if node.get("type") == "integer" and key in node]
    return own + [bound for child in node.values() for bound in _integer_bounds(child)]


async def test_an_ids_bounds_are_integers_a_client_can_trust(http: httpx.AsyncClient) -> None:
    """A body's id had the maximum 9.223372036854776e+18, which is 2**63: a client generated from the document took
    2**63 + 190 for a valid id, and got a 422."""
    document = (await http.get("/openapi.json")).json()
    account = document["components"]["schemas"]["JobCreate"]["properties"]["utility_account_id"]
    assert (account["minimum"], account["maximum"]) == (1, 2**63 - 1)
    bounds = _integer_bounds(document)
    assert bounds and all(isinstance(bound, int) for bound in bounds), [b for b in bounds if not isinstance(b, int)]


async def test_the_health_probes_answer_what_the_document_says(http: httpx.AsyncClient) -> None:
    """``/health``'s body was documented as ``{}``: a monitor built from the document knew no field to read."""
    document = (await http.get("/openapi.json")).json()
    schemas = document["components"]["schemas"]
    for path, model in (("/health", "Readiness"), ("/health/ready", "Readiness"), ("/health/live", "Liveness")):
        ok = document["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
        assert ok == {"$ref": f"#/components/schemas/{model}"}, path
        body = (await http.get(path)).json()
        assert set(body) == set(schemas[model]["properties"]) and body["status"] == "ok", (path, body)


async def test_a_conflicts_own_members_are_in_the_document(http: httpx.AsyncClient, unique: str) -> None:
    """A 409 carried members the document did not name: ``utility_account_id`` (the only way an ingest key learns
    the id of an account already registered), a review's ``reason`` and ``revision``, which clients act on."""
    paths = (await http.get("/openapi.json")).json()["paths"]

    def problem(path: str, code: str) -> dict[str, Any]:
        return paths[path]["post"]["responses"][code]["content"]["application/problem+json"]["schema"]["properties"]

    review = problem("/reviews/{job_id}", "409")
    assert set(review["reason"]["anyOf"][0]["enum"]) == {reason.value for reason in ReviewRefusal}
    assert set(review["action"]["anyOf"][0]["enum"]) == {action.value for action in ReviewAction}
    assert {"revision", "taken_by", "taken_at"} <= set(review)
    assert "failing_checks" in problem("/reviews/{job_id}", "422")

    documented = problem("/utility-accounts", "409")
    customer = (await http.post("/customers", json={"name": f"Conflict {unique}"})).json()
    account = {"customer_id": customer["id"], "provider": "pge", "account_number": f"CONFLICT-{unique}"}
    assert (await http.post("/utility-accounts", json=account)).status_code == 201
    conflict = await http.post("/utility-accounts", json=account)
    assert conflict.status_code == 409 and set(conflict.json()) == set(documented), conflict.text
    assert conflict.json()["code"] == ProblemCode.ACCOUNT_EXISTS


async def test_every_422_documents_its_errors_and_a_reopenings_409_its_job(http: httpx.AsyncClient) -> None:
    """Every 422 carries ``errors`` (README tells clients to read them), but the document named them on one route's
    alone, so a generated client dropped them; a reopening's 409 carried ``job_id`` undocumented (an integrator's
    probe)."""
    paths = (await http.get("/openapi.json")).json()["paths"]
    undocumented = [
        f"{method.upper()} {path}"
        for path, operations in paths.items()
        for method, operation in operations.items()
        if "422" in operation["responses"]
        and "errors" not in operation["responses"]["422"]["content"]["application/problem+json"]["schema"]["properties"]
    ]
    assert not undocumented, undocumented
    reopened = paths["/bills/{bill_id}/reopen"]["post"]["responses"]["409"]["content"]["application/problem+json"]
    assert "job_id" in reopened["schema"]["properties"]


async def test_every_problem_documents_the_codes_a_client_branches_on(http: httpx.AsyncClient) -> None:
    """Errors had no machine-readable kind: a client matched ``detail``'s words, which change with a release (an
    integrator's probe). Every problem answered has a ``code``, and the document lists them all."""
    document = (await http.get("/openapi.json")).json()
    problems = [
        response["content"]["application/problem+json"]["schema"]
        for item in document["paths"].values()
        for operation in item.values()
        if isinstance(operation, dict)
        for response in operation["responses"].values()
        if "application/problem+json" in response.get("content", {})
    ]
    assert problems
    for schema in problems:
        assert "code" in schema["required"], schema
        assert schema["properties"]["code"]["enum"] == [code.value for code in ProblemCode], schema
    assert "$ref" not in str(problems), "a response's schema stands alone: a $ref to its own $defs resolves nowhere"


def test_readme_lists_every_code_a_client_branches_on() -> None:
    """README says it lists them all; ``bill_reopened`` was missing from the list (an inheriting engineer's probe,
    70A)."""
    readme = (REPO_ROOT / "README.md").read_text()
    listed = readme[readme.index("each with a `code` member") : readme.index("`/openapi.json` lists them")]
    assert [code.value for code in ProblemCode if f"`{code.value}`" not in listed] == []


async def test_a_retry_after_is_a_declared_header_of_each_429_and_503(http: httpx.AsyncClient) -> None:
    """Named in their descriptions' text alone, a generated client did not expose it (an integrator's probe)."""
    paths = (await http.get("/openapi.json")).json()["paths"]
    answers = [op["responses"] for item in paths.values() for op in item.values() if isinstance(op, dict)]
    limited = [r for r in answers if "429" in r]
    assert limited, "the routes that start jobs or take uploads are rate limited"
    for responses in [*limited, *(r for r in answers if "503" in r)]:
        for code in set(responses) & {"429", "503"}:
            if "application/problem+json" not in responses[code]["content"]:
                continue  # a health probe's 503 is its report, not an outage's refusal
            assert responses[code]["headers"]["Retry-After"]["schema"]["type"] == "integer", responses[code]
