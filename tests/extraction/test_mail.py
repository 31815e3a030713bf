"""Bills e-mailed and saved whole (.eml): read as the recipient reads them, whatever the mail's encoding."""

from __future__ import annotations

import quopri
from datetime import date
from pathlib import Path

import pytest

from extraction.document import read_document
from extraction.pipeline import analyze
from shared.settings import ExtractorMode, Settings

OFFLINE = Settings(extractor=ExtractorMode.RULES, gemini_api_key=None)
EMAIL = (Path(__file__).parents[2] / "eval" / "bills" / "email_northwind.txt").read_text()
"""A plain-text e-mailed bill of the eval set: its headers, then the bill in dollars."""
HEADERS, BODY = EMAIL.split("\n\n", 1)


def mime(body: str, *, subtype: str = "plain", encoding: str = "8bit") -> bytes:
    encoded = quopri.encodestring(body.encode()).decode() if encoding == "quoted-printable" else body
    return (
        f"{HEADERS}\nMIME-Version: 1.0\nContent-Type: text/{subtype}; charset=utf-8\n"
        f"Content-Transfer-Encoding: {encoding}\n\n{encoded}"
    ).encode()


def test_a_plain_text_mail_reads_as_it_did() -> None:
    assert read_document(EMAIL.encode()).text == EMAIL
    assert analyze(EMAIL.encode(), provider_hint=None, settings=OFFLINE).decision == "accept"


@pytest.mark.parametrize(
    "euro_bill",
    [
        mime("<html><body><pre>" + BODY.replace("$", "&euro;") + "</pre></body></html>", subtype="html"),
        mime("<html><body>" + BODY.replace("$", "&#8364;").replace("\n", "<br>\n") + "</body></html>", subtype="html"),
        mime(BODY.replace("$", "\u20ac"), encoding="quoted-printable"),
        (HEADERS + "\n\n" + BODY.replace("$", "&euro;")).encode(),
    ],
    ids=["html-pre", "html-br", "quoted-printable", "entity-in-plain-text"],
)
def test_a_euro_bill_in_an_encoded_or_html_mail_is_not_read_as_dollars(euro_bill: bytes) -> None:
    """The euro sign written "&euro;", "&#8364;" or "=E2=82=AC": read raw, the bill was in dollars, accepted."""
    report = analyze(euro_bill, provider_hint=None, settings=OFFLINE)
    assert report.bill is not None and report.bill.currency == "EUR"
    assert "non_usd_currency" in report.reasons


def test_a_quoted_printable_line_break_in_a_date_is_mended() -> None:
    """Quoted-printable breaks a line past 76 characters with a trailing "=": "Due date:  ...  Ma=" over "rch 22,
    2026" was no date (a break in "1=" over "8/03/2026" read the 8th)."""
    padded = BODY.replace("Due date: March 22, 2026", "Due date:" + " " * 64 + "March 22, 2026")
    report = analyze(mime(padded, encoding="quoted-printable"), provider_hint=None, settings=OFFLINE)
    assert report.bill is not None and report.bill.due_date == date(2026, 3, 22)
    assert report.decision == "accept", report.reasons
