"""Raw bytes to a readable document: sniff the type, refuse what cannot be read, pull PDF text.

Everything a user can upload passes through here first, so every failure is a typed
``DocumentRejected`` (terminal: retrying the same bytes cannot help).

pypdf and Pillow are imported where a PDF or an image is read, not with the module: the API and the worker's
main process import it to sniff types and to name documents, and read no PDF (the worker's parsers do, in
processes of their own: ``extraction.bounded``). Imported with the module, they cost each of those processes
~11 MB.
"""

from __future__ import annotations

import codecs
import io
import logging
import re
import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, get_args

from extraction.charsets import WINDOWS_1252
from extraction.mail import mail_text, unescaped
from extraction.pages import PAGE_BREAK, has_text_layer, without_format_characters

if TYPE_CHECKING:
    from pypdf import PageObject

    from extraction.pdf_layout import PageText

logger = logging.getLogger(__name__)

RejectReason = Literal[
    "empty_file", "corrupt_file", "unsupported_type", "too_many_pages", "too_much_text", "image_too_large"
]
REJECT_REASONS: frozenset[str] = frozenset(get_args(RejectReason))

PDF = "application/pdf"
PNG = "image/png"
JPEG = "image/jpeg"
TEXT = "text/plain"
MARKUP = "text/html"
"""What ``sniff_content_type`` calls a web page, SVG or XML document by its bytes: never a bill."""

_SNIFF_BYTES = 64 * 1024
MAX_LINE_CHARS = 1_000
MAX_INK_CHARS = 100_000
MAX_INK_PER_PAGE = 6_000
MAX_LINES = 20_000
MAX_LINES_PER_PAGE = 400
"""Text limits, far beyond any bill (a dense page is 2,000–4,000 non-blank characters in 60–170 lines, its layout
lines 100–250 wide; the eval's bills have at most 1,100 and 174): a line; a document of the larger of
``MAX_INK_CHARS`` and ``MAX_INK_PER_PAGE`` per page, and of ``MAX_LINES`` and ``MAX_LINES_PER_PAGE`` per page (blank
lines too). The rules reader's work grows faster than its input, and a thread cannot be stopped, so a crafted text
is refused before extraction (the worst case within the limits: 1.5 s on this machine, not hours). 200,000 characters
and no line limit let one upload hold a worker's CPU for 15 s (usage figures packed in long lines) or 34 s (5 MB of
blank lines), an ingest key's to repeat (a security probe)."""


class DocumentRejected(Exception):
    """The bytes are not a bill we can read; non-retryable by design."""

    def __init__(self, reason: RejectReason, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason: RejectReason = reason
        self.detail = detail


def sniff_content_type(data: bytes) -> str | None:
    """The content type the bytes really are, whatever the file name or header claimed."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):  # an image's own mark first: a JPEG's comment may hold "%PDF-"
        return PNG
    if data.startswith(b"\xff\xd8\xff"):
        return JPEG
    if b"%PDF-" in data[:1024]:
        return PDF
    if looks_like_markup(data):
        return MARKUP
    if data and _looks_like_text(data[:_SNIFF_BYTES]):
        return TEXT
    return None


_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
"""How a Windows "Unicode" text export begins: its text is UTF-16, every other byte a NUL."""

_LEADING_BLANKS = re.compile(rb"\s*")
_PAGE_ELEMENTS = (
    b"html|head|body|script|noscript|iframe|frameset|frame|object|embed|template|style|title|meta|link|base|form|input"
    b"|button|div|span|p|a|b|i|u|br|hr|font|center|table|h[1-6]|ul|ol|li|img|section|main|header|footer|nav|svg|math"
)
_MARKUP_OPENING = re.compile(rb"<(?:!doctype|!--|\?xml|(?:" + _PAGE_ELEMENTS + rb")(?=[\s/>]))", re.IGNORECASE)


def looks_like_markup(data: bytes) -> bool:
    """Whether the bytes open as a web page, SVG or XML, after any blanks and byte-order mark: an HTML or SVG element's
    tag, a doctype, a comment or an XML declaration; what a browser would render, scripts and all. A portal's sign-in
    page may begin "<title>", "<meta http-equiv=refresh ...>" or "<div class=login>" (each read as a text bill and
    sent to review); a text bill may begin "<REPRINT>" or "<Page 1 of 2>", which no browser renders as a tag. Blanks
    however many (a template's blank lines)."""
    if data.startswith(_UTF16_BOMS):
        data = data[:_SNIFF_BYTES].decode("utf-16", errors="ignore").encode("utf-8", errors="ignore")
    data = data.removeprefix(codecs.BOM_UTF8)
    blanks = _LEADING_BLANKS.match(data)
    return _MARKUP_OPENING.match(data, blanks.end() if blanks else 0) is not None


def _looks_like_text(sample: bytes) -> bool:
    if b"\x00" in sample and not sample.startswith(_UTF16_BOMS):
        return False
    text = _decode(sample)
    printable = sum(1 for ch in text if ch.isprintable() or ch in "\r\n\t\f")
    return printable >= 0.95 * len(text)


def charset_of(data: bytes) -> str:
    """The charset a text bill is read in, by the name HTTP knows it by: the API names it when it serves
    the raw bill, so a reviewer sees the very text the rules read."""
    return _read_text(data)[0]


def _decode(data: bytes) -> str:
    return _read_text(data)[1]


def _read_text(data: bytes) -> tuple[str, str]:
    """(charset, text): UTF-8 (its byte-order mark dropped, so the first line reads as printed), UTF-16
    with a byte-order mark, else Windows-1252 (every byte is a character there, and 0x80 the euro sign,
    which Latin-1 makes an invisible control character)."""
    if data.startswith(_UTF16_BOMS):
        # A sample may end inside a character: the odd byte goes, a broken pair reads as U+FFFD.
        return "utf-16", data[: len(data) - len(data) % 2].decode("utf-16", errors="replace")
    data = data.removeprefix(codecs.BOM_UTF8)
    # final=False: a sample cut in the middle of a multi-byte character is still UTF-8, less that character.
    text = codecs.getincrementaldecoder("utf-8")(errors="replace").decode(data, final=False)
    if _mostly_utf8(text, data):
        return "utf-8", text
    return "windows-1252", codecs.charmap_decode(data, "strict", WINDOWS_1252)[0]


def _mostly_utf8(text: str, data: bytes) -> bool:
    """Whether ``text``, ``data`` read as UTF-8 with U+FFFD for each invalid sequence, is what it says:
    it has no invalid sequence, or no more than it has multi-byte characters. Text in a one-byte charset
    makes valid UTF-8 only by an unlikely accident ("Ã©"), so nearly each of its accented letters is an
    invalid sequence; a UTF-8 file with a stray byte or two has as many characters at least, and
    read as Windows-1252 each of them would be garbled ("€" as "â‚¬")."""
    invalid = text.count("\ufffd") - data.count("\ufffd".encode())
    return invalid <= sum(not ch.isascii() for ch in text) - text.count("\ufffd")


@dataclass(frozen=True)
class Document:
    """A readable upload: its bytes, real type, and text per page ([] for images)."""

    data: bytes = field(repr=False)
    content_type: str
    pages: list[str]
    ocr_layer: bool = False
    """A PDF whose text is a scan's OCR layer (drawn invisibly over the page's image): machine-read, as an image is,
    so its values are no evidence of themselves (``ocr_text_layer``)."""

    @property
    def text(self) -> str:
        return PAGE_BREAK.join(self.pages)

    @property
    def has_text_layer(self) -> bool:
        return has_text_layer(self.text)

    @property
    def page_count(self) -> int:
        return max(len(self.pages), 1)


def holds_nothing(data: bytes) -> bool:
    """Empty, or nothing but blank space, a byte-order mark's too: no bill in any format (``empty_file``). Checked
    without a copy of ``data`` but for a text with a byte-order mark (one holding only that became a review task)."""
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
    elif data.startswith(_UTF16_BOMS):
        data = data[2:].replace(b"\x00", b"")
    return not data or data.isspace()


def read_document(data: bytes, *, max_pages: int = 50) -> Document:
    """Parse ``data`` into a Document, or raise DocumentRejected saying why not."""
    if holds_nothing(data):
        raise DocumentRejected("empty_file")
    content_type = sniff_content_type(data)
    if content_type == PDF:
        pages = _pdf_pages(data, max_pages)
        return Document(
            data=data,
            content_type=PDF,
            pages=within_text_limits([page.text for page in pages]),
            ocr_layer=any(page.invisible for page in pages),
        )
    if content_type in (PNG, JPEG):
        _verify_image(data)
        return Document(data=data, content_type=content_type, pages=[])
    if content_type in (TEXT, MARKUP):  # a page stored before intake refused them reads as it did: as text
        text = without_format_characters(unescaped(mail_text(data) or _decode(data)))
        return Document(data=data, content_type=TEXT, pages=within_text_limits([text]))
    raise DocumentRejected("unsupported_type")


def within_text_limits(pages: list[str]) -> list[str]:
    """``pages`` unchanged, or DocumentRejected("too_much_text") saying which limit they pass."""
    limit = max(MAX_INK_CHARS, MAX_INK_PER_PAGE * len(pages))
    line_limit = max(MAX_LINES, MAX_LINES_PER_PAGE * len(pages))
    ink = lines = 0
    for page in pages:
        page_lines = page.splitlines()
        lines += len(page_lines)
        if lines > line_limit:
            raise DocumentRejected("too_much_text", f"over {line_limit} lines in {len(pages)} page(s)")
        for line in page_lines:
            if len(line.rstrip()) > MAX_LINE_CHARS:
                raise DocumentRejected("too_much_text", f"a line of {len(line.rstrip())} characters > {MAX_LINE_CHARS}")
        ink += len(page) - sum(page.count(blank) for blank in " \n\t\f\r")
        if ink > limit:
            raise DocumentRejected("too_much_text", f"over {limit} non-blank characters in {len(pages)} page(s)")
    return pages


def _pdf_pages(data: bytes, max_pages: int) -> list[PageText]:
    from pypdf import PdfReader  # here: see the module's docstring

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise DocumentRejected(
                "unsupported_type", "a password-protected PDF: remove its password and upload it again"
            )
        count = len(reader.pages)
        if count > max_pages:
            raise DocumentRejected("too_many_pages", f"{count} pages > {max_pages}")
        if count == 0:
            raise DocumentRejected("corrupt_file", "no pages")
        return [_page_text(page) for page in reader.pages]
    except (DocumentRejected, MemoryError):  # short of memory now is not a broken file
        raise
    except Exception as error:
        # pypdf signals broken structure with a spread of exception types, NotImplementedError
        # (an unsupported filter) and RecursionError (nested arrays) among them; the same bytes
        # fail the same way every time, so none of them may reach Temporal as a retryable error.
        raise DocumentRejected("corrupt_file", _unreadable("PDF", error)) from error


def _unreadable(kind: str, error: BaseException) -> str:
    """A broken file's detail, in words a customer can be sent, the parser's error type kept for an operator: the job
    said "rejected: corrupt_file (PdfStreamError)" (a support engineer's probe, 75A)."""
    return f"the {kind} is damaged or cut short, and cannot be read: save or scan it again ({type(error).__name__})"


def _page_text(page: PageObject) -> PageText:
    """Layout mode keeps columns apart, which label-above-value bills need (``extraction.pdf_layout``). Where it
    lays out no text that plain mode reads, plain mode's: layout mode leaves out text drawn in a form XObject (a page
    stamped or imported whole) and text a ``cm`` turns upright on a rotated page, and such bills went to review as
    ``no_text_layer``."""
    from extraction.pdf_layout import PageText, layout_text  # here: it imports pypdf

    try:
        laid_out = layout_text(page)
    except MemoryError:  # plain mode would build as much again
        raise
    except Exception:
        logger.debug("layout extraction failed; using plain mode", exc_info=True)
        return PageText(without_format_characters(page.extract_text()), False)
    if not has_text_layer(laid_out.text):
        plain = page.extract_text()
        if has_text_layer(plain):
            return PageText(without_format_characters(plain), laid_out.invisible)
    return PageText(without_format_characters(laid_out.text), laid_out.invisible)


MAX_IMAGE_PIXELS = 50_000_000
"""An image bill's pixels at most: a letter page scanned at 600 dpi is 34 million, a phone's photo 12 to 48. A
140 kB PNG of 12,000 x 12,000 was taken (Pillow refuses only past 179 million) and went to review, where the page
shows it: each reviewer's browser decoded 576 MB for it (a security probe)."""


def _verify_image(data: bytes) -> None:
    from PIL import Image  # here: see the module's docstring

    try:
        with warnings.catch_warnings():  # Pillow's warning past 89 million pixels: judged here, by MAX_IMAGE_PIXELS
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
        with image:
            pixels = image.width * image.height  # the header's: nothing is decoded
            image.verify()
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
        raise DocumentRejected("corrupt_file", _unreadable("image", error)) from error
    if pixels > MAX_IMAGE_PIXELS:
        raise DocumentRejected(
            "image_too_large", f"{pixels / 1e6:.0f} million pixels > {MAX_IMAGE_PIXELS / 1e6:.0f}: send it resized"
        )
