"""Lines and cells of layout-mode text, and the search for "label, then value" pairs.

A value sits right of its label on the same line, or in the cell just below it
(summary boxes and header rows). Cells are runs of text separated by 2+ spaces,
which is how pypdf's layout mode renders separate columns.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Generic, TypeVar

from extraction.values import MONTHS, Found, only_currency_marks

T = TypeVar("T")
Take = Callable[[str], Found[T] | None]
Join = Callable[[T, T], T | None]

_CELL_RE = re.compile(r"\S+(?: \S+)*")
_WORD_CHAR = re.compile(r"\w")
_ESCAPE = re.compile(r"\\.")
_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)


def fold(text: str) -> str:
    """Lower case, same length: a match in the folded text marks the same characters in ``text``."""
    folded = text.lower()
    return folded if len(folded) == len(text) else text.translate(_ASCII_LOWER)


@dataclass(frozen=True)
class Line:
    page: int
    text: str
    printed: str | None = None
    """The line as the bill prints it where ``text`` writes its numbers otherwise (a decimal-comma bill's, turned
    round by ``decimal_commas_as_points``): as long, so a place in one is the same place in the other."""

    @cached_property
    def folded(self) -> str:
        return fold(self.text)


@dataclass(frozen=True)
class Cell:
    start: int
    end: int
    text: str


@dataclass(frozen=True)
class Candidate(Generic[T]):
    """One reading of a field: the value, how good its label was, and where it was."""

    value: T
    priority: int
    line: int
    column: int = 0
    """Where its label starts on the line."""


def to_lines(pages: Sequence[str], *, printed: Sequence[str] | None = None) -> list[Line]:
    """The pages' lines, without NUL characters (a PDF font can map a glyph to one; Postgres refuses them);
    each with its ``printed`` line when ``pages`` are the ``printed`` pages' numbers turned round."""
    lines = [
        Line(page=number, text=text.replace("\x00", "").rstrip())
        for number, page in enumerate(pages)
        for text in page.splitlines()
    ]
    if printed is None:
        return lines
    as_printed = [text.replace("\x00", "") for page in printed for text in page.splitlines()]
    return [Line(line.page, line.text, text[: len(line.text)]) for line, text in zip(lines, as_printed, strict=True)]


def cells(text: str) -> list[Cell]:
    return [Cell(m.start(), m.end(), m.group()) for m in _CELL_RE.finditer(text)]


@dataclass(frozen=True)
class Wordings:
    """Label wordings (regular expressions in lower case) found as whole words in folded text.

    Compiled case-sensitive and without a leading look-behind, so that ``re`` skips ahead
    to the wordings' first letters instead of trying every wording at every position of
    layout text that is mostly spaces (~50x faster than ``(?<!\\w)…`` with IGNORECASE);
    the word boundary before a match is checked here instead, with the same result.
    """

    pattern: re.Pattern[str]

    @classmethod
    def of(cls, *wordings: str) -> Wordings:
        for wording in wordings:
            if any(char.isupper() for char in _ESCAPE.sub("", wording)):
                raise ValueError(f"label wordings are matched on folded text; write {wording!r} in lower case")
        return cls(re.compile("(?:" + "|".join(f"(?:{w})" for w in wordings) + r")(?!\w)"))

    def search(self, folded: str, pos: int = 0) -> re.Match[str] | None:
        """The first whole-word match at or after ``pos`` (the start of the text counts as a boundary)."""
        while (match := self.pattern.search(folded, pos)) is not None:
            start = match.start()
            if start == 0 or _WORD_CHAR.match(folded, start - 1) is None:
                return match
            pos = start + 1
        return None

    def finditer(self, folded: str) -> Iterator[re.Match[str]]:
        """Non-overlapping whole-word matches, left to right, as ``re.finditer`` gives them."""
        pos = 0
        while (match := self.search(folded, pos)) is not None:
            yield match
            pos = max(match.end(), match.start() + 1)


@dataclass(frozen=True)
class LabelSet:
    """Wordings of one field's label, best first; ``exclude`` vetoes a hit by its context.

    ``exclude`` is matched against the text of the label's cell around the hit, so
    "Previous Amount Due" is not read as "Amount Due"; ``exclude_in_sentence`` only against the hit's own
    sentence in that cell, so "Thank you for your payment of $200.00. Your next payment will be drafted on
    01/26/2026." still reads the payment made.
    """

    wordings: tuple[str, ...]
    exclude: re.Pattern[str] | None = None
    exclude_in_sentence: re.Pattern[str] | None = None

    @classmethod
    def of(cls, *wordings: str, exclude: str | None = None, exclude_in_sentence: str | None = None) -> LabelSet:
        return cls(
            wordings,
            re.compile(exclude, re.IGNORECASE) if exclude else None,
            re.compile(exclude_in_sentence, re.IGNORECASE) if exclude_in_sentence else None,
        )

    @cached_property
    def patterns(self) -> tuple[Wordings, ...]:
        return tuple(Wordings.of(w) for w in self.wordings)

    @cached_property
    def any_wording(self) -> Wordings:
        """One scan that tells whether a line holds any of the wordings (most lines hold none)."""
        return Wordings.of(*self.wordings)

    def extended(self, *wordings: str) -> LabelSet:
        """A template's own wordings, tried before the generic ones."""
        return LabelSet(wordings + self.wordings, self.exclude, self.exclude_in_sentence)


@dataclass(frozen=True)
class Hit:
    line: int
    start: int
    end: int
    priority: int


def label_hits(lines: Sequence[Line], labels: LabelSet) -> list[Hit]:
    hits: list[Hit] = []
    for index, line in enumerate(lines):
        if labels.any_wording.search(line.folded) is None:
            continue
        taken: list[tuple[int, int]] = []
        for priority, pattern in enumerate(labels.patterns):
            for match in pattern.finditer(line.folded):
                if any(s < match.end() and match.start() < e for s, e in taken):
                    continue  # a better wording already claimed these characters
                if labels.exclude and _excluded(line.text, match, labels.exclude):
                    continue
                in_sentence = labels.exclude_in_sentence
                if in_sentence and _excluded(line.text, match, in_sentence, sentence=True):
                    continue
                taken.append((match.start(), match.end()))
                hits.append(Hit(index, match.start(), match.end(), priority))
    return hits


_SENTENCE_END = re.compile(r"[.!?;](?=\s|$)")
"""Where a sentence ends: not a decimal point ("$200.00" goes on; "$200.00. Your" ends)."""


def _excluded(text: str, match: re.Match[str], exclude: re.Pattern[str], *, sentence: bool = False) -> bool:
    start, end = sentence_around(text, match.start()) if sentence else _cell_around(text, match.start())
    return exclude.search(text, start, end) is not None


def _cell_around(text: str, at: int) -> tuple[int, int]:
    cell = next((c for c in cells(text) if c.start <= at < c.end), None)
    return (cell.start, cell.end) if cell else (0, len(text))


def sentence_around(text: str, at: int) -> tuple[int, int]:
    """Where the sentence holding ``at`` begins and ends, within its cell of the line."""
    start, end = _cell_around(text, at)
    ends = [m.end() for m in _SENTENCE_END.finditer(text, start, end)]
    return max((e for e in ends if e <= at), default=start), min((e for e in ends if e > at), default=end)


def find_candidates(
    lines: Sequence[Line],
    labels: LabelSet,
    take: Take[T],
    *,
    stop: Wordings,
    columns: bool = False,
    joined: Join[T] | None = None,
    rows: bool = True,
) -> list[Candidate[T]]:
    """Values next to (right of, else below) each hit of ``labels``.

    ``stop`` matches any field's label: the value right of a label must come before
    the next label on the line, or it belongs to that other label. With ``columns``, a second value in the next
    cell of the label's row is a candidate too (``_next_column``). ``joined`` makes one value of two under the
    label where the second goes on the first (an address's city line), not a second row (``_below``). Without
    ``rows``, a value under the label is its own whatever stands under it: a name is no row of a table of past bills.
    """
    found: list[Candidate[T]] = []
    for hit in label_hits(lines, labels):
        region = _label_region(lines[hit.line], hit, stop)
        own = next((c for c in cells(lines[hit.line].text) if c.start <= hit.start < c.end), None)
        right, in_wording = _right_of(hit, own, region, take)
        value = (
            right.value if right is not None and not in_wording else _below(lines, hit, own, take, stop, joined, rows)
        )
        if value is None and right is not None:
            value = right.value
        if value is not None:
            found.append(Candidate(value, hit.priority, hit.line, hit.start))
        if columns and right is not None and not in_wording:
            beside = _next_column(region, right, take)
            if beside is not None:
                found.append(Candidate(beside, hit.priority, hit.line, hit.start))
    return found


def _label_region(line: Line, hit: Hit, stop: Wordings) -> str:
    """The line after the label, up to the next label: a value beyond that is the other label's."""
    region = line.text[hit.end :]
    next_label = stop.search(line.folded[hit.end :])
    if next_label is not None and next_label.start() > 0:
        region = region[: next_label.start()]
    return region


_BLANK_CELL_GAP = re.compile(r"[ \t]{2,}[^\w]{0,3}")


def _next_column(region: str, right: Found[T], take: Take[T]) -> T | None:
    """A value of the label's own kind in the cell after its value (``right``, in the label's ``region``), nothing
    but blanks (and a currency's mark) between: another column's ("Amount due   $96.72   $179.86" under "Last bill
    This bill"), the first of which was taken for the bill's, and accepted. A candidate, it makes the reading
    conflict."""
    beside = take(region[right.end :])
    if beside is None or not _BLANK_CELL_GAP.fullmatch(region, right.end, right.end + beside.start):
        return None
    return beside.value


def _right_of(hit: Hit, own: Cell | None, region: str, take: Take[T]) -> tuple[Found[T] | None, bool]:
    """The value after the label (in its ``own`` cell) on its line, and whether it stands inside a later cell's
    wording: on a two-column page a label whose value is printed under it shares its line with the other column
    ("Due Date    Your next meter read is scheduled for 02/05/2026"), and that column's date was taken for the
    label's. Such a value is the label's only when none stands under the label (``find_candidates``): "Amount Due
    Rs. 1,234.50" is."""
    found = take(region)
    if found is None:
        return None, False
    beyond = max(0, own.end - hit.end) if own is not None else 0
    return found, found.start >= beyond and _WORDING.search(region, beyond, found.start) is not None


_WORDING = re.compile(r"(?<![A-Za-z])(?![A-Z]{3}(?![A-Za-z]))[A-Za-z]{2,}")
"""A word before a value in a later cell: maybe another column's wording (a currency's sign or code, "$", "₹", "EUR",
a garbled "â‚¬", stands before a value as it may)."""


def _below(
    lines: Sequence[Line],
    hit: Hit,
    own: Cell | None,
    take: Take[T],
    stop: Wordings,
    joined: Join[T] | None,
    rows: bool,
) -> T | None:
    """The cell under the label's ``own`` cell, on the next non-blank line; none where the line after holds another
    such value: the label heads a column of rows (an account history's "Bill Date   Amount Due" over past bills),
    not the bill's own value, and its past totals and dates sent a sound bill to review as conflicts. Nor under a
    history's heading (``_heads_a_history``): a history of one past bill looks just like a summary box. Unless the
    two values make one (``joined``): an address printed over two lines was read as none. Nor for a field that
    heads no column of rows (``rows`` false): a name over the customer's mailing address was read as none."""
    below = _next_line(lines, hit.line)
    if own is None or below is None or _heads_a_history(lines, hit.line, own, below):
        return None
    value = _value_under(lines[below], own, take, stop)
    after = _next_line(lines, below)
    second = _value_under(lines[after], own, take, stop) if value is not None and after is not None else None
    if value is None or second is None:
        return None if value is None else value.value
    whole = joined(value.value, second.value) if joined is not None else None
    return whole if whole is not None or rows else value.value


def _next_line(lines: Sequence[Line], index: int) -> int | None:
    """The next non-blank line on the same page."""
    after = next((i for i in range(index + 1, len(lines)) if lines[i].text.strip()), None)
    return after if after is not None and lines[after].page == lines[index].page else None


def _previous_line(lines: Sequence[Line], index: int) -> int | None:
    """The previous non-blank line on the same page."""
    before = next((i for i in range(index - 1, -1, -1) if lines[i].text.strip()), None)
    return before if before is not None and lines[before].page == lines[index].page else None


_HISTORY_HEADING = re.compile(
    r"(?:[\w&'./-]+\s+){0,3}(?:account|billing|bill|payments?|statement)\s+history(?:\s*\([^)]*\))?\s*:?",
    re.IGNORECASE,
)
"""A heading of past bills: "Account History", "Billing History", "12-Month Payment History (last 13 months)". Not a
usage's or the weather's ("Your Usage History", "Daily Temperature History") over the bill's own summary box."""
_PAST_BILL = re.compile(
    rf"\b(?:\d{{1,2}}/\d{{2,4}}|\d{{4}}-\d{{1,2}}|\d{{1,2}}\.\d{{1,2}}\.\d{{2,4}}|{'|'.join(MONTHS)})\b", re.IGNORECASE
)
"""A date or a month, not an amount: what a history's row starts with ("12/05/2025", "12/25", "Dec 2025")."""
HISTORY_LABEL_ROWS = 2
"""How many lines under a history's heading may be its label row (a note such as "Last 13 months" may come first)."""


def _heads_a_history(lines: Sequence[Line], index: int, own: Cell, below: int) -> bool:
    """Whether the label's row is among the first under a "... History" heading alone on its line, and the label not
    wholly left of it: the bill's own box may stand in the column beside the history, or in the rows after it. And
    whether the row ``below`` starts with a past bill's date: a box of this bill's may stand under the heading too
    ("Amount Due   Due Date" over "$1,234.50   2026-01-26")."""
    first = cells(lines[below].text)[:1]
    if not first or _PAST_BILL.search(first[0].text) is None:
        return False
    above = index
    for _ in range(HISTORY_LABEL_ROWS):
        found = _previous_line(lines, above)
        if found is None:
            return False
        above = found
        heading = cells(lines[above].text)
        if len(heading) == 1 and _HISTORY_HEADING.fullmatch(heading[0].text) and heading[0].start < own.end:
            return True
    return False


def _value_under(line: Line, own: Cell, take: Take[T], stop: Wordings) -> Found[T] | None:
    """A value that fills a cell of ``line`` under ``own``; not another label ("Customer Name:" over "Statement Date"
    gave the customer's name as "Statement Date")."""
    for cell in cells(line.text):
        if cell.start < own.end and own.start < cell.end:
            found = take(cell.text)
            if found is not None and _whole(cell.text, found) and stop.pattern.match(fold(cell.text)) is None:
                return found
    return None


def _whole(text: str, found: Found[T]) -> bool:
    return only_currency_marks(text[: found.start]) and only_currency_marks(text[found.end :])


def choose(candidates: Sequence[Candidate[T]], *, key: Callable[[T], object] | None = None) -> tuple[T | None, bool]:
    """The value of the best-labelled, earliest candidate, and whether others disagree (compared by ``key``:
    an account number printed "4471-0023-9" at the top and "447100239" on the stub is one account)."""
    if not candidates:
        return None, False
    best = min(candidates, key=lambda c: (c.priority, c.line))
    same: Callable[[T], object] = key or (lambda value: value)
    return best.value, any(same(c.value) != same(best.value) for c in candidates)
