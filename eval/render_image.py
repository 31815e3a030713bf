"""A bill as a scan: a small 1-bit PNG (or a grey JPEG), and that scan inside a PDF.

No text layer on purpose: offline extraction must send these to review.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime

from fpdf import FPDF
from PIL import Image, ImageDraw, ImageFont

from eval.synth import BillFacts

_SIZE = (640, 820)


def _text_lines(facts: BillFacts) -> list[str]:
    b, brand = facts.bill, facts.brand
    assert b.total_amount is not None and b.statement_date and b.due_date
    assert b.bill_period_start and b.bill_period_end
    return [
        brand.name,
        brand.address,
        "",
        f"{brand.wording.account} {b.account_number}",
        f"{brand.wording.statement} {brand.date(b.statement_date)}",
        f"{brand.wording.period} {brand.date(b.bill_period_start)} - {brand.date(b.bill_period_end)}",
        f"{brand.wording.due} {brand.date(b.due_date)}",
        "",
        *[f"{item.description:<36}{brand.money(item.amount):>12}" for item in b.line_items],
        "",
        *[f"{brand.wording.usage} {m.usage:,} {m.unit.value}" for m in facts.meters],
        "",
        f"{brand.wording.total:<36}{brand.money(b.total_amount):>12}",
    ]


def scan(facts: BillFacts) -> Image.Image:
    image = Image.new("L", _SIZE, 255)
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=13)
    for i, line in enumerate(_text_lines(facts)):
        draw.text((36, 30 + i * 19), line, fill=0, font=font)
    return image


def png(facts: BillFacts) -> bytes:
    out = io.BytesIO()
    scan(facts).convert("1").save(out, format="PNG", optimize=True)
    return out.getvalue()


def jpeg(facts: BillFacts) -> bytes:
    out = io.BytesIO()
    scan(facts).resize((480, 615)).save(out, format="JPEG", quality=40)
    return out.getvalue()


def image_pdf(facts: BillFacts) -> bytes:
    pdf = FPDF(format="letter", unit="mm")
    pdf.set_creation_date(datetime(2026, 1, 1, tzinfo=UTC))
    pdf.add_page()
    pdf.image(io.BytesIO(png(facts)), x=10, y=10, w=190)
    return bytes(pdf.output())
