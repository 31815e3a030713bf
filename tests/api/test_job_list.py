"""``GET /jobs``: newest first, and a cursor that keeps its place while new jobs arrive."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime, timedelta

import httpx

from api.auth import Role, create_key
from tests.helpers import create_account, insert_job
from worker.resources import Resources


async def test_paging_by_cursor_neither_repeats_nor_skips_a_job_while_jobs_arrive(
    http: httpx.AsyncClient, resources: Resources, unique: str
) -> None:
    """By offset, a job created between two pages pushes the first page's last job onto the second."""
    account = await create_account(http, provider="pge", account_number=f"PAGE-{unique}")
    older = [await insert_job(resources.pool, account, status="SUCCEEDED") for _ in range(5)]
    query = {"customer_id": account["customer_id"], "limit": 2}

    first = (await http.get("/jobs", params=query)).json()
    newer = await insert_job(resources.pool, account, status="SUCCEEDED")
    seen = [job["id"] for job in first["items"]]
    cursor = first["next_cursor"]
    while cursor is not None:
        page = (await http.get("/jobs", params={**query, "cursor": cursor})).json()
        seen += [job["id"] for job in page["items"]]
        cursor = page["next_cursor"]

    assert sorted(seen) == sorted(older), "every job there when paging began, once; the newer one is on page one"
    assert len(seen) == len(set(seen))
    assert (await http.get("/jobs", params=query)).json()["items"][0]["id"] == newer


async def test_the_last_page_offers_no_next_cursor_even_when_full(
    http: httpx.AsyncClient, resources: Resources, unique: str
) -> None:
    """A client following next_cursor stops at the last job, not after a request for an empty page."""
    account = await create_account(http, provider="pge", account_number=f"LAST-{unique}")
    for _ in range(4):
        await insert_job(resources.pool, account, status="SUCCEEDED")
    query = {"customer_id": account["customer_id"], "limit": 2}

    first = (await http.get("/jobs", params=query)).json()
    last = (await http.get("/jobs", params={**query, "cursor": first["next_cursor"]})).json()

    assert len(last["items"]) == 2
    assert last["next_cursor"] is None
    assert (await http.get("/jobs", params={**query, "limit": 4})).json()["next_cursor"] is None


async def test_a_cursor_that_is_not_one_is_a_422(http: httpx.AsyncClient) -> None:
    out_of_range = [  # valid times that UTC cannot hold: refused here, not by the database driver
        base64.urlsafe_b64encode(f"{stamp}|{uuid.uuid4()}".encode()).decode()
        for stamp in ("0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00")
    ]
    for bad in ("not-base64!", "bm8gYmFy", "MjAyNi0wMS0wMXxub3QtYS11dWlk", *out_of_range):
        response = await http.get("/jobs", params={"cursor": bad})
        assert response.status_code == 422, response.text
    both = await http.get("/jobs", params={"cursor": "x", "offset": 2})
    assert both.status_code == 422 and "either cursor or offset" in both.json()["detail"]


async def test_several_statuses_list_the_jobs_of_any_of_them(
    http: httpx.AsyncClient, resources: Resources, unique: str
) -> None:
    """``?status=FAILED&status=NEEDS_REVIEW`` listed the NEEDS_REVIEW jobs alone (the last value), total and all,
    with nothing to say the first was dropped."""
    account = await create_account(http, provider="pge", account_number=f"STATUS-{unique}")
    made = {status: await insert_job(resources.pool, account, status=status) for status in ("FAILED", "NEEDS_REVIEW")}
    await insert_job(resources.pool, account, status="SUCCEEDED")
    query = [("customer_id", account["customer_id"]), ("status", "FAILED"), ("status", "NEEDS_REVIEW")]

    page = (await http.get("/jobs", params=query)).json()
    one = (await http.get("/jobs", params=query[:2])).json()
    wrong = await http.get("/jobs", params=[*query, ("status", "DONE")])

    assert sorted(job["id"] for job in page["items"]) == sorted(made.values()) and page["total"] == 2
    assert [job["id"] for job in one["items"]] == [made["FAILED"]]
    assert wrong.status_code == 422, wrong.text


async def test_jobs_are_listed_by_type_any_of_several(
    http: httpx.AsyncClient, resources: Resources, unique: str
) -> None:
    """A reviewer looking for the bills colleagues reopened read every job of the account to find them (a reviewer's
    probe): ``?job_type=reopen`` lists those, and a cursor of that list pages it alone."""
    account = await create_account(http, provider="pge", account_number=f"TYPE-{unique}")
    made = {
        kind: await insert_job(resources.pool, account, job_type=kind, status="SUCCEEDED")
        for kind in ("upload", "reopen", "connector")
    }
    await insert_job(resources.pool, account, job_type="reopen", status="NEEDS_REVIEW")
    mine = [("utility_account_id", account["id"])]

    reopens = (await http.get("/jobs", params=[*mine, ("job_type", "reopen")])).json()
    two = (await http.get("/jobs", params=[*mine, ("job_type", "upload"), ("job_type", "connector")])).json()
    first = (await http.get("/jobs", params=[*mine, ("job_type", "reopen"), ("limit", 1)])).json()
    unfiltered = await http.get("/jobs", params=[*mine, ("cursor", first["next_cursor"])])
    wrong = await http.get("/jobs", params=[*mine, ("job_type", "manual")])

    assert reopens["total"] == 2 and {job["job_type"] for job in reopens["items"]} == {"reopen"}
    assert made["reopen"] in {job["id"] for job in reopens["items"]}
    assert sorted(job["id"] for job in two["items"]) == sorted([made["upload"], made["connector"]])
    assert unfiltered.status_code == 422, "a cursor of the reopen jobs does not page the whole list"
    assert wrong.status_code == 422 and "reopen" in wrong.text, wrong.text


async def test_a_cursor_pages_only_the_list_and_filters_it_came_from(
    http: httpx.AsyncClient, resources: Resources, unique: str
) -> None:
    """A /jobs cursor was read by /reviews (and back), and one of an unfiltered list by a filtered one: each gave a
    page of something else, a 200. A cursor of the same list and filters (in any order) goes on."""
    account = await create_account(http, provider="pge", account_number=f"SCOPE-{unique}")
    for status in ("SUCCEEDED", "FAILED", "SUCCEEDED"):
        await insert_job(resources.pool, account, status=status)
    first = (await http.get("/jobs", params={"limit": 1, "status": ["SUCCEEDED", "FAILED"]})).json()
    cursor = first["next_cursor"]
    assert cursor is not None
    same = await http.get("/jobs", params={"limit": 1, "status": ["FAILED", "SUCCEEDED"], "cursor": cursor})
    assert same.status_code == 200, same.text
    for path, params in [("/jobs", {"status": "FAILED"}), ("/jobs", {}), ("/reviews", {})]:
        refused = await http.get(path, params={**params, "cursor": cursor})
        assert refused.status_code == 422, (path, params, refused.text)
        assert "another list or other filters" in refused.json()["detail"]


async def test_a_filter_the_api_does_not_have_is_a_422_not_ignored(
    http: httpx.AsyncClient, resources: Resources, unique: str
) -> None:
    """``?account=`` (for ``utility_account_id``) or ``?customer=`` (for ``customer_id``) listed every job the key may
    see, which a script took for the filtered page; the 422 names the parameter and those the route takes."""
    account = await create_account(http, provider="pge", account_number=f"FILTER-{unique}")
    await insert_job(resources.pool, account, status="FAILED")

    for name, value in (("account", account["id"]), ("customer", account["customer_id"])):
        response = await http.get("/jobs", params={name: value, "limit": 5})
        assert response.status_code == 422, response.text
        (error,) = response.json()["errors"]
        assert error["loc"] == ["query", name] and error["type"] == "extra_forbidden"
        assert "customer_id" in error["msg"] and "status" in error["msg"], "names the filters it has"

    taken = await http.get("/jobs", params={"customer_id": account["customer_id"], "status": "FAILED", "limit": 5})
    assert taken.status_code == 200 and taken.json()["total"] == 1
    by_path = await http.get(f"/utility-accounts/{account['id']}", params={"verbose": "1"})
    assert by_path.status_code == 422, "every route of the JSON API, not the list alone"


async def test_a_filter_that_takes_one_value_sent_twice_is_a_422_not_its_last(
    http: httpx.AsyncClient, resources: Resources, unique: str
) -> None:
    """``?customer_id=1&customer_id=2`` answered customer 2's jobs alone (the last value read), as if the API had read
    both; a script exporting both customers acted on one. ``status`` takes several, and still does."""
    first = await create_account(http, provider="pge", account_number=f"TWICE-A-{unique}")
    second = await create_account(http, provider="pge", account_number=f"TWICE-B-{unique}")
    await insert_job(resources.pool, first, status="FAILED")

    for path, name, values in (
        ("/jobs", "customer_id", (first["customer_id"], second["customer_id"])),
        ("/jobs", "utility_account_id", (first["id"], second["id"])),
        ("/utility-accounts", "provider", ("pge", "coned")),
        ("/reviews", "customer_id", (first["customer_id"], second["customer_id"])),
    ):
        response = await http.get(path, params=[(name, value) for value in values])
        assert response.status_code == 422, (path, response.text)
        (error,) = response.json()["errors"]
        assert error["loc"] == ["query", name] and "takes one value and was sent 2 times" in error["msg"], error

    several = await http.get("/jobs", params=[("status", "FAILED"), ("status", "NEEDS_REVIEW")])
    assert several.status_code == 200, several.text


async def test_one_accounts_jobs_are_listed_and_paged_by_its_id(
    http: httpx.AsyncClient, anon_http: httpx.AsyncClient, resources: Resources, unique: str
) -> None:
    """An integrator showing one account's ingestions had to page through all of its customer's jobs for them;
    ``?utility_account_id=`` was refused (no such filter). Its cursor pages that account's list alone."""
    account = await create_account(http, provider="pge", account_number=f"ACCT-{unique}")
    sibling = (
        await http.post(
            "/utility-accounts",
            json={"customer_id": account["customer_id"], "provider": "pge", "account_number": f"SIB-{unique}"},
        )
    ).json()
    own = [await insert_job(resources.pool, account, status=status) for status in ("SUCCEEDED", "FAILED", "SUCCEEDED")]
    others = [await insert_job(resources.pool, sibling, status="SUCCEEDED") for _ in range(2)]

    query = {"utility_account_id": account["id"], "limit": 2}
    first = (await http.get("/jobs", params=query)).json()
    rest = (await http.get("/jobs", params={**query, "cursor": first["next_cursor"]})).json()
    listed = first["items"] + rest["items"]
    assert first["total"] == 3 and rest["next_cursor"] is None
    assert [job["id"] for job in listed] == own[::-1], "newest first, the account's jobs only"
    assert {job["utility_account_id"] for job in listed} == {account["id"]}

    failed = (await http.get("/jobs", params={**query, "status": "FAILED"})).json()
    assert [job["id"] for job in failed["items"]] == [own[1]]
    both = (await http.get("/jobs", params={"customer_id": account["customer_id"], "limit": 10})).json()
    assert sorted(job["id"] for job in both["items"]) == sorted(own + others)
    elsewhere = await http.get("/jobs", params={"utility_account_id": sibling["id"], "cursor": first["next_cursor"]})
    assert elsewhere.status_code == 422, "a cursor of one account's list gives no page of another's"

    another = (await http.post("/customers", json={"name": f"Another {unique}"})).json()
    stranger = await create_key(resources.pool, name=f"other-{unique}", role=Role.VIEWER, customer_id=another["id"])
    scoped = await anon_http.get("/jobs", params=query, headers={"Authorization": f"Bearer {stranger.key}"})
    assert scoped.status_code == 200 and scoped.json()["total"] == 0, "another customer's key sees none of them"


async def test_jobs_are_listed_by_when_they_were_created(
    http: httpx.AsyncClient, resources: Resources, unique: str
) -> None:
    """An operator looking for stuck jobs read every RUNNING job's page: ``?status=RUNNING&created_before=`` an hour
    ago lists the old ones alone. A time without its zone is refused, as is an empty window."""
    account = await create_account(http, provider="pge", account_number=f"AGE-{unique}")
    old = await insert_job(resources.pool, account, status="RUNNING")
    recent = await insert_job(resources.pool, account, status="RUNNING")
    await resources.pool.execute(
        "UPDATE ingestion_jobs SET created_at = now() - interval '2 hours' WHERE id = $1", uuid.UUID(old)
    )
    an_hour_ago = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    query = {"customer_id": account["customer_id"], "status": "RUNNING"}

    stuck = (await http.get("/jobs", params={**query, "created_before": an_hour_ago})).json()
    assert [job["id"] for job in stuck["items"]] == [old] and stuck["total"] == 1
    fresh = (await http.get("/jobs", params={**query, "created_after": an_hour_ago})).json()
    assert [job["id"] for job in fresh["items"]] == [recent]

    naive = await http.get("/jobs", params={**query, "created_before": "2026-12-06T10:00:00"})
    assert naive.status_code == 422 and naive.json()["errors"][0]["loc"] == ["query", "created_before"]
    # Pasted into the URL unencoded, the offset's '+' arrives as a space: the 422 says so (72A).
    pasted = await http.get(f"/jobs?customer_id={account['customer_id']}&created_after=2026-12-06T10:00:00+00:00")
    assert pasted.status_code == 422 and "%2B" in pasted.json()["errors"][0]["msg"], pasted.text
    spaced = await http.get("/jobs", params={**query, "created_before": "2026-12-06 10:00"})  # no zone, no '+'
    assert spaced.status_code == 422 and "%2B" not in spaced.json()["errors"][0]["msg"], spaced.text
    # A number was read as Unix seconds: a date typed compactly, 20261208, filtered by 1970-08-23 (77A).
    for number in ("20261208", "-1", "1765152000.5"):
        compact = await http.get("/jobs", params={**query, "created_before": number})
        assert compact.status_code == 422, compact.text
        assert (
            "ISO 8601" in compact.json()["errors"][0]["msg"]
            and compact.json()["errors"][0]["loc"][1] == "created_before"
        )
    # Times with a zone that fall outside year 1 to 9999 in UTC: asyncpg could not send them, a 500.
    for name, moment in (
        ("created_after", "0001-01-01T00:00:00+14:00"),
        ("created_before", "9999-12-31T23:59:59-14:00"),
    ):
        beyond = await http.get("/jobs", params={**query, name: moment})
        assert beyond.status_code == 422, beyond.text
        assert "out of range" in beyond.json()["errors"][0]["msg"] and beyond.json()["errors"][0]["loc"][1] == name
    edge = await http.get("/jobs", params={**query, "created_after": "0001-01-01T00:00:00+00:00"})
    assert edge.status_code == 200 and edge.json()["total"] == 2, edge.text
    empty = await http.get("/jobs", params={**query, "created_before": an_hour_ago, "created_after": an_hour_ago})
    assert empty.status_code == 422 and "created_after must be earlier" in empty.json()["detail"]
    unfiltered = (await http.get("/jobs", params={**query, "limit": 1})).json()
    elsewhere = await http.get(
        "/jobs", params={**query, "created_before": an_hour_ago, "cursor": unfiltered["next_cursor"]}
    )
    assert elsewhere.status_code == 422, "a cursor of the whole list gives no page of a window"
