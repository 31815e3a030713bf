"""Pages rendered from fixture data: untrusted bill text is escaped, failing checks are flagged."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

from api.schemas import ReviewTaskPublic
from api.ui.forms import BillForm
from api.ui.reasons import describe, flagged_fields
from api.ui.templating import age, templates
from shared.bill import NormalizedBill

EVIL = '<script>alert("x")</script>'
JOB_ID = "0f0f0f0f-0000-4000-8000-000000000001"


def task(**changes: Any) -> ReviewTaskPublic:
    bill = NormalizedBill.model_validate(
        {
            "customer_name": EVIL,
            "account_number": "1",
            "total_amount": "75.00",
            "current_charges": "60.00",
            "line_items": [{"description": EVIL, "amount": "60.00"}],
        }
    )
    values = {
        "job_id": JOB_ID,
        "status": "PENDING",
        "reasons": ["balance_mismatch", "missing_field:due_date", EVIL],
        "provider": "pge",
        "customer_id": 1,
        "utility_account_id": 2,
        "created_at": datetime.now(UTC),
        "age_seconds": 7300,
        "revision": "r1",
        "bill": bill,
        "artifact_url": f"/jobs/{JOB_ID}/artifact",
    }
    return ReviewTaskPublic(**(values | changes))


def render_review(t: ReviewTaskPublic, **context: Any) -> str:
    form = BillForm.from_bill(t.bill)
    base = {
        "signed_in": True,
        "csrf_token": "tok",
        "task": t,
        "form": form,
        "flagged": flagged_fields(t.reasons),
        "invalid": {},
        "error": None,
        "errors": [],
        "reasons": [(r, describe(r)) for r in t.reasons],
        "failing_now": False,
        "editable": True,
        "decision": None,
        "line_items": form.rendered_rows("line_items", 2),
        "usage": form.rendered_rows("usage", 1),
        "note": "",
        "override": False,
        "queue": "",
        "back": "/ui/reviews",
        "extracted": json.dumps(form.as_submitted().input_digests()),
    }
    return templates.env.get_template("review.html").render(base | context)


def test_review_page_escapes_bill_text_and_flags_fields() -> None:
    html = render_review(task())
    assert EVIL not in html and "&lt;script&gt;" in html
    assert 'class="field flagged"' in html
    assert 'aria-describedby="why-total_amount"' in html and 'aria-describedby="why-due_date"' in html
    assert 'id="why-account_number"' not in html
    assert f'<iframe src="/jobs/{JOB_ID}/artifact"' in html
    assert html.count('name="csrf_token" value="tok"') == 2, "the decision form and the sign-out form"
    assert 'name="line_items-2-amount"' in html, "one row plus two blanks"
    assert "<script" not in html.replace("&lt;script", "")


def test_a_refused_value_is_explained_beside_its_own_input() -> None:
    """Not only in the summary at the top: the row's input says what is wrong, for eyes and screen readers."""
    invalid = {"line_items-0-amount": ["write numbers with a point for decimals"], "due_date": ["not a date"]}
    flagged = flagged_fields(task().reasons) | {"line_items": []}
    html = render_review(task(), invalid=invalid, flagged=flagged)
    amount = re.search(r'<input name="line_items-0-amount"[^>]*>', html)
    assert amount is not None and 'aria-invalid="true"' in amount[0]
    assert 'aria-describedby="why-line_items-0-amount"' in amount[0]
    assert re.search(r'id="why-line_items-0-amount"><li>write numbers with a point for decimals</li>', html)
    assert re.search(r'id="why-due_date"><li>due date: missing</li><li>not a date</li>', html)
    description = re.search(r'<input name="line_items-0-description"[^>]*>', html)
    assert description is not None and "aria-invalid" not in description[0], "only the refused input is marked"


def test_closed_task_is_read_only() -> None:
    html = render_review(task(status="DONE"), editable=False)
    assert 'value="approve"' not in html and "readonly" in html


def test_queue_page_lists_reasons_and_age() -> None:
    item = task().model_dump(exclude={"bill", "artifact_url"})
    html = templates.env.get_template("queue.html").render(
        signed_in=True,
        csrf_token="tok",
        items=[type("Row", (), item)],
        total=1,
        limit=50,
        offset=0,
        flashes=[EVIL],
        provider="pge",
        customer_id="",
        describe=describe,
        page_size=50,
        cursor="",
        here="",
        next_cursor="c2Vjb25k+/=",
    )
    assert f'href="/ui/reviews/{JOB_ID}"' in html
    assert "cursor=c2Vjb25k%2B/%3D" in html or "cursor=c2Vjb25k%2B%2F%3D" in html, "the next page follows the cursor"
    assert "first page" not in html
    assert "2h 1m" in html and "total amount due" not in html
    assert "previous balance − payments + current charges ≠ total" in html
    assert EVIL not in html


def test_age() -> None:
    assert [age(s) for s in (59, 61, 3600 * 5 + 600, 86400 * 2 + 3600 * 4)] == ["0m", "1m", "5h 10m", "2d 4h"]
