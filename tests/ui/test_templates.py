"""Pages rendered from fixture data: untrusted bill text is escaped, failing checks are flagged."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from decimal import Decimal
from html import unescape
from typing import Any

from api.review_reasons import describe, flagged_fields
from api.schemas import FieldChange, ReviewDecisionTaken, ReviewTaskInternal
from api.services.review_claims import Claim
from api.ui.forms import BillForm
from api.ui.templating import age, templates
from shared.bill import NormalizedBill
from tests.ui.test_ui_http import form_fields

EVIL = '<script>alert("x")</script>'
JOB_ID = "0f0f0f0f-0000-4000-8000-000000000001"
ON_FILE = "4321-8765-6789"


def task(**changes: Any) -> ReviewTaskInternal:
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
        "account_number": ON_FILE,
        "account_number_masked": "****6789",
        "account_label": "Main office",
        "created_at": datetime.now(UTC),
        "age_seconds": 7300,
        "revision": "r1",
        "bill": bill,
        "artifact_url": f"/jobs/{JOB_ID}/artifact",
    }
    return ReviewTaskInternal(**(values | changes))


def with_bill(t: ReviewTaskInternal, **changes: Any) -> ReviewTaskInternal:
    assert t.bill is not None
    return t.model_copy(update={"bill": t.bill.model_copy(update=changes)})


def render_review(t: ReviewTaskInternal, **context: Any) -> str:
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
        "focus": "",
        "yours": None,
        "taken_first": False,
        "claimed": None,
        "period_stored": False,
        "period_confirmed": False,
        "taken_over": False,
        "lapses_at": None,
    }
    return templates.env.get_template("review.html").render(base | context)


def render_queue(**context: Any) -> str:
    item = task().model_dump(exclude={"bill", "artifact_url"})
    base = {
        "signed_in": True,
        "csrf_token": "tok",
        "items": [type("Row", (), item)],
        "total": 1,
        "limit": 50,
        "offset": 0,
        "flashes": [],
        "provider": "",
        "customer_id": "",
        "describe": describe,
        "page_size": 50,
        "cursor": "",
        "here": "",
        "next_cursor": None,
    }
    return templates.env.get_template("queue.html").render(base | context)


def scrolled_tables(html: str) -> list[str]:
    """The ids (or classes) of the tables each in its own scrolling region, named, which a keyboard can scroll."""
    found = re.findall(
        r'<div class="scroll" tabindex="0" role="region" aria-label="[^"]+">\s*<table class="[^"]*"(?: id="([^"]*)")?',
        html,
    )
    assert html.count("<table") == len(found), html
    return found


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


def test_a_bill_without_its_account_number_shows_the_one_on_file_beside_the_field() -> None:
    """A correction must carry the job's account number: the reviewer reads it here, whatever the bill prints."""
    html = render_review(with_bill(task(reasons=["missing_field:account_number"]), account_number=None))
    field = re.search(r'<div class="field flagged">\s*<label for="f-account_number">.*?</div>', html, re.DOTALL)
    assert field is not None, html
    assert f"Account on file: {ON_FILE} (Main office)" in field[0]
    assert "account 2 " not in html and "account 2\n" not in html, "the internal id is not called the account"
    assert f"account {ON_FILE} (Main office)" in html


def test_an_address_in_lines_is_edited_in_a_box_of_lines_and_keeps_them() -> None:
    """In a text input its lines would be glued together ("1 Main StSpringfield") and stored so when edited."""
    address = "1 Main St\nSpringfield, IL 62701"
    t = with_bill(task(), service_address=address)
    html = render_review(t)
    box = re.search(r'<textarea id="f-service_address" name="service_address"[^>]*>([^<]*)</textarea>', html)
    assert box is not None, html
    shown = BillForm.from_bill(t.bill)
    typed = unescape(box[1]).replace("\n", "\r\n")  # a box of lines sends its breaks as CRLF
    sent = form_fields(html) | {"service_address": typed.replace("62701", "62702")}
    corrected = BillForm.from_form(sent).keeping_untouched(shown).to_bill()
    assert corrected.service_address == "1 Main St\nSpringfield, IL 62702"
    untouched = BillForm.from_form(form_fields(html) | {"service_address": typed})
    assert untouched == shown.as_submitted(), "left alone, it is not an edit (Approve stays possible)"


def test_dates_are_typed_as_text_so_a_half_typed_one_reaches_the_server() -> None:
    """A date input sends "" for 04/31/2026 or a half-typed date: the value and its refusal would be lost."""
    html = render_review(task())
    for name in ("statement_date", "bill_period_start", "bill_period_end", "due_date"):
        date_input = re.search(rf'<input id="f-{name}"[^>]*>', html)
        assert date_input is not None and 'type="text"' in date_input[0] and "YYYY-MM-DD" in date_input[0]
    assert 'type="date"' not in html


def test_periods_read_two_ways_mark_both_of_the_periods_dates() -> None:
    """``conflicting_values:period`` is about the period's start and end: both inputs are marked and say why."""
    html = render_review(task(reasons=["conflicting_values:period"]))
    for name in ("bill_period_start", "bill_period_end"):
        date_input = re.search(rf'<input id="f-{name}"[^>]*>', html)
        assert date_input is not None and 'aria-invalid="true"' in date_input[0], html
        assert re.search(rf'id="why-{name}"><li>period: the bill prints different values', html)
    due = re.search(r'<input id="f-due_date"[^>]*>', html)
    assert due is not None and "aria-invalid" not in due[0]


def test_amounts_and_quantities_take_a_minus_sign_on_a_phone() -> None:
    """A decimal keypad (inputmode="decimal") has no minus on an iPhone: a credit, -12.50, could not be typed."""
    html = render_review(task())
    for name in ("total_amount", "previous_balance", "payments_received", "current_charges"):
        amount = re.search(rf'<input id="f-{name}"[^>]*>', html)
        assert amount is not None and 'inputmode="decimal"' not in amount[0], amount
    for name in ("line_items-0-amount", "usage-0-quantity"):
        cell = re.search(rf'<input name="{name}"[^>]*>', html)
        assert cell is not None and "inputmode" not in cell[0] and 'class="num"' in cell[0], cell


def test_closed_task_is_read_only() -> None:
    html = render_review(task(status="DONE"), editable=False)
    assert 'value="approve"' not in html and "readonly" in html


def test_a_colleagues_claim_and_the_entries_not_sent_are_escaped() -> None:
    held = Claim(key_id=9, reviewer=EVIL, claimed_at=datetime(2026, 3, 25, 14, 5, tzinfo=UTC))
    claimed = render_review(task(), claimed=held)
    assert EVIL not in claimed and "has had this task open since" in claimed and "2026-03-25 14:05 UTC" in claimed
    assert 'value="take_over"' in claimed and 'value="approve"' not in claimed
    take_over = re.search(r'<button[^>]*value="take_over"[^>]*>', claimed)
    assert take_over is not None and 'aria-describedby="claimed"' in take_over[0], "the notice is read with it"
    assert '<p class="claimed" id="claimed">' in claimed
    typed = BillForm.from_bill(task().bill)
    closed = render_review(task(status="DONE"), editable=False, yours=typed, note=EVIL)
    yours = re.search(r'<section class="yours".*?</section>', closed, re.DOTALL)
    assert yours is not None and "&lt;script&gt;" in yours[0] and EVIL not in closed
    assert "<input" not in yours[0]


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


def test_a_sign_in_page_with_an_error_says_so_in_its_title_and_in_the_focused_key_box() -> None:
    """The key box has the focus as the page loads: it reads out the error (the session ended, the key is invalid)."""
    html = templates.env.get_template("login.html").render(
        signed_in=False, csrf_token="", login_token="t", next="/ui/reviews", error="That key is invalid.", draft=""
    )
    assert "<title>Error: Sign in" in html
    key = re.search(r'<input id="key"[^>]*>', html)
    assert key is not None and "autofocus" in key[0] and 'aria-describedby="sign-in-error"' in key[0]
    assert 'aria-invalid="true"' in key[0]
    assert 'id="sign-in-error">That key is invalid.<' in html
    plain = templates.env.get_template("login.html").render(
        signed_in=False, csrf_token="", login_token="t", next="/ui/reviews", error=None, draft=""
    )
    assert "<title>Sign in" in plain and "aria-describedby" not in plain and "aria-invalid" not in plain


def test_a_corrections_changed_rows_are_shown_not_counted() -> None:
    """ "line items: 9 rows → 9 rows" hid which amount a reviewer changed from a colleague or a lead (a reviewer's
    probe): each row is listed, the one only one side has struck out or inserted."""
    kept = {"description": "Customer charge", "category": "fee", "amount": "18.00", "commodity": None}
    before = {"description": "Gas energy charge", "category": "supply", "amount": "202.42", "commodity": "gas"}
    after = before | {"amount": "220.42"}
    decision = ReviewDecisionTaken(
        action="correct",
        reviewer="alice",
        note=None,
        decided_at=datetime.now(UTC),
        changed_fields=["line_items"],
        changes={"line_items": FieldChange(before=[kept, before], after=[kept, after])},
        overridden=[],
        job_status="SUCCEEDED",
    )
    html = render_review(task(status="DONE"), decision=decision, editable=False)
    table = re.search(r'<table class="changes".*?</table>', html, re.DOTALL)
    assert table is not None, html
    cells = re.findall(r"<td>(.*?)</td>", table[0], re.DOTALL)
    assert cells == [
        '<ul class="rows"><li>Customer charge · fee · 18.00</li>'
        "<li><del>Gas energy charge · supply · 202.42 · gas</del></li></ul>",
        '<ul class="rows"><li>Customer charge · fee · 18.00</li>'
        "<li><ins>Gas energy charge · supply · 220.42 · gas</ins></li></ul>",
    ]


def test_review_page_names_the_stored_copy_a_bill_reads_otherwise_than() -> None:
    """A copy of a stored statement read otherwise (``reads_otherwise_than_stored``): the page names the stored bill
    to compare and the figures they disagree on, and says it stands whatever is decided (74A, 74D)."""
    copy = {
        "job_id": "job-74a",
        "bill_id": "bill-74a",
        "statement_date": "2026-03-05",
        "total_amount": "60.00",
        "currency": "USD",
        "figures_read_otherwise": ["total_amount", "line_items"],
    }
    said = text_of(render_review(task(reasons=["reads_otherwise_than_stored"], reads_otherwise_than=copy)))
    assert (
        "Another copy of this statement is stored, by job job-74a (statement date 2026-03-05, amount due 60.00 USD;"
        in said
    )
    assert "GET /bills/bill-74a), and this one reads its total_amount, line_items otherwise." in said, said
    assert "The stored bill stands" in said
    assert "one of the two was misread" in said, "the reason explained too"
    agreeing = {**copy, "figures_read_otherwise": []}
    said = text_of(render_review(task(reasons=["reads_otherwise_than_stored"], reads_otherwise_than=agreeing)))
    assert "and the two agree now (the stored one was corrected since)" in said
    assert 'id="replaces"' not in render_review(task()) and 'id="reads-otherwise"' not in render_review(task())


def text_of(html: str) -> str:
    """The page's words, without its markup, in one line."""
    return " ".join(unescape(re.sub(r"<[^>]+>", "", html)).split())


def test_a_reason_reads_its_words_before_its_code() -> None:
    """A screen reader read "missing underscore field colon due underscore date" before what it means."""
    html = render_review(task())
    reasons = re.search(r'<ul class="reasons" id="reasons">(.*?)</ul>', html, re.DOTALL)
    assert reasons is not None, html
    assert "<li>due date: missing (<code>missing_field:due_date</code>)</li>" in reasons[0]
    assert re.findall(r"<li>(.)", reasons[0]) == ["p", "d", "&"], "each item starts with its words"


def test_the_queue_names_its_links_and_says_in_text_what_only_a_title_said() -> None:
    html = render_queue()
    link = re.search(rf'<a href="/ui/reviews/{JOB_ID}"[^>]*>', html)
    assert link is not None and f'aria-label="Review job {JOB_ID[:8]}"' in link[0], "not a bare id prefix"
    assert '<th>Account id <span class="muted">(MiniMeter\'s, not the account number)</span></th>' in html
    assert "<li>due date: missing (<code>missing_field:due_date</code>)</li>" in html
    assert not re.search(r"<(th|li)[^>]* title=", html), "a title is read by a mouse only"
    assert scrolled_tables(html) == [""], "the queue's table scrolls in its own box"


def test_a_queue_of_one_page_has_no_empty_page_links() -> None:
    assert 'class="pages"' not in render_queue()
    assert 'class="pages"' in render_queue(next_cursor="c2Vjb25k") and 'class="pages"' in render_queue(offset=50)


def test_each_table_of_the_review_page_scrolls_in_its_own_box() -> None:
    """At 320 px a table is wider than the screen: the page must not scroll sideways with it (WCAG 1.4.10)."""
    assert scrolled_tables(render_review(task())) == ["line-items", "usage"]
    change = FieldChange(before="60.00", after="61.00")
    decision = decided("correct", changed_fields=["total_amount"], changes={"total_amount": change})
    yours = with_bill(task(), total_amount=Decimal("62.00"))
    html = render_review(task(status="DONE"), editable=False, decision=decision, yours=BillForm.from_bill(yours.bill))
    tables = scrolled_tables(html)
    assert tables == ["line-items", "usage", "changes", "your-line-items"]


def decided(action: str, **changes: Any) -> ReviewDecisionTaken:
    values: dict[str, Any] = {
        "reviewer": "r",
        "note": None,
        "decided_at": datetime.now(UTC),
        "changed_fields": [],
        "overridden": [],
    }
    status = {"reject": "REJECTED"}.get(action, "SUCCEEDED")
    return ReviewDecisionTaken.model_validate(values | {"action": action, "job_status": status} | changes)


def test_a_decided_tasks_page_offers_a_way_past_its_read_only_fields_to_the_decision() -> None:
    html = render_review(task(status="DONE"), editable=False, decision=decided("reject"))
    skip, first_field = html.find('<a href="#decision-taken">'), html.find('id="f-provider"')
    assert -1 < skip < first_field, "before the fields, not after them"
    assert '<section class="decided" id="decision-taken" aria-labelledby="decision-taken-title" tabindex="-1">' in html
    assert '<a href="#decision-taken">' not in render_review(task()), "an open task has no decision to skip to"


def test_a_task_the_reviewer_holds_says_when_the_claim_lapses_and_offers_release() -> None:
    lapses = datetime(2026, 3, 25, 14, 35, tzinfo=UTC)
    html = render_review(task(), lapses_at=lapses, queue="provider=pge")
    release = re.search(
        r'<form method="post" action="/ui/reviews/([^"]+)/release" class="inline">(.*?)</form>', html, re.DOTALL
    )
    assert release is not None and release[1] == JOB_ID, html
    assert 'name="csrf_token" value="tok"' in release[2] and 'name="queue" value="provider=pge"' in release[2]
    assert 'aria-describedby="claim-lapses">Release</button>' in release[2]
    assert html.find("← queue</a>") < release.start() < html.find("<h1>"), "beside the way back to the queue"
    assert '<time datetime="2026-03-25T14:35:00+00:00">2026-03-25 14:35 UTC</time>' in html
    assert "/release" not in render_review(task()), "not on a task the reviewer does not hold"


def test_a_take_over_is_said_in_a_focused_status_line() -> None:
    html = render_review(task(), taken_over=True)
    said = re.search(r'<p class="flash" role="status" id="taken-over"[^>]*>([^<]*)</p>', html)
    assert said is not None and "autofocus" in said[0] and said[1].startswith("You have this task now")
    assert html.count("autofocus") == 1
    with_error = render_review(task(), taken_over=True, error="The task moved on.", reload=False)
    assert with_error.count("autofocus") == 1 and 'id="error-summary" tabindex="-1" autofocus' in with_error
