"""Work counted, never timed: a compiled pattern's stand-in that adds up the characters it is asked to look
through."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator


class ScanCounter:
    """A compiled pattern that counts the characters it is asked to look through."""

    def __init__(self, pattern: re.Pattern[str]) -> None:
        self.pattern = pattern
        self.scanned = 0

    def search(self, string: str, pos: int = 0, endpos: int = sys.maxsize) -> re.Match[str] | None:
        self._count(string, pos, endpos)
        return self.pattern.search(string, pos, endpos)

    def match(self, string: str, pos: int = 0, endpos: int = sys.maxsize) -> re.Match[str] | None:
        self._count(string, pos, endpos)
        return self.pattern.match(string, pos, endpos)

    def fullmatch(self, string: str, pos: int = 0, endpos: int = sys.maxsize) -> re.Match[str] | None:
        self._count(string, pos, endpos)
        return self.pattern.fullmatch(string, pos, endpos)

    def finditer(self, string: str, pos: int = 0, endpos: int = sys.maxsize) -> Iterator[re.Match[str]]:
        self._count(string, pos, endpos)
        return self.pattern.finditer(string, pos, endpos)

    def _count(self, string: str, pos: int, endpos: int) -> None:
        self.scanned += max(0, min(endpos, len(string)) - pos)
