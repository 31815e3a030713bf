"""eval.render_pdf: ``Sheet.text`` draws exactly what ``FPDF.cell`` drew, at a fraction of the cost."""

from __future__ import annotations

import pytest

from eval.render_pdf import Sheet

Drawn = list[tuple[float, float, str, float, bool, float, str]]


def _with_cells(strings: Drawn) -> bytes:
    sheet = Sheet()
    for x, y, s, size, bold, width, align in strings:
        sheet.pdf.set_font("Helvetica", "B" if bold else "", size)
        sheet.pdf.set_xy(x, y)
        sheet.pdf.cell(width, size * 0.5, s, align=align)
    return sheet.output()


def _with_text(strings: Drawn) -> bytes:
    sheet = Sheet()
    for x, y, s, size, bold, width, align in strings:
        sheet.text(x, y, s, size=size, bold=bold, width=width, align=align)
    return sheet.output()


@pytest.mark.parametrize("align", ["L", "R", "C"])
def test_text_is_byte_identical_to_cell(align: str) -> None:
    strings: Drawn = [
        (14, 12, "Pacific Gas and Electric", 15, True, 0, align),
        (120, 40.5, "Amount due $1,234.56", 8.5, False, 60, align),
        (30, 80, "", 8.5, False, 40, align),  # an empty value still sets the font, draws nothing
        (150, 200.25, "Jan 31, 2026", 7.5, True, 0, align),
    ]
    assert _with_text(strings) == _with_cells(strings)
