"""Inputs that must not be auto-accepted: non-bills, bills that do not add up, unreadable files."""

from __future__ import annotations

import random
from decimal import Decimal

from fpdf import FPDF

from eval.render_pdf import FIXED_DATE, LAYOUTS, Sheet
from eval.synth import BillFacts


def receipt(rng: random.Random) -> bytes:
    """A store receipt: has a date, a total and a card number, but is no utility bill."""
    s = Sheet()
    s.text(70, 14, "CORNER MARKET #0417", size=13, bold=True)
    s.text(70, 21, "1200 Market St, Springfield, IL 62704")
    s.text(70, 25, "Date: 01/05/2026   Register 3   Cashier: DANA")
    y = 34.0
    subtotal = Decimal("0")
    for name in ("Organic bananas", "Whole milk 1 gal", "Coffee beans", "Paper towels", "Bread"):
        price = Decimal(rng.randrange(150, 1500)) / 100
        subtotal += price
        s.row(y, (70, name, 50, "L"), (125, f"{price:.2f}", 20, "R"))
        y += 4.6
    tax = (subtotal * Decimal("0.0625")).quantize(Decimal("0.01"))
    for label, value in (("Subtotal", subtotal), ("Tax", tax), ("TOTAL", subtotal + tax)):
        s.row(y + 3, (70, label, 50, "L"), (125, f"{value:.2f}", 20, "R"), bold=label == "TOTAL")
        y += 4.6
    s.text(70, y + 8, "VISA ************4821   APPROVED")
    s.text(70, y + 12, "Member # 0042 7781 - you saved $3.20 today")
    s.text(70, y + 18, "Thank you for shopping with us!")
    return s.output()


def sum_mismatch(facts: BillFacts) -> tuple[BillFacts, bytes]:
    """One line item printed $5.00 higher than the charges it should add up to."""
    items = list(facts.bill.line_items)
    items[1] = items[1].model_copy(update={"amount": items[1].amount + Decimal("5.00")})
    bad = facts.bill.model_copy(update={"line_items": items})
    printed = BillFacts(facts.brand, bad, facts.customer, facts.street, facts.city, facts.meters, facts.rates)
    return printed, LAYOUTS["classic"](printed)


def balance_mismatch(facts: BillFacts) -> tuple[BillFacts, bytes]:
    """A total that does not follow from previous balance, payments and current charges."""
    assert facts.bill.total_amount is not None
    bad = facts.bill.model_copy(update={"total_amount": facts.bill.total_amount + Decimal("41.00")})
    printed = BillFacts(facts.brand, bad, facts.customer, facts.street, facts.city, facts.meters, facts.rates)
    return printed, LAYOUTS["grid"](printed)


def too_many_pages(pages: int = 51) -> bytes:
    pdf = FPDF(format="letter", unit="mm")
    pdf.set_creation_date(FIXED_DATE)
    pdf.set_font("Helvetica", size=9)
    for number in range(1, pages + 1):
        pdf.add_page()
        pdf.cell(0, 5, f"Usage history appendix - page {number} of {pages}")
    return bytes(pdf.output())


def corrupt_pdf(rng: random.Random) -> bytes:
    """A PDF header followed by noise, as from an interrupted download."""
    return b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n" + bytes(rng.randrange(256) for _ in range(600))


def renamed_docx() -> bytes:
    """A Word document (a ZIP) uploaded under a .pdf name."""
    return b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00" + b"[Content_Types].xml" + bytes(64)
