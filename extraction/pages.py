"""What a document's pages are, as text, to every reader of them. Stdlib only: the PDF parser's child processes
import it (through ``extraction.document``), and the rules and their models stay out of them."""

from __future__ import annotations

from itertools import islice

PAGE_BREAK = "\n\f\n"
"""Between a document's pages in its whole text (``Document.text``): the rules reader joins its pages so
too, and ``number_format`` of the one text is worked out once."""

MIN_TEXT_CHARS = 20
"""Fewer alphanumerics than this in a document's text mean a scan or a photo: nothing to read or check."""


def has_text_layer(text: str) -> bool:
    """Whether ``text`` is a text layer, not a scan's stray marks (see ``MIN_TEXT_CHARS``)."""
    alphanumerics = filter(str.isalnum, text)
    return len(list(islice(alphanumerics, MIN_TEXT_CHARS))) == MIN_TEXT_CHARS


_FORMAT_CHARACTERS = dict.fromkeys((0x200B, 0x200C, 0x200D, 0x2060, 0xFEFF))
"""Zero-width spaces and joiners, the word joiner, and a byte-order mark inside the text: invisible, but where a
producer leaves them in a label or an amount ("Account \u200bNumber", "128\u200b.74"), they hid it from the rules."""


def without_format_characters(text: str) -> str:
    """``text`` as it reads, without the invisible characters that break its words and figures apart."""
    return text.translate(_FORMAT_CHARACTERS)
