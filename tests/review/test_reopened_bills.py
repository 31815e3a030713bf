"""A stored bill a reviewer reopens (``POST /bills/{id}/reopen``) is reviewed as stored: a correction replaces it
with a new version under its id (Postgres keeps the one replaced, the warehouse shows the new one), an approval
leaves it as it is, and a rejection, which would remove nothing, is refused. Before this, a bill accepted with a
wrong figure could not be corrected at all."""

from __future__ import annotations

import asyncio
import uuid
from datetime import date
from typing import Any

import httpx

from api.auth import Role, create_key
from api.services.reopen import replaced_since_reopened
from eval.export_corrections import corrections
from shared.models import SETTLED_STATUSES
from shared.settings import Settings
from tests.helpers import (
    account_digits,
    bill_text,
    create_account,
    january_text,
    reissue_text,
    upload_and_wait,
    wait_for_status,
)
from tests.review.support import analytics_rows, read_task
from worker.resources import Resources

NOTE = "the due date is the disconnection notice's, not the bill's"


async def stored(http: httpx.AsyncClient, unique: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """A new account and its February bill, accepted and stored (due 2026-03-25)."""
    number = account_digits(unique)
    account = await create_account(http, provider="pge", account_number=number)
    job = await upload_and_wait(http, account, bill_text(number, total="60.00"))
    assert job["status"] == "SUCCEEDED", job
    return account, job


async def reopened(reviewer_http: httpx.AsyncClient, http: httpx.AsyncClient, bill_id: str) -> dict[str, Any]:
    """The reopening job once it waits for a decision."""
    response = await reviewer_http.post(f"/bills/{bill_id}/reopen", json={"note": NOTE})
    assert response.status_code == 201, response.text
    job = response.json()
    assert (job["job_type"], response.headers["Location"]) == ("reopen", f"/jobs/{job['id']}")
    waiting = await wait_for_status(http, job["id"], SETTLED_STATUSES, within=60)
    assert (waiting["status"], waiting["reasons"]) == ("NEEDS_REVIEW", ["reopened"]), waiting
    return waiting


async def test_a_correction_of_a_reopened_bill_replaces_it_everywhere(
    http: httpx.AsyncClient,
    reviewer_http: httpx.AsyncClient,
    reviewer_identity: str,
    resources: Resources,
    app_settings: Settings,
    unique: str,
) -> None:
    account, first = await stored(http, unique)
    bill_id = first["result"]["bill_id"]
    job = await reopened(reviewer_http, http, bill_id)

    task = await read_task(reviewer_http, job["id"])
    assert task["reopened"] == {"bill_id": bill_id, "reopened_by": reviewer_identity, "note": NOTE}
    assert task["bill"]["due_date"] == "2026-03-25"
    raw = await reviewer_http.get(task["artifact_url"])
    assert raw.status_code == 200 and b"Due Date: 03/25/2026" in raw.content, "the bill it was read from"

    corrected = {**task["bill"], "due_date": "2026-03-27"}
    decided = await reviewer_http.post(
        f"/reviews/{job['id']}",
        json={"action": "correct", "revision": task["revision"], "bill": corrected, "note": "checked on the bill"},
    )
    assert decided.status_code == 200, decided.text
    assert (decided.json()["status"], decided.json()["revises"]) == ("SUCCEEDED", first["id"])

    bill = (await http.get(f"/bills/{bill_id}")).json()
    assert (bill["due_date"], bill["job_id"], bill["total_amount"]) == ("2026-03-27", job["id"], "60.00")
    rows = await resources.pool.fetch("SELECT id FROM bills WHERE utility_account_id = $1", account["id"])
    assert [str(row["id"]) for row in rows] == [bill_id], "one bill, not a second"
    kept = await resources.pool.fetch("SELECT job_id, payload FROM bill_revisions WHERE bill_id = $1", bill_id)
    assert [(str(r["job_id"]), r["payload"]["due_date"]) for r in kept] == [(first["id"], "2026-03-25")]
    assert (await http.get(f"/jobs/{first['id']}")).json()["revised_by"] == job["id"]
    ended = (await http.get(f"/jobs/{job['id']}")).json()
    assert (ended["result"]["bill_id"], ended["result"]["revises"]) == (bill_id, first["id"])
    steps = [step["name"] for step in ended["steps"]]
    assert "fetch_bill" not in steps and {"load_stored_bill", "persist_bill", "publish_analytics"} <= set(steps)

    latest = await analytics_rows(app_settings, job["id"], "bill_id, job_id, due_date")
    assert [(r["bill_id"], r["due_date"]) for r in latest] == [(bill_id, date(2026, 3, 27))]
    assert await analytics_rows(app_settings, first["id"]) == [], "the warehouse's latest holds the new version"
    audit = await resources.pool.fetchrow("SELECT action, diff FROM review_decisions WHERE job_id = $1", job["id"])
    assert audit["action"] == "correct"
    assert audit["diff"]["due_date"] == {"before": "2026-03-25", "after": "2026-03-27"}
    # The version its own correction stored is newer than its task: no change under it for a resent decision to be
    # refused for (73D; while the job still publishes, the same decision is answered as the first was).
    assert await replaced_since_reopened(resources.pool, uuid.UUID(job["id"]), bill_id) == (False, None)


async def test_approving_leaves_the_bill_rejecting_is_refused_and_one_reopening_at_a_time(
    http: httpx.AsyncClient, reviewer_http: httpx.AsyncClient, resources: Resources, unique: str
) -> None:
    _, first = await stored(http, unique)
    bill_id = first["result"]["bill_id"]
    job = await reopened(reviewer_http, http, bill_id)

    again = await reviewer_http.post(f"/bills/{bill_id}/reopen", json={"note": "another look"})
    assert again.status_code == 409, again.text
    assert (again.json()["code"], again.json()["job_id"]) == ("bill_reopened", job["id"])

    task = await read_task(reviewer_http, job["id"])
    rejected = await reviewer_http.post(
        f"/reviews/{job['id']}", json={"action": "reject", "revision": task["revision"], "note": "wrong bill"}
    )
    assert rejected.status_code == 422, rejected.text
    assert "a reopened bill stays stored" in rejected.json()["detail"]

    approve = {"action": "approve", "revision": task["revision"]}
    approved = await reviewer_http.post(f"/reviews/{job['id']}", json=approve)
    assert approved.status_code == 200, approved.text
    assert (approved.json()["status"], approved.json()["revises"]) == ("SUCCEEDED", None)
    row = await resources.pool.fetchrow("SELECT job_id, due_date FROM bills WHERE id = $1", bill_id)
    assert (str(row["job_id"]), row["due_date"]) == (first["id"], date(2026, 3, 25)), "left as it was"
    assert await resources.pool.fetchval("SELECT count(*) FROM bill_revisions WHERE bill_id = $1", bill_id) == 0

    later = await reviewer_http.post(f"/bills/{bill_id}/reopen", json={"note": "a second look, later"})
    assert later.status_code == 201, "once the first ended, the bill may be reopened again"


async def test_a_reopening_sent_again_under_its_idempotency_key_is_answered_its_first_job(
    http: httpx.AsyncClient, reviewer_http: httpx.AsyncClient, resources: Resources, unique: str
) -> None:
    """A reopening retried after a lost answer got a 409 while its job waited, and once a reviewer had decided it,
    opened a second review of the same bill (an integrator's probe, 69A). Under an Idempotency-Key it is answered
    its first job, side by side or after the decision; the key with another bill or note is refused."""
    _, first = await stored(http, unique)
    bill_id = first["result"]["bill_id"]
    key = {"Idempotency-Key": f"reopen-{unique}"}
    sent = await asyncio.gather(
        *(reviewer_http.post(f"/bills/{bill_id}/reopen", json={"note": NOTE}, headers=key) for _ in range(3))
    )
    assert sorted(response.status_code for response in sent) == [200, 200, 201], [r.text for r in sent]
    (job_id,) = {response.json()["id"] for response in sent}
    await wait_for_status(http, job_id, SETTLED_STATUSES, within=60)
    task = await read_task(reviewer_http, job_id)
    approved = await reviewer_http.post(f"/reviews/{job_id}", json={"action": "approve", "revision": task["revision"]})
    assert approved.status_code == 200, approved.text

    again = await reviewer_http.post(f"/bills/{bill_id}/reopen", json={"note": NOTE}, headers=key)
    assert (again.status_code, again.json()["id"], again.json()["status"]) == (200, job_id, "SUCCEEDED"), again.text
    _, other = await stored(http, uuid.uuid4().hex[: len(unique)])
    for path, note in (
        (f"/bills/{bill_id}/reopen", "another look"),
        (f"/bills/{other['result']['bill_id']}/reopen", NOTE),
    ):
        reused = await reviewer_http.post(path, json={"note": note}, headers=key)
        assert (reused.status_code, reused.json()["code"]) == (422, "idempotency_key_reused"), reused.text
    count = (
        "SELECT count(*) FROM ingestion_jobs WHERE job_type = 'reopen' AND start_request->'reopens'->>'bill_id' = $1"
    )
    assert await resources.pool.fetchval(count, bill_id) == 1


async def test_a_bill_changed_since_it_was_reopened_is_not_overwritten(
    http: httpx.AsyncClient, reviewer_http: httpx.AsyncClient, resources: Resources, unique: str
) -> None:
    """The utility's re-issue replaced the bill while the reopened task waited: the correction was made on figures no
    longer stored, so it is refused before it is sent, naming the job that stored them (it was answered 200 and the
    job ended FAILED, a reviewer's probe), and the re-issue's figures stand; the task waits, to be approved closed."""
    account, first = await stored(http, unique)
    bill_id = first["result"]["bill_id"]
    job = await reopened(reviewer_http, http, bill_id)
    task = await read_task(reviewer_http, job["id"])
    revised = await upload_and_wait(http, account, reissue_text(account_digits(unique)))
    assert (revised["status"], revised["result"]["revises"]) == ("SUCCEEDED", first["id"])

    corrected = {**task["bill"], "due_date": "2026-03-27"}
    decided = await reviewer_http.post(
        f"/reviews/{job['id']}", json={"action": "correct", "revision": task["revision"], "bill": corrected}
    )
    assert decided.status_code == 409, decided.text
    problem = decided.json()
    assert (problem["reason"], problem["code"], problem["stored_job_id"]) == (
        "stored_bill_changed",
        "stored_bill_changed",
        revised["id"],
    )
    assert "changed since it was reopened" in problem["detail"] and "reopen the bill" in problem["detail"]
    assert (await read_task(reviewer_http, job["id"]))["status"] == "PENDING", "nothing was sent"
    row = await resources.pool.fetchrow("SELECT job_id, total_amount, due_date FROM bills WHERE id = $1", bill_id)
    assert (str(row["job_id"]), row["total_amount"], row["due_date"]) == (revised["id"], 50, date(2026, 3, 25))
    approve = {"action": "approve", "revision": task["revision"]}  # what the 409 says: it closes, saying why
    closed = await reviewer_http.post(f"/reviews/{job['id']}", json=approve)
    assert closed.status_code == 200 and closed.json()["status"] == "FAILED", closed.text


async def test_a_decision_that_would_replace_a_reopened_bill_waits_for_its_review(
    http: httpx.AsyncClient, reviewer_http: httpx.AsyncClient, resources: Resources, unique: str
) -> None:
    """A re-issue in review, corrected (confirmed onto the stored period) or approved while a colleague's reopening of
    the bill it replaces waited: it replaced the bill under their task, and their correction, answered 200, ended
    FAILED, thrown away (a reviewer's probe). Refused, naming the reopening, until that task is decided."""
    account, first = await stored(http, unique)
    bill_id = first["result"]["bill_id"]
    reopening = await reopened(reviewer_http, http, bill_id)
    doubtful = reissue_text(account_digits(unique)).replace(
        "Total Amount Due         $50.00", "Total Amount Due  $55.00"
    )
    reissue = await upload_and_wait(http, account, doubtful, SETTLED_STATUSES)
    assert reissue["status"] == "NEEDS_REVIEW", reissue
    task = await read_task(reviewer_http, reissue["id"])
    fixed = {**task["bill"], "total_amount": "50.00"}
    decisions = [
        {"action": "correct", "revision": task["revision"], "bill": fixed, "onto_stored_period": True},
        {"action": "approve", "revision": task["revision"], "onto_stored_period": True},
    ]
    for body in decisions:
        refused = await reviewer_http.post(f"/reviews/{reissue['id']}", json=body)
        assert refused.status_code == 409, refused.text
        problem = refused.json()
        assert (problem["reason"], problem["reopen_job_id"], problem["stored_job_id"]) == (
            "bill_reopened",
            reopening["id"],
            first["id"],
        )
        assert f"job {reopening['id']} is reviewing that bill" in problem["detail"], problem["detail"]
    assert (await read_task(reviewer_http, reissue["id"]))["status"] == "PENDING", "nothing was sent"

    reopened_task = await read_task(reviewer_http, reopening["id"])
    corrected = {**reopened_task["bill"], "due_date": "2026-03-27"}
    body = {"action": "correct", "revision": reopened_task["revision"], "bill": corrected, "note": "checked"}
    assert (await reviewer_http.post(f"/reviews/{reopening['id']}", json=body)).json()["status"] == "SUCCEEDED"
    stored_now = await resources.pool.fetchval("SELECT due_date FROM bills WHERE id = $1", bill_id)
    assert stored_now == date(2026, 3, 27), "the reopened bill's correction is stored"
    decided = await reviewer_http.post(f"/reviews/{reissue['id']}", json=decisions[0])
    assert decided.status_code == 200 and decided.json()["status"] == "SUCCEEDED", decided.text
    assert decided.json()["revises"] == reopening["id"], "once decided, the re-issue replaces the corrected bill"


async def test_an_approval_of_a_bill_changed_since_it_was_reopened_is_not_reported_done(
    http: httpx.AsyncClient, reviewer_http: httpx.AsyncClient, unique: str
) -> None:
    """Approved after a re-issue replaced it, the job said SUCCEEDED with figures no longer stored (a review found)."""
    account, first = await stored(http, unique)
    job = await reopened(reviewer_http, http, first["result"]["bill_id"])
    task = await read_task(reviewer_http, job["id"])
    revised = await upload_and_wait(http, account, reissue_text(account_digits(unique)))
    assert revised["result"]["revises"] == first["id"]
    approve = {"action": "approve", "revision": task["revision"]}
    decided = await reviewer_http.post(f"/reviews/{job['id']}", json=approve)
    assert decided.status_code == 200, decided.text
    assert decided.json()["status"] == "FAILED"
    assert "changed since it was reopened" in (await http.get(f"/jobs/{job['id']}")).json()["error"]


async def test_a_correction_a_later_reopening_corrected_again_is_not_exported(
    http: httpx.AsyncClient, reviewer_http: httpx.AsyncClient, resources: Resources, unique: str
) -> None:
    """Both were exported, the same raw bill with two goldens, one of which ``eval.run`` must fail (a review found)."""
    _, first = await stored(http, unique)
    bill_id = first["result"]["bill_id"]
    jobs = []
    for due in ("2026-03-27", "2026-03-29"):
        job = await reopened(reviewer_http, http, bill_id)
        task = await read_task(reviewer_http, job["id"])
        body = {"action": "correct", "revision": task["revision"], "bill": {**task["bill"], "due_date": due}}
        assert (await reviewer_http.post(f"/reviews/{job['id']}", json=body)).json()["status"] == "SUCCEEDED"
        jobs.append(job["id"])
    exported = {c.job_id: c.bill.due_date for c in (await corrections(resources.pool)).paired}
    assert jobs[0] not in exported, "withdrawn by the later correction"
    assert exported[jobs[1]] == date(2026, 3, 29)


async def test_a_correction_onto_another_stored_bills_period_is_refused(
    http: httpx.AsyncClient, reviewer_http: httpx.AsyncClient, unique: str
) -> None:
    account, february = await stored(http, unique)
    january = await upload_and_wait(http, account, january_text(account_digits(unique)))
    assert january["status"] == "SUCCEEDED", january
    job = await reopened(reviewer_http, http, february["result"]["bill_id"])
    task = await read_task(reviewer_http, job["id"])
    typo = {**task["bill"], "bill_period_start": "2026-01-01", "bill_period_end": "2026-01-31"}

    for confirmed in (False, True):
        body = {"action": "correct", "revision": task["revision"], "bill": typo, "onto_stored_period": confirmed}
        refused = await reviewer_http.post(f"/reviews/{job['id']}", json=body)
        assert refused.status_code == 409, refused.text
        problem = refused.json()
        assert (problem["reason"], problem["stored_job_id"], problem["outcome"]) == (
            "period_stored",
            january["id"],
            "refused",
        )
    assert (await read_task(reviewer_http, job["id"]))["status"] == "PENDING", "nothing was sent"


async def test_only_a_reviewer_who_may_see_the_bill_reopens_it_with_a_note(
    http: httpx.AsyncClient, api_url: str, resources: Resources, unique: str
) -> None:
    account, first = await stored(http, unique)
    bill_id = first["result"]["bill_id"]
    other = await create_account(http, provider="pge", account_number=account_digits(uuid.uuid4().hex[:10]))
    keys = {
        "ingest": await create_key(resources.pool, name=f"ingest-{unique}", role=Role.INGEST),
        "viewer": await create_key(resources.pool, name=f"viewer-{unique}", role=Role.VIEWER),
        "elsewhere": await create_key(
            resources.pool, name=f"elsewhere-{unique}", role=Role.REVIEWER, customer_id=other["customer_id"]
        ),
        "own": await create_key(
            resources.pool, name=f"own-{unique}", role=Role.REVIEWER, customer_id=account["customer_id"]
        ),
    }
    expected = {"ingest": 403, "viewer": 403, "elsewhere": 404}
    for name, status in expected.items():
        headers = {"Authorization": f"Bearer {keys[name].key}"}
        async with httpx.AsyncClient(base_url=api_url, headers=headers, timeout=60) as client:
            response = await client.post(f"/bills/{bill_id}/reopen", json={"note": NOTE})
            assert response.status_code == status, (name, response.text)
    async with httpx.AsyncClient(
        base_url=api_url, headers={"Authorization": f"Bearer {keys['own'].key}"}, timeout=60
    ) as own:
        for body in ({}, {"note": "   "}, {"note": NOTE, "bill": {}}):
            refused = await own.post(f"/bills/{bill_id}/reopen", json=body)
            assert refused.status_code == 422, (body, refused.text)
        unknown = await own.post(f"/bills/{uuid.uuid4()}/reopen", json={"note": NOTE})
        assert unknown.status_code == 404, unknown.text
        job = await reopened(own, http, bill_id)
    assert job["customer_id"] == account["customer_id"]
