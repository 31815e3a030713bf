"""Approve on the task page: an extraction failing a check no bill may fail comes back to be corrected or rejected."""

from __future__ import annotations

import re

import httpx

from tests.review.test_review_approval_checks import nothing_stored, review_of, without_total
from tests.ui.test_ui_http import post_review_form
from worker.resources import Resources


async def test_approving_an_extraction_without_a_total_is_refused_on_the_page(
    reviewer: httpx.AsyncClient, http: httpx.AsyncClient, resources: Resources, unique: str
) -> None:
    job = await review_of(http, unique, without_total, "missing_field:total_amount")

    _, response = await post_review_form(reviewer, job["id"], action="approve")
    assert response.status_code == 422, response.text
    assert "correct it or reject it" in response.text
    assert "Checks the extracted bill fails" in response.text, "not a correction's heading: nothing was corrected"
    assert "<code>missing_field:total_amount</code>" in response.text
    total = re.search(r'<input id="f-total_amount"[^>]*>', response.text)
    assert total is not None and 'aria-invalid="true"' in total[0], "the field to fill in is marked"
    assert (await http.get(f"/jobs/{job['id']}")).json()["status"] == "NEEDS_REVIEW"
    assert await nothing_stored(resources, job["id"])
