"""A PDF page's text laid out in columns, as pypdf's layout mode does, with the spaces between words a producer drew
one by one kept as the page shows them.

pypdf's layout mode places each separately drawn run of text at its column on a grid of the page's average character
width. A producer that draws every word (or every glyph) on its own, as print-stream converters and report engines
do, leaves the grid to decide the spaces: a word's column fell inside the word before it and the two were glued
("BillingPeriod:10/21/2026", "TotalUsage"), or a wide bold word pushed the next several columns on and a heading
split in two cells ("ELECTRIC     CHARGES"). The rules then missed the period, the usage and the charges.

``layout_text`` runs pypdf's own steps (its fonts, text operations and lines) and lines them up as pypdf does, but
for the gap between one run and the next on a line: runs that touch join, a word's gap is one space, and a column's
gap at least two, so it stays a cell of its own. Runs drawn within one text object keep pypdf's spaces. The steps are
pypdf's private functions (7.x): where they are missing, pypdf's public layout mode reads the page.

It also says whether all of a page's text is drawn invisibly (``PageText.invisible``): a searchable scan's OCR layer,
which the engine sends to review as ``ocr_text_layer``.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any, NamedTuple

from pypdf import PageObject
from pypdf.generic import ArrayObject, ContentStream, StreamObject

_layout_mode: ModuleType | None
try:
    from pypdf._text_extraction import _layout_mode
except ImportError:  # pragma: no cover: another pypdf; its public layout mode reads the page
    _layout_mode = None

TOUCHING = 0.15
"""A gap under this many average character widths joins two runs: a glyph drawn after the glyph before it."""
WORD_GAP = 1.0
"""A gap under this many average character widths is a word space (a space is about half an average character);
one this wide or wider parts two cells."""
MAX_BLANK_LINES = 1_000
MAX_SPACES = 10_000
"""pypdf's own bounds on the blank lines and spaces one gap makes (a crafted page asks for millions); a line longer
than ``extraction.document.MAX_LINE_CHARS`` is refused after."""


class PageText(NamedTuple):
    text: str
    invisible: bool
    """Whether every piece of the page's text is drawn invisibly (render mode 3 or 7): a scan's OCR layer, as
    scanners and OCR tools lay one over the page's image."""


def layout_text(page: PageObject) -> PageText:
    """The page's text in columns: pypdf's layout mode, with the spaces between separately drawn runs as shown."""
    steps = _layout_mode
    if (
        steps is None
        or not hasattr(page, "_layout_mode_fonts")
        or not all(hasattr(steps, name) for name in ("text_show_operations", "y_coordinate_groups", "fixed_char_width"))
    ):
        return PageText(page.extract_text(extraction_mode="layout"), False)  # pragma: no cover: another pypdf
    fonts = page._layout_mode_fonts()
    contents = page.get("/Contents")
    if contents is not None:
        contents = contents.get_object()
    if not isinstance(contents, (ArrayObject, StreamObject)):
        return PageText("", False)  # no content: an empty page, as pypdf answers
    operations = ContentStream(contents, page.pdf, "bytes").operations
    runs = steps.text_show_operations(iter(operations), fonts, True, None)
    if not runs:
        return PageText("", False)
    lines = steps.y_coordinate_groups(runs, None)
    return PageText(_lined_up(lines, steps.fixed_char_width(runs, 1.25)), _only_invisible(operations))


_SHOWS_TEXT = frozenset({b"Tj", b"TJ", b"'", b'"'})
_INVISIBLE = frozenset({3, 7})
"""Text render modes that paint nothing: neither filled nor stroked (7 only adds the text to the clipping path)."""


def _only_invisible(operations: list[tuple[list[Any], bytes]]) -> bool:
    """Whether the page shows text and all of it in an invisible render mode (``Tr`` kept, as PDF keeps it, in the
    graphics state ``q`` saves and ``Q`` restores)."""
    mode, saved, shown, visible = 0, [], 0, 0
    for operands, operator in operations:
        if operator == b"q":
            saved.append(mode)
        elif operator == b"Q":
            mode = saved.pop() if saved else 0
        elif operator == b"Tr" and operands:
            mode = int(operands[0])
        elif operator in _SHOWS_TEXT and _any_glyph(operands):
            shown += 1
            visible += mode not in _INVISIBLE
    return shown > 0 and visible == 0


def _any_glyph(operands: list[Any]) -> bool:
    """Whether a text-showing operator's strings hold a character but a blank (a producer shows an empty string
    to set a font up)."""
    strings = operands[-1] if operands and isinstance(operands[-1], list) else operands[-1:]  # TJ's array, or one
    return any(isinstance(part, (bytes, str)) and part.strip() for part in strings)


def _lined_up(lines: dict[int, list[Any]], char_width: float) -> str:
    """pypdf's ``fixed_width_page`` (blank lines by the distance between lines, each run at its grid column), but a
    run after another on the same line is spaced by the gap between them (``_spaces``)."""
    out: list[str] = []
    last_y = 0
    controls = str.maketrans(dict.fromkeys(range(14, 32), " "))
    for y, runs in lines.items():
        if out:
            height = runs[0]["font_height"]
            blank = 0 if height == 0 else int(abs(y - last_y) / height) - 1
            out.extend([""] * min(max(blank, 0), MAX_BLANK_LINES))
        parts: list[str] = []
        length = 0
        end: float | None = None
        for run in runs:
            x = run["tx"]
            column = int(x // char_width) if char_width else length
            spaces = _spaces(x - end, column - length, char_width) if end is not None else column - length
            if spaces > 0:
                spaces = min(spaces, MAX_SPACES)
                parts.append(" " * spaces)
                length += spaces
            text = run["text"].translate(controls)
            parts.append(text)
            length += len(text)
            end = run["displaced_tx"]
        line = "".join(parts).rstrip()
        if line.strip() or out:
            out.append(line)
        last_y = y
    return "\n".join(out)


def _spaces(gap: float, to_column: int, char_width: float) -> int:
    """Blanks between a run and the one before it on its line: none where they touch (or overlap), one for a word's
    gap, and for a wider gap as many as reach the run's grid column, two at least."""
    if not char_width or gap < TOUCHING * char_width:
        return 0 if char_width else to_column
    if gap < WORD_GAP * char_width:
        return 1
    return max(to_column, 2)
