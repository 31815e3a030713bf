"""Windows-1252 as browsers read it, for the text reader and the currency reader alike. Stdlib only: the
checks workflow code runs import the currency reader."""

from __future__ import annotations

WINDOWS_1252 = "".join(bytes([byte]).decode("cp1252", errors="ignore") or chr(byte) for byte in range(256))
"""Windows-1252 as browsers read it (WHATWG): the five bytes it leaves undefined read as in Latin-1."""
