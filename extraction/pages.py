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
