"""Typed search attributes: how operators find jobs in Temporal's visibility store."""

from typing import Any

from temporalio.common import SearchAttributeKey

REVIEW_STATUS = SearchAttributeKey.for_keyword("ReviewStatus")
PROVIDER = SearchAttributeKey.for_keyword("Provider")
CUSTOMER_ID = SearchAttributeKey.for_int("CustomerId")
JOB_STATUS = SearchAttributeKey.for_keyword("JobStatus")

ALL: list[SearchAttributeKey[Any]] = [REVIEW_STATUS, PROVIDER, CUSTOMER_ID, JOB_STATUS]


def dev_server_flags() -> list[str]:
    """``--search-attribute Name=Type`` flags for ``temporal server start-dev``."""
    kinds = {"KEYWORD": "Keyword", "INT": "Int"}
    flags: list[str] = []
    for key in ALL:
        flags += ["--search-attribute", f"{key.name}={kinds[key.indexed_value_type.name]}"]
    return flags
