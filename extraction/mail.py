"""A bill e-mailed and saved whole (an ``.eml``), read as its recipient reads it, not as the mail encodes it.

A mail's body may be quoted-printable (long lines broken at 76 characters with a trailing ``=``, the euro sign
written ``=E2=82=AC``), base64, or HTML (``&euro;``, ``<br>``): read raw, a due date broken across two lines was
taken from the next one, and a euro bill in HTML read as dollars, both accepted. A message whose body is plain text
is read as it is, headers and all: its sender names the provider.
"""

from __future__ import annotations

import email
import email.policy
import html
import itertools
import re
from email.message import EmailMessage
from html.parser import HTMLParser

_HEADER_BLOCK = 16 * 1024
"""How far into the file the headers are looked for: a mail's headers end within a few kilobytes."""
_FIRST_HEADER = re.compile(rb"[\x21-\x39\x3b-\x7e]+:[ \t]")
_MIME = re.compile(rb"^(?:mime-version|content-type|content-transfer-encoding):", re.IGNORECASE | re.MULTILINE)
_SHOWN = ("From", "To", "Date", "Subject")
"""The headers a mail program shows above the body: the sender's name and address say whose bill it is."""
_ENTITY = re.compile(r"&(?:#\d{2,7}|#x[0-9a-f]{2,6}|[a-z]{2,8});", re.IGNORECASE)
_BOUNDARY = re.compile(rb'boundary\s*=\s*"?([^";\s]+)', re.IGNORECASE)
_DELIMITER = re.compile(rb"^--([^\r\n]*)", re.MULTILINE)
_MAX_PARTS = 200
"""More parts than any bill's mail has (a body, its HTML twin, a few attachments): past it, the file is read as
text, not parsed part by part."""


def mail_text(data: bytes) -> str | None:
    """The shown headers and the text body of a MIME message whose body is encoded or HTML; None for anything else
    (a plain-text mail too), which is read as the text it is.

    None too for a mail of more than ``_MAX_PARTS`` parts, or one the standard library's parser fails on: that parser
    is pure Python in the worker's own process, and raises errors of any type on malformed mail (``AttributeError``
    on a broken address, ``RecursionError`` on nested comments or parts). Each failed the step, retried for 30
    minutes, and 280,000 empty parts in 2 MB took 17 s of CPU (a security probe). Read as text, such a file meets
    the text limits or goes to review."""
    head = data[:_HEADER_BLOCK].split(b"\n\n", 1)[0].split(b"\r\n\r\n", 1)[0]
    if not _FIRST_HEADER.match(head) or not _MIME.search(head) or _too_many_parts(data):
        return None
    try:
        return _read(data)
    except MemoryError:
        raise
    except Exception:  # noqa: BLE001 - see the docstring: any type, for a file the reader cannot mend
        return None


def _too_many_parts(data: bytes) -> bool:
    """Whether ``data`` delimits more parts than a bill's mail has: lines of ``--`` and a boundary the mail declares,
    counted in one pass (not a line of dashes: a table's rule in a bill's text, 73D)."""
    boundaries = {match[1] for match in itertools.islice(_BOUNDARY.finditer(data), _MAX_PARTS + 1)}
    if len(boundaries) > _MAX_PARTS:
        return True
    delimiters = (line for line in _DELIMITER.finditer(data) if line[1].rstrip().removesuffix(b"--") in boundaries)
    return next(itertools.islice(delimiters, _MAX_PARTS, None), None) is not None


def _read(data: bytes) -> str | None:
    message = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(message, EmailMessage)  # policy.default makes one
    body = message.get_body(preferencelist=("plain", "html"))
    if body is None:
        return None
    encoded = body.get("Content-Transfer-Encoding", "").strip().lower() in ("quoted-printable", "base64")
    is_html = body.get_content_subtype() == "html"
    if not (encoded or is_html or message.is_multipart()):
        return None
    content = body.get_content()  # a charset Python does not know, a broken encoding: read raw (``mail_text``)
    if not isinstance(content, str):
        return None
    shown = "\n".join(f"{name}: {message[name]}" for name in _SHOWN if message[name] is not None)
    return f"{shown}\n\n{_text_of_html(content) if is_html else content}"


def unescaped(text: str) -> str:
    """``text`` with HTML's character references read (``&euro;`` as €), where it has any: a bill copied out of an
    HTML mail writes its euro sign so, and a reader of the signs alone took it for dollars."""
    return html.unescape(text) if _ENTITY.search(text) else text


class _TextOfHtml(HTMLParser):
    """An HTML body's text laid out in lines as a browser shows it: a line for each break, paragraph or table row,
    cells apart, nothing of scripts or styles."""

    _LINE = frozenset({"br", "p", "div", "tr", "li", "table", "h1", "h2", "h3", "h4", "h5", "h6", "pre", "hr"})
    _CELL = frozenset({"td", "th"})
    _HIDDEN = frozenset({"script", "style", "head", "title"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._HIDDEN:
            self._hidden += 1
        elif tag in self._LINE:
            self.parts.append("\n")
        elif tag in self._CELL:
            self.parts.append("   ")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._HIDDEN:
            self._hidden = max(0, self._hidden - 1)
        elif tag in self._LINE:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.parts.append(data)


def _text_of_html(markup: str) -> str:
    parser = _TextOfHtml()
    parser.feed(markup)
    parser.close()
    return re.sub(r"\n{3,}", "\n\n", "".join(parser.parts)).strip() + "\n"
