"""The ``mock`` connector: realistic sample bills for pge, coned, duke and sfpuc.

Bills come from the eval generator, seeded by the job id, so the same job always
gets byte-identical bytes (safe to read twice) and different jobs get
different statements.
"""

from __future__ import annotations

from functools import lru_cache
from urllib.parse import parse_qs, quote, unquote, urlparse

from activities.connectors.base import AccountInfo, BillNotAvailable, SourceDocument
from eval.generate import sample_bill
from shared.bill import Provider


class MockConnector:
    scheme = "mock"

    def locate(self, account: AccountInfo, *, job_id: str) -> str:
        if account.provider is None:
            raise BillNotAvailable("the mock connector has no bills for accounts without a known provider")
        # Quoted: a "#" or "?" in the number would cut it short, and every job read the same bill.
        return f"mock://{account.provider}/{quote(account.account_number, safe='')}?seed={job_id}"

    def read(self, source_uri: str) -> SourceDocument:
        parsed = urlparse(source_uri)
        try:
            provider = Provider(parsed.netloc)
        except ValueError:
            raise BillNotAvailable(f"the mock connector has no bills for provider {parsed.netloc!r}") from None
        account_number = unquote(parsed.path.lstrip("/"))
        seed = parse_qs(parsed.query).get("seed", [""])[0]
        data, content_type = _render(provider, seed, account_number)
        return SourceDocument(source_uri=source_uri, data=data, content_type=content_type)


@lru_cache(maxsize=128)
def _render(provider: Provider, seed: str, account_number: str) -> tuple[bytes, str]:
    """Fetch and store both read the bill: render each one once (rendering a PDF costs milliseconds)."""
    data, content_type, _expected = sample_bill(provider, seed=seed, account_number=account_number)
    return data, content_type
