"""Reading uploads: type sniffing, refusals with their reasons, text per page."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest
from fpdf import FPDF
from PIL import Image
from pypdf import PdfWriter
from pypdf.generic import ArrayObject, DecodedStreamObject, DictionaryObject, NameObject, NumberObject

from eval import adversarial, render_image
from eval.brands import KNOWN
from eval.generate import sample_bill
from eval.synth import make_facts, rng_for
from extraction.document import (
    MARKUP,
    TEXT,
    DocumentRejected,
    charset_of,
    read_document,
    sniff_content_type,
    within_text_limits,
)
from extraction.pipeline import analyze
from shared.bill import Provider
from shared.settings import ExtractorMode, Settings
from tests.extraction.test_rules import PLAIN


def _helvetica_as_f1() -> DictionaryObject:
    """A resources dictionary's fonts: Helvetica, as ``/F1``."""
    font = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Font"),
            NameObject("/Subtype"): NameObject("/Type1"),
            NameObject("/BaseFont"): NameObject("/Helvetica"),
        }
    )
    return DictionaryObject({NameObject("/F1"): font})


RULES = Settings(extractor=ExtractorMode.RULES, gemini_api_key=None)


def _pdf_of_content(content: bytes) -> bytes:
    """A one-page PDF in Helvetica whose content stream is ``content``, unchecked."""
    writer = PdfWriter()
    page = writer.add_blank_page(612, 792)
    page[NameObject("/Resources")] = DictionaryObject({NameObject("/Font"): _helvetica_as_f1()})
    stream = DecodedStreamObject()
    stream.set_data(content)
    page.replace_contents(stream.flate_encode())
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _pdf_with_unknown_filter() -> bytes:
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=10)
    pdf.cell(0, 5, "Amount due $10.00")
    return bytes(pdf.output()).replace(b"/FlateDecode", b"/FooBaDecode")  # same length: the xref stays right


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("1", (8, 8)).save(out, format="PNG")
    return out.getvalue()


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"%PDF-1.7\n...", "application/pdf"),
        (b"\xef\xbb\xbf junk\n%PDF-1.4", "application/pdf"),
        (b"\x89PNG\r\n\x1a\n....", "image/png"),
        (b"\xff\xd8\xff\xe0....", "image/jpeg"),
        (b"\xff\xd8\xff\xfe\x00\x10made by %PDF-1.4 tools", "image/jpeg"),  # a JPEG's comment naming a PDF
        (b"Amount due: $84.12\nDue date: 01/26/2026\n", "text/plain"),
        ("Café Électrique — facture\n".encode("latin-1", "replace"), "text/plain"),
        (b"PK\x03\x04\x14\x00\x06\x00", None),
        (bytes(range(256)) * 4, None),
        (b"", None),
    ],
)
def test_sniff(data: bytes, expected: str | None) -> None:
    assert sniff_content_type(data) == expected


def test_pdf_text_per_page() -> None:
    data, content_type, expected = sample_bill(Provider.PGE, seed="pages")
    document = read_document(data)
    assert content_type == document.content_type == "application/pdf"
    assert document.has_text_layer
    assert expected.account_number and expected.account_number in document.text
    assert len(document.pages) == document.page_count >= 1


def _drawn_apart(lines: list[tuple[float, str]], *, by: str) -> bytes:
    """A PDF whose every word (``by="word"``) or glyph (``by="glyph"``) is its own text object, placed where a
    typesetter would put it, as print-stream converters and report engines draw: 9 pt Helvetica, from x = 72 pt."""
    metrics = FPDF(unit="pt")
    metrics.set_font("Helvetica", size=9)
    objects = []
    for y, text in lines:
        x = 72.0
        for piece in text.split(" ") if by == "word" else list(text):
            if piece.strip():
                escaped = piece.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
                objects.append(f"BT /F1 9 Tf {x:.2f} {y:.2f} Td ({escaped}) Tj ET")
            x += metrics.get_string_width(piece + " " if by == "word" else piece)
    return _pdf_of_content("\n".join(objects).encode())


@pytest.mark.parametrize("by", ["word", "glyph"])
def test_words_drawn_one_by_one_read_with_their_spaces(by: str) -> None:
    """pypdf's layout mode put each word at its column on a grid of the page's average character width: a word whose
    column fell inside the one before was glued to it ("BillingPeriod:10/21/2026", "TotalUsage 674 kWh") and the
    rules missed the period and the usage; a glyph drawn alone was no better."""
    lines = [
        (700.0, "Billing Period: 10/21/2026 - 11/19/2026"),
        (680.0, "ELECTRIC CHARGES"),
        (660.0, "Total Usage 674 kWh"),
    ]
    text = read_document(_drawn_apart(lines, by=by)).text
    assert [line.strip() for line in text.splitlines() if line.strip()] == [line for _, line in lines]


def test_a_columns_gap_between_words_drawn_apart_stays_a_cells() -> None:
    """A gap wider than a word's parts two cells (two blanks at least), as the rules read columns."""
    pdf = _pdf_of_content(b"BT /F1 9 Tf 72 700 Td (Balance) Tj ET\nBT /F1 9 Tf 112 700 Td (118.20) Tj ET")
    line = read_document(pdf).text.strip()
    assert line.startswith("Balance  ") and line.endswith("118.20"), line


def _pdf_in_a_form_xobject(content: bytes) -> bytes:
    """A one-page PDF whose page only draws a form XObject holding ``content`` (a page stamped or imported whole)."""
    writer = PdfWriter()
    page = writer.add_blank_page(612, 792)
    form = DecodedStreamObject()
    form.set_data(content)
    form.update(
        {
            NameObject("/Type"): NameObject("/XObject"),
            NameObject("/Subtype"): NameObject("/Form"),
            NameObject("/BBox"): ArrayObject([NumberObject(0), NumberObject(0), NumberObject(612), NumberObject(792)]),
            NameObject("/Resources"): DictionaryObject({NameObject("/Font"): _helvetica_as_f1()}),
        }
    )
    page[NameObject("/Resources")] = DictionaryObject(
        {NameObject("/XObject"): DictionaryObject({NameObject("/Fm1"): writer._add_object(form)})}
    )
    stream = DecodedStreamObject()
    stream.set_data(b"q /Fm1 Do Q")
    page.replace_contents(stream.flate_encode())
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def test_a_page_drawn_in_a_form_xobject_is_read() -> None:
    """Layout mode reads a page's own content alone: a page stamped or imported whole went to review as
    ``no_text_layer``. Plain mode reads it where layout mode lays out nothing."""
    lines = ["Account Number: 44-7120-93", "Total Amount Due: $128.74"]
    content = "\n".join(f"BT /F1 10 Tf 72 {700 - 20 * i} Td ({line}) Tj ET" for i, line in enumerate(lines))
    document = read_document(_pdf_in_a_form_xobject(content.encode()))
    assert document.has_text_layer
    assert [line.strip() for line in document.text.splitlines() if line.strip()] == lines


@pytest.mark.parametrize("invisible", ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff"])
def test_zero_width_characters_inside_labels_and_figures_are_dropped(invisible: str) -> None:
    """ "Account \u200bNumber" and "128\u200b.74" hid the label and the amount from the rules."""
    text = f"Account {invisible}Number: 44-7120-93\nAmount due: $128{invisible}.74\n"
    assert read_document(text.encode()).text == "Account Number: 44-7120-93\nAmount due: $128.74\n"


def _bill_drawn(text: str, *, render_mode: int, empty_first: bool = False) -> bytes:
    """``text`` a line a text object, drawn in ``render_mode`` (3: invisible, as a scan's OCR layer over its image);
    with ``empty_first``, after an empty string shown to set the font up, as fpdf2 does."""
    setup = "BT /F1 9 Tf () Tj ET\n" if empty_first else ""
    lines = [line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)") for line in text.splitlines()]
    body = "\n".join(
        f"BT {render_mode} Tr /F1 9 Tf 40 {760 - 11 * i} Td ({line}) Tj ET" for i, line in enumerate(lines) if line
    )
    return _pdf_of_content((setup + body).encode("latin-1"))


@pytest.mark.parametrize(("render_mode", "empty_first"), [(3, False), (3, True), (7, False)])
def test_a_scans_ocr_layer_goes_to_review_as_machine_read(render_mode: int, empty_first: bool) -> None:
    """A searchable scan's text (invisible over its image) was read as a born-digital PDF's, and its OCR's slips in a
    date or a usage passed every check: it is a machine's reading of the image, as Gemini's is."""
    ocr = read_document(_bill_drawn(PLAIN, render_mode=render_mode, empty_first=empty_first))
    assert ocr.ocr_layer and ocr.has_text_layer
    report = analyze(ocr.data, provider_hint=None, settings=RULES)
    assert (report.decision, report.reasons) == ("review", ["ocr_text_layer"])
    assert report.bill is not None and report.bill.total_amount == Decimal("1234.50"), "read, for the reviewer's draft"


def test_a_pdf_showing_its_text_is_no_ocr_layer() -> None:
    """The same bill drawn visibly, or with a hidden line beside the shown ones, is read as before."""
    shown = read_document(_bill_drawn(PLAIN, render_mode=0, empty_first=True))
    assert not shown.ocr_layer
    assert analyze(shown.data, provider_hint=None, settings=RULES).decision == "accept"
    mixed = _pdf_of_content(b"BT 3 Tr /F1 9 Tf 40 700 Td (hidden) Tj ET\nBT 0 Tr /F1 9 Tf 40 680 Td (shown) Tj ET")
    assert not read_document(mixed).ocr_layer


def test_text_document() -> None:
    document = read_document(b"Account number: 1234\nAmount due: $84.12\n")
    assert document.content_type == "text/plain"
    assert document.pages == ["Account number: 1234\nAmount due: $84.12\n"]


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be", "utf-8-sig"])
def test_a_text_bill_saved_with_a_byte_order_mark_reads_as_printed(encoding: str) -> None:
    """Windows "Unicode" exports are UTF-16 (refused as binary, 415, before) and Notepad's UTF-8 starts
    with a mark that glued itself to the first line's first word."""
    text = "Account number: 1234\nAmount due: $84.12\n"
    data = ("\ufeff" + text if encoding == "utf-16-be" else text).encode(encoding)
    assert sniff_content_type(data) == "text/plain"
    assert read_document(data).pages == [text]


WINDOWS_TEXT = "Café Électrique — facture\nTotal Amount Due €85.00\n"


def test_a_windows_text_bill_reads_as_windows_1252() -> None:
    """Read as Latin-1, its euro sign (0x80) was an invisible control character, and a euro bill a dollar one."""
    data = WINDOWS_TEXT.encode("cp1252")
    assert (charset_of(data), read_document(data).text) == ("windows-1252", WINDOWS_TEXT)


def test_bytes_windows_1252_leaves_undefined_read_as_browsers_read_them() -> None:
    """As the WHATWG decoder does (U+0081 for 0x81), so the raw bill a reviewer sees is the text the rules read."""
    data = (WINDOWS_TEXT * 3).encode("cp1252") + b"\x81\x9d\n"
    assert read_document(data).text == WINDOWS_TEXT * 3 + "\x81\x9d\n"


def test_a_stray_byte_in_a_utf_8_bill_is_one_replacement_character() -> None:
    """Not the whole file read as Latin-1: its euro signs became "â\\x82¬"."""
    text = "Total Amount Due €85.00\nNote: {}\nAccount 1234\n"
    data = text.format("").encode("utf-8").replace(b"Note: ", b"Note: \xe9")
    assert (charset_of(data), read_document(data).text) == ("utf-8", text.format("\ufffd"))


def test_an_image_of_more_pixels_than_any_bill_is_refused_unread() -> None:
    """12,000 x 12,000 in a 140 kB PNG was taken and sent to review, where each reviewer's browser decoded 576 MB to
    show it; Pillow refuses only past 179 million pixels. A phone's 48-million-pixel photo is still read."""

    def png(width: int, height: int) -> bytes:
        out = io.BytesIO()
        Image.new("1", (width, height), 1).save(out, format="PNG")
        return out.getvalue()

    bomb = png(12_000, 12_000)
    assert len(bomb) < 200_000
    with pytest.raises(DocumentRejected) as caught:
        read_document(bomb)
    assert caught.value.reason == "image_too_large" and "144 million pixels" in caught.value.detail
    assert read_document(png(8_000, 6_000)).content_type == "image/png"


def test_images_and_scans_have_no_text_layer() -> None:
    facts = make_facts(KNOWN[Provider.SFPUC], rng_for("doc"))
    png = read_document(render_image.png(facts))
    assert (png.content_type, png.pages, png.has_text_layer) == ("image/png", [], False)
    scan = read_document(render_image.image_pdf(facts))
    assert scan.content_type == "application/pdf" and not scan.has_text_layer


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty_file"),
        (b"  \n\t ", "empty_file"),
        (b"\xef\xbb\xbf", "empty_file"),  # a byte-order mark alone was a review task
        (b"\xff\xfe \x00\n\x00\t\x00", "empty_file"),
        (adversarial.corrupt_pdf(rng_for("x")), "corrupt_file"),
        (b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\n%%EOF", "corrupt_file"),
        (_png()[:20], "corrupt_file"),
        (adversarial.renamed_docx(), "unsupported_type"),
        (b"GIF89a\x01\x00\x01\x00\x00\x00\x00", "unsupported_type"),
    ],
)
def test_rejections(data: bytes, reason: str) -> None:
    with pytest.raises(DocumentRejected) as caught:
        read_document(data)
    assert caught.value.reason == reason


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (_pdf_with_unknown_filter(), "NotImplementedError"),
        (_pdf_of_content(b"BT /F1 12 Tf 10 10 Td " + b"[" * 5000 + b"(x)" + b"]" * 5000 + b" TJ ET"), "RecursionError"),
    ],
    ids=["unsupported-filter", "deeply-nested-array"],
)
def test_any_pypdf_failure_is_a_corrupt_file(data: bytes, error: str) -> None:
    """Untyped, these escaped as retryable errors: the job retried for 30 minutes, then failed."""
    with pytest.raises(DocumentRejected) as caught:
        read_document(data)
    assert caught.value.reason == "corrupt_file"
    assert (
        caught.value.detail == f"the PDF is damaged or cut short, and cannot be read: save or scan it again ({error})"
    ), "in words, and what pypdf raised"


def test_running_out_of_memory_is_not_a_broken_file(monkeypatch: pytest.MonkeyPatch) -> None:
    """The same bytes may parse on a retry with memory to spare: only what the file is rejects it."""

    def short_of_memory(*_: object, **__: object) -> None:
        raise MemoryError

    monkeypatch.setattr("pypdf.PdfReader", short_of_memory)
    with pytest.raises(MemoryError):
        read_document(_pdf_of_content(b"BT /F1 12 Tf 10 10 Td (x) Tj ET"))


def test_page_limit() -> None:
    pdf = FPDF()
    for _ in range(3):
        pdf.add_page()
    data = bytes(pdf.output())
    assert len(read_document(data, max_pages=3).pages) == 3
    with pytest.raises(DocumentRejected) as caught:
        read_document(data, max_pages=2)
    assert caught.value.reason == "too_many_pages"


@pytest.mark.parametrize(
    ("text", "detail"),
    [
        ("Amount due 1.00 " * 70, "a line of"),  # the rules reader's work grows with hits × line length
        ("Amount due 1.00\n" * 8_000, "non-blank characters"),
        ("Amount due 1.00" + "\n" * 20_001, "lines"),  # 5 MB of them held a worker's CPU for 34 s
    ],
)
def test_text_beyond_any_bill_is_refused(text: str, detail: str) -> None:
    with pytest.raises(DocumentRejected) as caught:
        read_document(text.encode())
    assert caught.value.reason == "too_much_text" and detail in caught.value.detail


def test_text_limits_leave_long_bills_alone() -> None:
    """A long text bill, and fifty dense PDF pages (more in all than one text may hold)."""
    line = "Usage charge" + " " * 170 + "$12.34\n"  # layout padding is not counted
    assert read_document((line * 5_000).encode()).pages  # 90,000 non-blank characters on 5,000 lines
    dense_page = "Usage charge  $12.34  " * 250  # ~4,500 non-blank characters on 250 lines
    dense_page = "\n".join([dense_page[i : i + 120] for i in range(0, len(dense_page), 120)])
    assert len(within_text_limits([dense_page] * 50)) == 50
    with pytest.raises(DocumentRejected):
        within_text_limits(["\n".join([dense_page] * 50)])


def test_password_protected_pdf_is_unsupported() -> None:
    pdf = FPDF()
    pdf.set_encryption(owner_password="owner", user_password="secret")
    pdf.add_page()
    pdf.set_font("Helvetica", size=10)
    pdf.cell(0, 5, "Amount due $10.00")
    with pytest.raises(DocumentRejected) as caught:
        read_document(bytes(pdf.output()))
    assert caught.value.reason == "unsupported_type"


def test_a_web_page_stored_before_intake_refused_one_still_reads_as_text() -> None:
    """Uploads and connectors refuse a page now; one stored before that (a job in flight, or reset) is read as it was,
    not failed as an unsupported type at validation or on a reset."""
    page = b"<html><body>Total Amount Due $60.00</body></html>"
    assert sniff_content_type(page) == MARKUP
    document = read_document(page)
    assert document.content_type == TEXT and "Total Amount Due $60.00" in document.text
