"""The task page over real HTTP: the account on file, a crafted queue link, and adding rows without a decision."""

from __future__ import annotations

import re
from typing import Any

import httpx

from tests.helpers import account_digits, bill_needing_review, wait_for_status
from tests.review.test_review_approval_checks import review_of, without_account_number
from tests.ui.conftest import csrf_of
from tests.ui.test_ui_http import form_fields, post_review_form
from worker.resources import Resources


async def bill_without_its_account_number(http: httpx.AsyncClient, unique: str) -> tuple[dict[str, Any], str]:
    """A bill whose total is right but which prints no account number, waiting for review; and the number."""
    job = await review_of(http, unique, without_account_number, "missing_field:account_number")
    return job, account_digits(unique)


async def test_a_bill_without_its_account_number_is_corrected_with_the_one_on_file(
    reviewer: httpx.AsyncClient, http: httpx.AsyncClient, resources: Resources, unique: str
) -> None:
    """A correction must carry the job's account number: the page shows it, and sending it stores the bill.
    The JSON API masks it, as ``GET /utility-accounts/{id}`` does: any key of the role may call it."""
    job, number = await bill_without_its_account_number(http, unique)
    job_id = job["id"]
    served = (await http.get(f"/reviews/{job_id}")).json()
    on_file = (await http.get(f"/utility-accounts/{job['utility_account_id']}")).json()
    assert served["account_number_masked"] == on_file["account_number_masked"], served
    assert number not in str(served) and number.replace("-", "")[-4:] in served["account_number_masked"]
    assert "account_number" not in served

    page = await reviewer.get(f"/ui/reviews/{job_id}")
    assert page.status_code == 200
    assert f"Account on file: {number}." in page.text
    assert f"account {job['utility_account_id']} " not in page.text, "the internal id is not called the account"
    form = form_fields(page.text) | {"csrf_token": csrf_of(page), "action": "correct", "account_number": number}
    response = await reviewer.post(f"/ui/reviews/{job_id}", data=form)
    assert response.status_code == 303, response.text

    assert (await wait_for_status(http, job_id))["status"] == "SUCCEEDED"
    stored = await resources.pool.fetchval("SELECT account_number FROM bills WHERE job_id = $1", job_id)
    assert stored == number


async def test_a_queue_link_longer_than_a_queues_still_opens_the_task(
    reviewer: httpx.AsyncClient, review_job: dict[str, Any]
) -> None:
    """``?queue=`` is cut to a queue's length where it is read: one longer is no 422 page."""
    crafted = "provider=pge&cursor=" + "x" * 600
    page = await reviewer.get(f"/ui/reviews/{review_job['id']}", params={"queue": crafted})
    assert page.status_code == 200, page.text
    assert 'name="queue" value="provider=pge"' in page.text


async def test_a_queue_link_with_too_many_fields_still_opens_the_task(
    reviewer: httpx.AsyncClient, review_job: dict[str, Any]
) -> None:
    """``?queue=`` is only where to go back to: one that cannot be a queue's is dropped, not a 500."""
    crafted = "&".join(f"f{i}=1" for i in range(11))
    page = await reviewer.get(f"/ui/reviews/{review_job['id']}", params={"queue": crafted})
    assert page.status_code == 200, page.text
    assert 'name="queue" value=""' in page.text

    form = form_fields(page.text) | {"csrf_token": csrf_of(page), "action": "correct", "total_amount": "lots"}
    refused = await reviewer.post(f"/ui/reviews/{review_job['id']}", data=form | {"queue": crafted})
    assert refused.status_code == 422, refused.text


def rows_of(html: str, kind: str) -> int:
    return len(re.findall(rf'name="{kind}-\d+-{"amount" if kind == "line_items" else "quantity"}"', html))


async def test_add_rows_gives_the_page_back_with_more_blank_rows_and_decides_nothing(
    reviewer: httpx.AsyncClient, http: httpx.AsyncClient, resources: Resources, unique: str
) -> None:
    """A bill with more line items than the page has rows: Add rows keeps every entry and sends nothing."""
    job_id = (await bill_needing_review(http, unique))["id"]
    before = await reviewer.get(f"/ui/reviews/{job_id}")
    typed = {"total_amount": "65.00", "line_items-2-description": "Late fee", "line_items-2-amount": "5.00"}
    _, response = await post_review_form(reviewer, job_id, action="add_rows", note="fee on page 2", **typed)
    assert response.status_code == 200, response.text
    assert rows_of(response.text, "line_items") == rows_of(before.text, "line_items") + 5
    assert rows_of(response.text, "usage") == rows_of(before.text, "usage") + 2
    assert 'value="65.00"' in response.text and 'value="Late fee"' in response.text
    assert ">fee on page 2</textarea>" in response.text
    assert (await http.get(f"/jobs/{job_id}")).json()["status"] == "NEEDS_REVIEW"
    assert await resources.pool.fetchval("SELECT count(*) FROM review_decisions WHERE job_id = $1", job_id) == 0

    more = form_fields(response.text) | {"csrf_token": csrf_of(response), "action": "add_rows"}
    again = await reviewer.post(f"/ui/reviews/{job_id}", data=more)
    assert rows_of(again.text, "line_items") == rows_of(response.text, "line_items") + 5, "and more again"


async def test_add_rows_keeps_a_row_not_yet_complete(
    reviewer: httpx.AsyncClient, http: httpx.AsyncClient, unique: str
) -> None:
    """Add rows is to go on typing: a usage row with its meter, commodity and unit but no quantity yet, and a line
    item with only its commodity chosen, come back as entered, not dropped as blank rows."""
    job_id = (await bill_needing_review(http, unique))["id"]
    page = await reviewer.get(f"/ui/reviews/{job_id}")
    usage, items = rows_of(page.text, "usage"), rows_of(page.text, "line_items")
    partial = {f"usage-{usage - 1}-commodity": "gas", f"usage-{usage - 1}-unit": "therm"}
    partial |= {f"usage-{usage - 1}-meter_number": "M-7", f"line_items-{items - 2}-commodity": "water"}
    form = form_fields(page.text) | {"csrf_token": csrf_of(page), "action": "add_rows"} | partial
    response = await reviewer.post(f"/ui/reviews/{job_id}", data=form)
    assert response.status_code == 200, response.text
    assert {name: form_fields(response.text).get(name) for name in partial} == partial
    assert rows_of(response.text, "usage") == usage + 2 and rows_of(response.text, "line_items") == items + 5


async def test_add_rows_on_a_task_that_moved_on_says_so(
    reviewer: httpx.AsyncClient, http: httpx.AsyncClient, unique: str
) -> None:
    """The page was read before the task was escalated (its revision changed): Add rows gives it back under the
    new revision, so it says the task was updated, as a refused decision does, rather than switch silently."""
    job_id = (await bill_needing_review(http, unique))["id"]
    page = await reviewer.get(f"/ui/reviews/{job_id}")
    current = form_fields(page.text)["revision"]
    form = form_fields(page.text) | {"csrf_token": csrf_of(page), "action": "add_rows", "total_amount": "60.00"}
    response = await reviewer.post(f"/ui/reviews/{job_id}", data=form | {"revision": "0" * 32})
    assert response.status_code == 200, response.text
    assert "The task was updated while you had it open" in response.text
    assert form_fields(response.text)["revision"] == current and 'value="60.00"' in response.text

    again = await reviewer.post(f"/ui/reviews/{job_id}", data=form)
    assert "updated while you had it open" not in again.text, "not said when nothing moved on"


def focused(html: str) -> str | None:
    """The name of the input or select the page puts the keyboard in (``autofocus``), if any."""
    found = re.search(r'<(?:input|select) name="([^"]+)"[^>]*\bautofocus\b', html)
    return found[1] if found else None


async def test_each_tables_add_rows_adds_to_it_with_the_keyboard_in_its_first_new_row(
    reviewer: httpx.AsyncClient, http: httpx.AsyncClient, unique: str
) -> None:
    """One button added rows to both tables and put the keyboard in the line items: a reviewer who needed usage
    rows tabbed through them all, and it landed on the first blank row, above the rows just added."""
    job_id = (await bill_needing_review(http, unique))["id"]
    page = await reviewer.get(f"/ui/reviews/{job_id}")
    usage, items = rows_of(page.text, "usage"), rows_of(page.text, "line_items")

    form = form_fields(page.text) | {"csrf_token": csrf_of(page), "action": "add_rows:usage"}
    response = await reviewer.post(f"/ui/reviews/{job_id}", data=form)
    assert response.status_code == 200, response.text
    assert (rows_of(response.text, "usage"), rows_of(response.text, "line_items")) == (usage + 2, items)
    assert focused(response.text) == f"usage-{usage}-commodity", "the first row added, past the blank one there"

    more = form_fields(response.text) | {"csrf_token": csrf_of(response), "action": "add_rows:line_items"}
    again = await reviewer.post(f"/ui/reviews/{job_id}", data=more)
    assert (rows_of(again.text, "usage"), rows_of(again.text, "line_items")) == (usage + 2, items + 5)
    assert focused(again.text) == f"line_items-{items}-description"


async def test_enter_on_a_checkbox_gives_the_page_back_deciding_nothing(
    reviewer: httpx.AsyncClient, http: httpx.AsyncClient, resources: Resources, unique: str
) -> None:
    """Enter on the override box reaches the page's hidden button that decides nothing (Chromium goes past the
    disabled one that Enter in a text field stops at): the page comes back saying so, every entry kept, a row
    not yet complete too, and the blank rows it had."""
    job_id = (await bill_needing_review(http, unique))["id"]
    page = await reviewer.get(f"/ui/reviews/{job_id}")
    assert '<button type="submit" name="action" value="none" hidden' in page.text
    usage, items = rows_of(page.text, "usage"), rows_of(page.text, "line_items")
    partial = {f"usage-{usage - 1}-commodity": "gas", f"usage-{usage - 1}-meter_number": "M-7"}
    typed = {"total_amount": "60.00", "note": "checked page 2", "override": "on"} | partial
    form = form_fields(page.text) | {"csrf_token": csrf_of(page), "action": "none"} | typed
    response = await reviewer.post(f"/ui/reviews/{job_id}", data=form)

    assert response.status_code == 422, response.text
    assert "Nothing was sent: Enter decides nothing." in response.text
    assert {name: form_fields(response.text).get(name) for name in partial} == partial
    assert 'value="60.00"' in response.text and ">checked page 2</textarea>" in response.text
    assert 'name="override" checked>' in response.text
    assert (rows_of(response.text, "usage"), rows_of(response.text, "line_items")) == (usage, items)
    assert (await http.get(f"/jobs/{job_id}")).json()["status"] == "NEEDS_REVIEW"
    assert await resources.pool.fetchval("SELECT count(*) FROM review_decisions WHERE job_id = $1", job_id) == 0


async def test_opening_a_task_puts_the_keyboard_in_its_first_flagged_field(
    reviewer: httpx.AsyncClient, review_job: dict[str, Any]
) -> None:
    """Not at the top of a page of some sixty inputs: on the field to fix (balance_mismatch flags four)."""
    page = await reviewer.get(f"/ui/reviews/{review_job['id']}")
    assert page.status_code == 200 and page.text.count("autofocus") == 1, page.text
    first_flagged = re.search(r'<(input|select|textarea)[^>]*aria-invalid="true"[^>]*>', page.text)
    assert first_flagged is not None and "autofocus" in first_flagged[0], first_flagged
    assert 'id="f-previous_balance"' in first_flagged[0], "the first of the four on the page"
