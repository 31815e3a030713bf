"""Who may call what: the expected role x endpoint matrix (``python -m tests.security.access`` prints it)."""

from __future__ import annotations

from api.auth import Role

PUBLIC: frozenset[Role] = frozenset()
"""No key needed: every caller, anonymous included, is let through."""

EVERYONE = frozenset(Role)
ADMIN = frozenset({Role.ADMIN})
INGESTERS = frozenset({Role.ADMIN, Role.INGEST})
REVIEWERS = frozenset({Role.ADMIN, Role.REVIEWER})
ARTIFACT_READERS = frozenset({Role.ADMIN, Role.INGEST, Role.REVIEWER})
DASHBOARD_READERS = frozenset({Role.ADMIN, Role.VIEWER})

EXPECTED: dict[tuple[str, str], frozenset[Role]] = {
    ("GET", "/health"): PUBLIC,
    ("GET", "/health/ready"): PUBLIC,
    ("GET", "/health/live"): PUBLIC,
    ("GET", "/docs"): PUBLIC,
    ("GET", "/openapi.json"): PUBLIC,
    ("POST", "/customers"): ADMIN,
    ("GET", "/customers"): EVERYONE,
    ("GET", "/customers/{customer_id}"): EVERYONE,
    ("PATCH", "/customers/{customer_id}"): ADMIN,
    ("GET", "/customers/{customer_id}/dashboard"): DASHBOARD_READERS,
    ("POST", "/utility-accounts"): INGESTERS,
    ("GET", "/utility-accounts"): EVERYONE,
    ("GET", "/utility-accounts/{account_id}"): EVERYONE,
    ("PATCH", "/utility-accounts/{account_id}"): INGESTERS,
    ("POST", "/jobs"): INGESTERS,
    ("POST", "/agent/run"): INGESTERS,
    ("POST", "/ingest/run"): INGESTERS,
    ("POST", "/bills"): INGESTERS,
    ("GET", "/bills/{bill_id}"): EVERYONE,
    ("POST", "/bills/{bill_id}/reopen"): REVIEWERS,
    ("GET", "/jobs"): EVERYONE,
    ("GET", "/jobs/{job_id}"): EVERYONE,
    ("GET", "/agent/result/{job_id}"): EVERYONE,
    ("GET", "/jobs/{job_id}/artifact"): ARTIFACT_READERS,
    ("GET", "/reviews"): REVIEWERS,
    ("GET", "/reviews/{job_id}"): REVIEWERS,
    ("POST", "/reviews/{job_id}"): REVIEWERS,
    ("POST", "/codec/decode"): ADMIN,
    ("POST", "/codec/encode"): ADMIN,
    ("GET", "/secrets/check"): ADMIN,
}

SKIPPED_PREFIXES = ("/ui",)
"""Built elsewhere; this matrix asserts nothing about them."""

ROLES = list(Role)


def expected_cell(allowed: frozenset[Role], role: Role | None) -> bool:
    """Whether ``role`` (None: no key) is let through."""
    if allowed is PUBLIC:
        return True
    return role is not None and role in allowed


def markdown(cells: dict[tuple[str, str], dict[Role | None, str]] | None = None) -> str:
    """The matrix as a markdown table; with ``cells``, each mark carries the status code observed."""
    header = ["Method", "Path", *[str(r) for r in ROLES], "no key"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for (method, path), allowed in sorted(EXPECTED.items(), key=lambda item: (item[0][1], item[0][0])):
        row = [method, f"`{path}`"]
        for role in [*ROLES, None]:
            mark = "✅" if expected_cell(allowed, role) else ("🔒" if role is None else "⛔")
            observed = (cells or {}).get((method, path), {}).get(role)
            row.append(f"{mark} {observed}" if observed else mark)
        lines.append("| " + " | ".join(row) + " |")
    lines.append("")
    lines.append("✅ allowed (any status but 401/403) · ⛔ 403 · 🔒 401; numbers are the status codes observed.")
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown())
