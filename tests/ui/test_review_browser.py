"""A reviewer in headless Chromium: sign in, open the queue and the task, correct the total, save."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.helpers import bill_needing_review, wait_for_status
from tests.ui.conftest import chromium_executable
from tests.ui.test_stale_forms import expired_login_token
from worker.resources import Resources

CHROMIUM = chromium_executable()  # None: the tests skip (fail in CI), see tests/ui/conftest.py
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = pytest.mark.chromium


async def sign_in_at_task(page: Any, ui_url: str, job_id: str, reviewer_key: str) -> None:
    """Open the task's page, which asks to sign in first, and sign in there: it comes back."""
    await page.goto(f"{ui_url}/ui/reviews/{job_id}")
    await page.fill("#key", reviewer_key)
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url(f"**/ui/reviews/{job_id}")


@asynccontextmanager
async def browser_at_task(ui_url: str, job_id: str, reviewer_key: str) -> AsyncIterator[Any]:
    """A page of a new headless Chromium, signed in at the task's page (``sign_in_at_task``); the browser is closed
    on the way out."""
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page()
            page.set_default_timeout(60_000)
            await sign_in_at_task(page, ui_url, job_id, reviewer_key)
            yield page
        finally:
            await browser.close()


async def test_reviewer_corrects_a_bill_in_the_browser(
    ui_url: str, reviewer_key: str, http: httpx.AsyncClient, resources: Resources, unique: str, tmp_path: Path
) -> None:
    from playwright.async_api import async_playwright, expect

    job: dict[str, Any] = await bill_needing_review(http, unique)
    job_id = job["id"]
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(60_000)
            await page.goto(f"{ui_url}/ui/reviews")
            assert "/ui/login" in page.url
            await page.fill("#key", reviewer_key)
            await page.get_by_role("button", name="Sign in").click()
            await page.wait_for_url(f"{ui_url}/ui/reviews")
            # The queue is oldest first, 50 a page: earlier tests' open tasks can fill the first page.
            queue_url = f"{ui_url}/ui/reviews?customer_id={job['customer_id']}"
            await page.goto(queue_url)

            queue_shot = tmp_path / "review-queue.png"
            await page.screenshot(path=str(queue_shot), full_page=True)
            print(f"\nscreenshot of the queue: {queue_shot}")
            await page.click(f'a[href^="/ui/reviews/{job_id}?"]')  # the link keeps the queue's filter
            await page.wait_for_url(f"**/ui/reviews/{job_id}?*")
            total = page.locator("#f-total_amount")
            await expect(total).to_have_value("75.00")
            await expect(page.locator(".field.flagged #f-total_amount")).to_have_count(1)
            await expect(page.locator("#reasons")).to_contain_text("balance_mismatch")
            task_shot = tmp_path / "review-task.png"
            await page.screenshot(path=str(task_shot), full_page=True)
            print(f"screenshot of the review task: {task_shot}")

            await total.fill("60.00")
            await page.get_by_role("button", name="Save corrections").click()
            await page.wait_for_url(queue_url)  # back to the queue as it was filtered
            await expect(page.locator(".flash")).to_contain_text(f"Job {job_id} corrected: now SUCCEEDED")
            # Focused as the queue loads, so a screen reader reads what became of the decision.
            await expect(page.locator("#flashes")).to_be_focused()
            done_shot = tmp_path / "review-queue-after.png"
            await page.screenshot(path=str(done_shot), full_page=True)
            print(f"screenshot of the queue afterwards: {done_shot}")
        finally:
            await browser.close()

    done = await wait_for_status(http, job_id)
    assert done["status"] == "SUCCEEDED", done
    bill = await resources.pool.fetchrow("SELECT total_amount FROM bills WHERE job_id = $1", job_id)
    assert bill is not None and bill["total_amount"] == Decimal("60.00")
    decision = await resources.pool.fetchrow(
        "SELECT action, reviewer, diff FROM review_decisions WHERE job_id = $1", job_id
    )
    assert decision["action"] == "correct" and decision["reviewer"].startswith("ui-reviewer")
    assert decision["diff"]["total_amount"] == {"before": "75.00", "after": "60.00"}


async def test_a_colleagues_note_keeps_its_lines(
    ui_url: str, reviewer_key: str, http: httpx.AsyncClient, unique: str
) -> None:
    """A rejection's note written in lines (the reason, then where on the bill) reads in lines, not run together."""
    job_id = (await bill_needing_review(http, unique))["id"]
    revision = (await http.get(f"/reviews/{job_id}")).json()["revision"]
    note = "Not this account's bill.\nPage 2 names another customer."
    rejected = await http.post(f"/reviews/{job_id}", json={"action": "reject", "revision": revision, "note": note})
    assert rejected.status_code == 200, rejected.text
    async with browser_at_task(ui_url, job_id, reviewer_key) as page:
        shown = await page.locator("#decision-taken").inner_text()
    assert "Not this account's bill.\nPage 2 names another customer." in shown, shown


async def test_a_sign_in_form_left_open_too_long_keeps_the_correction(
    ui_url: str, reviewer_key: str, http: httpx.AsyncClient, resources: Resources, unique: str
) -> None:
    """The session ends while a correction is typed, and the sign-in form that carries it stays open past its
    hour: Chromium's own post of that form gets the form back with the correction, not a 403 page that loses
    it, and signing in there brings the task back with it to send."""
    from playwright.async_api import expect

    job_id = (await bill_needing_review(http, unique))["id"]
    async with browser_at_task(ui_url, job_id, reviewer_key) as page:
        await page.locator("#f-total_amount").fill("60.00")
        await page.locator("#note").fill("total from page 2")
        session = next(c["value"] for c in await page.context.cookies() if c["name"] == "mm_session")
        await resources.pool.execute(  # its 8 hours are up
            "UPDATE ui_sessions SET expires_at = now() WHERE id_hash = $1",
            hashlib.sha256(session.encode()).hexdigest(),
        )
        await page.get_by_role("button", name="Save corrections").click()
        await expect(page.locator("p.error")).to_contain_text("Your session ended")

        nonce = next(c["value"] for c in await page.context.cookies() if c["name"] == "mm_login")
        expired = await expired_login_token(resources, nonce)  # the form's hour is up, not its cookie's
        await page.locator('input[name="csrf_token"]').evaluate("(input, token) => input.value = token", expired)
        await page.fill("#key", reviewer_key)
        await page.get_by_role("button", name="Sign in").click()
        await expect(page.locator("p.error")).to_contain_text("This sign-in page was open too long")
        await page.fill("#key", reviewer_key)
        await page.get_by_role("button", name="Sign in").click()
        await expect(page.locator("#f-total_amount")).to_have_value("60.00")
        await expect(page.locator("#note")).to_have_value("total from page 2")
        await page.get_by_role("button", name="Save corrections").click()
        await page.wait_for_url(f"{ui_url}/ui/reviews")
    assert (await wait_for_status(http, job_id))["status"] == "SUCCEEDED"


async def test_a_date_typed_the_wrong_way_comes_back_as_typed_with_what_to_type(
    ui_url: str, reviewer_key: str, http: httpx.AsyncClient, resources: Resources, unique: str
) -> None:
    """A date input sends "" for 04/31/2026 (or a half-typed date): the statement date would be stored empty,
    without a word. Typed as text, it reaches the server, which refuses it beside the field, as typed."""
    from playwright.async_api import expect

    job_id = (await bill_needing_review(http, unique))["id"]
    async with browser_at_task(ui_url, job_id, reviewer_key) as page:
        await page.locator("#f-total_amount").fill("60.00")
        statement = page.locator("#f-statement_date")
        await statement.fill("")
        await statement.press_sequentially("04/31/2026")
        await page.get_by_role("button", name="Save corrections").click()
        await expect(page.locator("#why-statement_date")).to_contain_text("year-month-day")
        await expect(page.locator("#f-statement_date")).to_have_value("04/31/2026")
        await expect(page.locator("#f-total_amount")).to_have_value("60.00")
    assert (await http.get(f"/jobs/{job_id}")).json()["status"] == "NEEDS_REVIEW"
    assert await resources.pool.fetchval("SELECT count(*) FROM review_decisions WHERE job_id = $1", job_id) == 0


async def test_a_task_link_followed_from_another_site_opens_the_task_for_a_signed_in_reviewer(
    ui_url: str, reviewer_key: str, http: httpx.AsyncClient, unique: str
) -> None:
    """A link in chat or mail: with a Strict session cookie it showed the sign-in form to a signed-in reviewer,
    and signing in again left the forms in their other tabs expired."""
    from playwright.async_api import Route

    job_id = (await bill_needing_review(http, unique))["id"]
    task_url = f"{ui_url}/ui/reviews/{job_id}"

    async def chat(route: Route) -> None:
        await route.fulfill(content_type="text/html", body=f'<!doctype html><a href="{task_url}">the bill</a>')

    async with browser_at_task(ui_url, job_id, reviewer_key) as page:
        await page.route("http://chat.example/**", chat)
        await page.goto("http://chat.example/")
        async with page.expect_navigation():
            await page.get_by_role("link", name="the bill").click()
        assert page.url == task_url, "not sent to sign in again"
        assert await page.locator("#f-total_amount").count() == 1


async def test_the_keyboard_lands_on_what_a_reloaded_page_asks_of_the_reviewer(
    ui_url: str, reviewer_key: str, http: httpx.AsyncClient, resources: Resources, unique: str
) -> None:
    """No script runs on these pages, so each answer is a new page: a refusal's alert there is not read out as it
    loads, and the keyboard started again at the top. A refused form now has the focus on what to fix, and says
    so in its title; a table's Add rows puts it in the first row added there; a rejection without a note marks
    the note box."""
    from playwright.async_api import expect

    job_id = (await bill_needing_review(http, unique))["id"]
    async with browser_at_task(ui_url, job_id, reviewer_key) as page:
        await page.locator("#f-total_amount").fill("12,50")
        await page.get_by_role("button", name="Save corrections").click()
        await expect(page.locator("#error-summary")).to_be_focused()
        await expect(page.locator("#error-summary")).to_contain_text("Some values are not valid")
        assert (await page.title()).startswith("Error: "), await page.title()

        await page.locator("#f-total_amount").fill("60.00")
        usage_rows = await page.locator("#usage tbody tr").count()
        await page.get_by_role("button", name="Add line item rows").click()
        first_added = page.locator('input[name="line_items-4-description"]')  # past the bill's two and two blank
        await expect(first_added).to_be_focused()
        await expect(first_added).to_have_value("")
        await expect(page.locator("#f-total_amount")).to_have_value("60.00")
        assert not (await page.title()).startswith("Error: ")
        await expect(page.locator("#usage tbody tr")).to_have_count(usage_rows)

        await page.get_by_role("button", name="Add usage rows").click()
        await expect(page.locator(f'select[name="usage-{usage_rows}-commodity"]')).to_be_focused()
        await expect(page.locator("#line-items tbody tr")).to_have_count(9)

        await page.get_by_role("button", name="Reject").click()
        await expect(page.locator("#error-summary")).to_be_focused()
        note = page.locator("#note")
        await expect(note).to_have_attribute("aria-invalid", "true")
        await expect(note).to_have_attribute("aria-describedby", "why-note")
        await expect(page.locator("#why-note")).to_contain_text("Say why in the note when rejecting")
    assert (await http.get(f"/jobs/{job_id}")).json()["status"] == "NEEDS_REVIEW"
    assert await resources.pool.fetchval("SELECT count(*) FROM review_decisions WHERE job_id = $1", job_id) == 0


async def test_enter_in_a_field_sends_no_decision(
    ui_url: str, reviewer_key: str, http: httpx.AsyncClient, resources: Resources, unique: str
) -> None:
    """Enter in a field submits a form through its first submit button, which was Approve: a stray Enter in a
    field the reviewer had not changed stored the flagged bill as extracted. Only a decision button decides.
    Enter on a checkbox (the override box), a radio or a date input goes past a disabled first button to the
    first enabled one: it reaches one that decides nothing, and the page comes back saying so."""
    from playwright.async_api import expect

    job_id = (await bill_needing_review(http, unique))["id"]
    async with browser_at_task(ui_url, job_id, reviewer_key) as page:
        # Which button a submission goes through, if any: the page runs no script of its own (its CSP), this is
        # the test's, and it stops the submission so the page stays to be asked.
        await page.evaluate(
            """() => document.getElementById("decision").addEventListener("submit", (event) => {
                window.submittedBy = event.submitter ? event.submitter.value : "(none)";
                event.preventDefault();
            })"""
        )
        # A date input too, such as the page may have one day: Chromium treats it as it does a checkbox.
        await page.evaluate(
            """() => document.getElementById("f-due_date").insertAdjacentHTML(
                "afterend", '<input type="date" id="probe-date" name="probe_date">'
            )"""
        )
        controls = page.locator("#decision :is(input:not([type=hidden]), select, textarea)")
        sent = {}
        for i in range(await controls.count()):
            control = controls.nth(i)
            await page.evaluate("() => { window.submittedBy = null; }")
            await control.press("Enter")
            name = await control.get_attribute("name")
            sent[name] = await page.evaluate("() => window.submittedBy")
        assert {"total_amount", "line_items-0-description", "note", "override", "probe_date"} <= sent.keys(), sent
        decided = {name: by for name, by in sent.items() if by not in (None, "none")}
        assert decided == {}, f"Enter sent a decision from {decided}"
        assert (sent["override"], sent["probe_date"], sent["total_amount"]) == ("none", "none", None)

        await page.get_by_role("button", name="Approve as extracted").press("Enter")  # a button, by keyboard: sent
        assert await page.evaluate("() => window.submittedBy") == "approve"
        await expect(page.locator("#f-total_amount")).to_have_value("75.00")

        # Sent for real from the override box, after an edit: the page comes back saying nothing was decided.
        await page.reload()
        await page.locator("#f-total_amount").fill("60.00")
        await page.locator('input[name="override"]').press("Enter")
        await expect(page.locator("#error-summary")).to_contain_text("Nothing was sent: Enter decides nothing")
        await expect(page.locator("#error-summary")).to_be_focused()
        await expect(page.locator("#f-total_amount")).to_have_value("60.00")
    assert (await http.get(f"/jobs/{job_id}")).json()["status"] == "NEEDS_REVIEW"
    assert await resources.pool.fetchval("SELECT count(*) FROM review_decisions WHERE job_id = $1", job_id) == 0


async def test_at_320_css_px_the_queue_and_the_task_do_not_scroll_sideways(
    ui_url: str, reviewer_key: str, http: httpx.AsyncClient, unique: str
) -> None:
    """WCAG 1.4.10: a phone's width, or 1280 px zoomed to 400 %. The task's page was 460 px wide, the queue 699 px:
    a table now scrolls in its own box, and the keyboard lands on the task's first flagged field. So does a decided
    task's."""
    from playwright.async_api import expect

    job = await bill_needing_review(http, unique)
    async with browser_at_task(ui_url, job["id"], reviewer_key) as page:
        await page.set_viewport_size({"width": 320, "height": 640})
        for url in (f"{ui_url}/ui/reviews/{job['id']}", f"{ui_url}/ui/reviews?customer_id={job['customer_id']}"):
            await page.goto(url)
            width = await page.evaluate("document.documentElement.scrollWidth")
            assert width <= 320, (url, width)
        await page.goto(f"{ui_url}/ui/reviews/{job['id']}")
        await expect(page.locator("#f-previous_balance")).to_be_focused()
        await page.fill("#note", "not this customer's bill")
        await page.get_by_role("button", name="Reject").click()
        await page.wait_for_url("**/ui/reviews")
        await wait_for_status(http, job["id"])
        await page.goto(f"{ui_url}/ui/reviews/{job['id']}")  # decided: its fields read-only, its decision below them
        assert await page.evaluate("document.documentElement.scrollWidth") <= 320
