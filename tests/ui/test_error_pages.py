"""The review UI's errors are pages that say what to do next, with the API's status; the API's stay problem JSON."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from html import unescape

import httpx
import pytest
from starlette.requests import Request

from api.main import create_app
from api.problems import Problem, ProblemCode
from api.ui.errors import error_page
from shared.settings import Settings
from tests.helpers import serve
from tests.ui.conftest import csrf_of

UNKNOWN_JOB = str(uuid.UUID(int=7))
SAME_ORIGIN = {"Sec-Fetch-Site": "same-origin"}


def assert_page(response: httpx.Response, status: int, *texts: str) -> str:
    """An HTML page in the UI's frame (its stylesheet, strict CSP), with a way back to the queue and no token."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("text/html"), response.headers
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    page = unescape(response.text)
    assert '<link rel="stylesheet" href="/ui/static/ui.css">' in page and f"Error {status}" in page
    assert '<a href="/ui/reviews">Back to the review queue</a>' in page
    assert "csrf_token" not in page, "an error page may answer another origin's post: it carries no token"
    for text in texts:
        assert text in page, (text, page)
    return page


def assert_problem(response: httpx.Response, status: int) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["status"] == status


async def test_an_unknown_task_is_a_404_page(reviewer: httpx.AsyncClient) -> None:
    response = await reviewer.get(f"/ui/reviews/{UNKNOWN_JOB}")
    assert_page(response, 404, "Not found", f"job {UNKNOWN_JOB} not found", "pick a task from the review")
    # Its title says "Error:" first and its alert has the keyboard, as a refused review page's do: read out on load.
    assert "<title>Error: Not found · MiniMeter</title>" in response.text
    assert '<div class="error" role="alert" id="error-alert" tabindex="-1" autofocus>' in response.text


async def test_a_decision_for_an_unknown_task_is_a_404_page(reviewer: httpx.AsyncClient) -> None:
    token = csrf_of(await reviewer.get("/ui/reviews"))
    data = {"csrf_token": token, "action": "approve", "revision": "r1"}
    response = await reviewer.post(f"/ui/reviews/{UNKNOWN_JOB}", data=data, headers=SAME_ORIGIN)
    assert_page(response, 404, f"job {UNKNOWN_JOB} not found")


async def test_an_unknown_ui_address_and_a_wrong_method_are_pages(reviewer: httpx.AsyncClient) -> None:
    assert_page(await reviewer.get("/ui/no-such-page"), 404)
    assert_page(await reviewer.delete("/ui/reviews"), 405)


async def test_an_invalid_query_is_a_422_page_naming_the_field(reviewer: httpx.AsyncClient) -> None:
    response = await reviewer.get("/ui/reviews", params={"offset": "-1"})
    assert_page(response, 422, "Something sent was not valid", "query offset: Input should be greater than")


async def test_a_bad_key_is_a_401_page_offering_sign_in_with_the_apis_headers(ui_url: str) -> None:
    async with httpx.AsyncClient(
        base_url=ui_url, timeout=60, headers={"Authorization": "Bearer mm_not-a-real-key"}
    ) as client:
        response = await client.get("/ui/reviews", params={"provider": "pge"})
    sign_in_here = '<a href="/ui/login?next=%2Fui%2Freviews%3Fprovider%3Dpge">Sign in again</a>'
    assert_page(response, 401, "invalid, revoked or expired", sign_in_here)
    assert response.headers["www-authenticate"].startswith("Bearer"), "the problem's headers are kept"


async def test_a_post_from_another_origin_is_a_403_page(reviewer: httpx.AsyncClient) -> None:
    response = await reviewer.post("/ui/logout", headers={"Sec-Fetch-Site": "same-site"})
    assert_page(response, 403, "Not allowed", "a page of another origin sent this form")


async def test_the_same_errors_from_the_api_stay_problem_documents(http: httpx.AsyncClient) -> None:
    assert_problem(await http.get(f"/reviews/{UNKNOWN_JOB}"), 404)
    assert_problem(await http.get("/no-such-route"), 404)
    assert_problem(await http.get("/reviews", params={"offset": "-1"}), 422)
    assert_problem(await http.delete("/reviews"), 405)
    async with httpx.AsyncClient(base_url=str(http.base_url)) as anon:
        assert_problem(await anon.get("/reviews", headers={"Authorization": "Bearer mm_not-a-real-key"}), 401)


REFUSALS = {
    409: Problem(409, "the job is not awaiting review (status SUCCEEDED)", code=ProblemCode.NOT_PENDING),
    429: Problem(429, "rate limit exceeded for decisions", headers={"Retry-After": "7"}, code=ProblemCode.RATE_LIMITED),
    503: Problem(
        503,
        "Temporal did not answer; send the decision again",
        headers={"Retry-After": "5"},
        code=ProblemCode.TEMPORAL_UNAVAILABLE,
    ),
}

INVALID_FIELD_LOCATIONS: dict[str, object] = {"list": ["body", "total"], "string": "total", "number": 3, "none": None}


@pytest.fixture(scope="module")
async def failing_url(app_settings: Settings) -> AsyncIterator[str]:
    """The app with UI pages and API routes that refuse as a service under them would (conflict, rate limit,
    Temporal down), and one that fails unexpectedly (a bug)."""
    app = create_app(app_settings)
    for status, problem in REFUSALS.items():
        app.add_api_route(f"/ui/refused/{status}", _raising(problem))
        app.add_api_route(f"/refused/{status}", _raising(problem))
    for shape, loc in INVALID_FIELD_LOCATIONS.items():
        invalid = Problem(422, "bad", errors=[{"loc": loc, "msg": "a number"}], code=ProblemCode.INVALID_REQUEST)
        app.add_api_route(f"/ui/invalid/{shape}", _raising(invalid))
    app.add_api_route("/ui/broken", _raising(RuntimeError("a bug")))
    app.add_api_route("/broken", _raising(RuntimeError("a bug")))
    async with serve(app) as url:
        yield url


def _raising(error: Exception) -> Callable[[], Awaitable[None]]:
    async def route() -> None:
        raise error

    return route


@pytest.mark.parametrize(
    ("status", "texts"),
    [
        (409, ["This changed while you had it open", "not awaiting review", "reload the task"]),
        (429, ["Too many requests", "rate limit exceeded", "Try again in 7 seconds"]),
        (503, ["Try again in a few seconds", "Temporal did not answer", "Try again in 5 seconds"]),
    ],
)
async def test_a_refusal_under_the_ui_is_its_page_with_the_same_status_and_retry_after(
    failing_url: str, status: int, texts: list[str]
) -> None:
    async with httpx.AsyncClient(base_url=failing_url) as client:
        page = await client.get(f"/ui/refused/{status}")
        api = await client.get(f"/refused/{status}")
    assert_page(page, status, *texts)
    assert_problem(api, status)
    assert page.headers.get("retry-after") == api.headers.get("retry-after")


@pytest.mark.parametrize(
    ("shape", "shown"),
    [("list", "body total: a number"), ("string", "total: a number"), ("number", "3: a number"), ("none", "a number")],
)
async def test_an_invalid_fields_location_of_any_shape_is_named_not_a_500(
    failing_url: str, shape: str, shown: str
) -> None:
    """``errors`` from a service's own ``Problem``, not only FastAPI's validation (whose ``loc`` is always a list)."""
    async with httpx.AsyncClient(base_url=failing_url) as client:
        assert_page(await client.get(f"/ui/invalid/{shape}"), 422, f"<li>{shown}</li>")


async def test_an_unexpected_failure_is_a_500_page_under_ui_and_a_problem_elsewhere(failing_url: str) -> None:
    async with httpx.AsyncClient(base_url=failing_url) as client:
        assert_page(await client.get("/ui/broken"), 500, "Something went wrong", "It has been logged")
        assert_problem(await client.get("/broken"), 500)


def test_the_page_escapes_what_the_problem_says() -> None:
    """A detail or an error can quote what was sent (a job id in the path, a field's value)."""
    evil = '<script>alert("x")</script>'
    scope = {"type": "http", "method": "GET", "path": f"/ui/reviews/{evil}", "query_string": b"", "headers": []}
    page = bytes(error_page(Request(scope), 409, f"job {evil} not found", errors=[evil]).body).decode()
    assert "<script>" not in page and "&lt;script&gt;" in page
