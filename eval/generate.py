"""Generate the synthetic eval set, and sample bills for the mock connector.

    python -m eval.generate DIR      # writes NAME.{pdf,txt,png,jpg} + NAME.expected.json

Deterministic: the same code writes the same set (seeded by case name).
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from eval import adversarial, render_image, render_text
from eval.brands import KNOWN, UNKNOWN, Brand, billing_system, day_month_numeric, us_numeric
from eval.render_pdf import LAYOUTS
from eval.synth import BillFacts, in_an_accounts_month, make_facts, rng_for
from shared.bill import NormalizedBill, Provider

Category = Literal["known", "unknown", "adversarial"]
SAMPLE_LAYOUTS = ("classic", "grid", "columns", "two_page")


@dataclass(frozen=True)
class Case:
    name: str
    suffix: str
    data: bytes
    decision: Literal["accept", "review", "reject"]
    category: Category
    bill: NormalizedBill | None
    reasons: list[str] = field(default_factory=list)

    def golden(self) -> dict[str, Any]:
        return {
            "decision": self.decision,
            "category": self.category,
            "reasons": self.reasons,
            "bill": self.bill.model_dump(mode="json") if self.bill else None,
        }


def sample_bill(
    provider: Provider | None, *, seed: int | str, account_number: str | None = None
) -> tuple[bytes, str, NormalizedBill]:
    """A well-formed, auto-acceptable PDF bill; the layout varies with ``seed``.

    ``provider=None`` gives a bill from an invented provider (read by the generic rules).
    """
    rng = rng_for(f"sample:{provider}:{seed}")
    brand = KNOWN[provider] if provider is not None else rng.choice(UNKNOWN)
    facts = make_facts(brand, rng, account=account_number)
    layout = SAMPLE_LAYOUTS[rng.randrange(len(SAMPLE_LAYOUTS))]
    if account_number is not None:  # one account's bills, as the mock connector fetches them
        facts = in_an_accounts_month(facts, account_number, rng)
    return LAYOUTS[layout](facts), "application/pdf", facts.bill


def cases() -> Iterator[Case]:
    """Every case of the committed set, in a stable order."""
    for provider, brand in KNOWN.items():
        for layout in ("classic", "grid", "columns"):
            for n in range(3):
                yield _pdf(brand, f"{provider.value}_{layout}_{n}", layout, "known")
        yield _pdf(brand, f"{provider.value}_two_page", "two_page", "known")
    for brand in UNKNOWN:
        for layout in ("classic", "grid", "columns"):
            yield _pdf(brand, f"unknown_{brand.key}_{layout}", layout, "unknown")
    for brand in UNKNOWN[:2]:
        yield _pdf(brand, f"unknown_{brand.key}_two_page", "two_page", "unknown")
    yield from _emails()
    yield from _adversarial()


def _facts(brand: Brand, name: str) -> BillFacts:
    return make_facts(brand, rng_for(name))


def _pdf(brand: Brand, name: str, layout: str, category: Category) -> Case:
    facts = _facts(brand, name)
    return Case(name, ".pdf", LAYOUTS[layout](facts), "accept", category, facts.bill)


def _emails() -> Iterator[Case]:
    for brand, category in (
        (KNOWN[Provider.PGE], "known"),
        (UNKNOWN[0], "unknown"),
        (UNKNOWN[2], "unknown"),
    ):
        name = f"email_{brand.key}"
        facts = _facts(brand, name)
        yield Case(name, ".txt", render_text.email(facts), "accept", category, facts.bill)  # type: ignore[arg-type]
    for style, day in (("day_month", day_month_numeric), ("billing_system", billing_system)):
        name = f"email_{UNKNOWN[3].key}_{style}"
        facts = _facts(dataclasses.replace(UNKNOWN[3], date=day), name)
        yield Case(name, ".txt", render_text.email(facts), "accept", "unknown", facts.bill)
    # Every day 12 or less: nothing in the dates themselves says which order they are written in.
    for style, day in (("month_day", us_numeric), ("day_month", day_month_numeric)):
        name = f"email_{UNKNOWN[3].key}_{style}_early_days"
        facts = _early_days_facts(dataclasses.replace(UNKNOWN[3], date=day), name)
        yield Case(name, ".txt", render_text.email(facts), "accept", "unknown", facts.bill)
    yield _kgal_minimum()
    yield _stub_account()


def _early_days_facts(brand: Brand, name: str) -> BillFacts:
    """The first of ``name``'s seeded bills whose dates all fall on a 12th or earlier (one in fifteen)."""
    for attempt in itertools.count():
        facts = _facts(brand, f"{name}:{attempt}")
        b = facts.bill
        dates = (b.bill_period_start, b.bill_period_end, b.statement_date, b.due_date)
        if all(d is not None and d.day <= 12 for d in dates):
            return facts
    raise AssertionError("unreachable")


def _ambiguous_dates() -> Case:
    """A day-first bill whose every date reads as a bill month first as well (1 Feb - 2 Mar, or 2 Jan -
    3 Feb; issued 3 March, due 4 April either way), with nothing to say which: stored month first, its
    period was a month off."""
    facts = _facts(dataclasses.replace(UNKNOWN[3], date=day_month_numeric), "adv_ambiguous_dates")
    dates = {
        "bill_period_start": date(2026, 2, 1),
        "bill_period_end": date(2026, 3, 2),
        "statement_date": date(2026, 3, 3),
        "due_date": date(2026, 4, 4),
    }
    facts = dataclasses.replace(facts, bill=facts.bill.model_copy(update=dates))
    data = render_text.email(facts)
    return Case("adv_ambiguous_dates", ".txt", data, "review", "adversarial", facts.bill, ["ambiguous_date_order"])


def _kgal_minimum() -> Case:
    """A water bill counting in thousands of gallons, with the gallons its minimum charge covers a line
    below: "Minimum 2,000 gallons" is no reading (it disagreed with the bill's own, and went to review)."""
    name = "email_cascade_kgal_minimum"
    facts = _facts(UNKNOWN[1], name)
    (meter,) = facts.meters
    printed = f"Usage this period: {meter.usage:,} gal (meter {meter.number})"
    kgal = f"Usage this period (kgal): {Decimal(meter.usage) / 1000} (meter {meter.number})"
    minimum = "Minimum 2,000 gallons included in the customer charge"
    text = render_text.email(facts).decode().replace(printed, f"{kgal}\n{minimum}")
    assert kgal in text
    return Case(name, ".txt", text.encode(), "accept", "unknown", facts.bill)


def _stub_account() -> Case:
    """A remittance line that prints the account number without its spaces ("SG12345678" for "SG 12345
    678"): the same account, read as a second value it sent the bill to review."""
    name = "email_summit_stub_account"
    facts = _facts(UNKNOWN[2], name)
    account, total = facts.bill.account_number, facts.bill.total_amount
    assert account is not None and total is not None
    stub = f"Remittance: Account {account.replace(' ', '')}   Amount due {UNKNOWN[2].money(total)}"
    text = render_text.email(facts).decode() + f"\n{stub}\n"
    return Case(name, ".txt", text.encode(), "accept", "unknown", facts.bill)


def _dollars_of_another_country() -> Case:
    """An Australian bill prints "$" and its ABN: accepted, its Australian dollars were stored as US ones."""
    name = "adv_australian_dollars"
    brand = dataclasses.replace(
        UNKNOWN[0],
        key="coastal",
        name="Coastal Energy Pty Ltd",
        address="Level 3, 120 Collins St, Melbourne VIC 3000   ABN 41 123 456 789",
        date=day_month_numeric,
    )
    facts = _facts(brand, name)
    facts = dataclasses.replace(facts, bill=facts.bill.model_copy(update={"currency": "AUD"}))
    return Case(name, ".pdf", LAYOUTS["classic"](facts), "review", "adversarial", facts.bill, ["non_usd_currency"])


def _adversarial() -> Iterator[Case]:
    duke, coned, sfpuc = KNOWN[Provider.DUKE], KNOWN[Provider.CONED], KNOWN[Provider.SFPUC]
    yield Case(
        "adv_receipt",
        ".pdf",
        adversarial.receipt(rng_for("receipt")),
        "review",
        "adversarial",
        None,
        ["not_a_bill"],
    )
    for name, brand in (
        ("adv_sum_mismatch_duke", duke),
        ("adv_sum_mismatch_northwind", UNKNOWN[0]),
    ):
        printed, data = adversarial.sum_mismatch(_facts(brand, name))
        yield Case(name, ".pdf", data, "review", "adversarial", printed.bill, ["sum_mismatch"])
    printed, data = adversarial.balance_mismatch(_facts(coned, "adv_balance_mismatch"))
    yield Case(
        "adv_balance_mismatch",
        ".pdf",
        data,
        "review",
        "adversarial",
        printed.bill,
        ["balance_mismatch"],
    )
    scans: tuple[tuple[str, str, Callable[[BillFacts], bytes]], ...] = (
        ("adv_scan_pdf", ".pdf", render_image.image_pdf),
        ("adv_scan_png", ".png", render_image.png),
        ("adv_photo_jpg", ".jpg", render_image.jpeg),
    )
    for name, suffix, render in scans:
        facts = _facts(sfpuc if suffix == ".png" else coned, name)
        yield Case(name, suffix, render(facts), "review", "adversarial", facts.bill, ["no_text_layer"])
    yield _ambiguous_dates()
    yield _dollars_of_another_country()
    yield Case("adv_empty", ".pdf", b"", "reject", "adversarial", None, ["empty_file"])
    yield Case(
        "adv_corrupt",
        ".pdf",
        adversarial.corrupt_pdf(rng_for("corrupt")),
        "reject",
        "adversarial",
        None,
        ["corrupt_file"],
    )
    yield Case(
        "adv_docx_renamed",
        ".pdf",
        adversarial.renamed_docx(),
        "reject",
        "adversarial",
        None,
        ["unsupported_type"],
    )
    yield Case(
        "adv_too_many_pages",
        ".pdf",
        adversarial.too_many_pages(),
        "reject",
        "adversarial",
        None,
        ["too_many_pages"],
    )


def write_set(directory: Path) -> list[Case]:
    directory.mkdir(parents=True, exist_ok=True)
    written = list(cases())
    for case in written:
        (directory / f"{case.name}{case.suffix}").write_bytes(case.data)
        golden = json.dumps(case.golden(), indent=2, sort_keys=True) + "\n"
        (directory / f"{case.name}.expected.json").write_text(golden, encoding="utf-8")
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.generate", description=__doc__.splitlines()[0])
    parser.add_argument("directory", type=Path, help="where to write the bills and golden files")
    args = parser.parse_args(argv)
    written = write_set(args.directory)
    size = sum(len(c.data) for c in written)
    print(f"wrote {len(written)} bills ({size / 1024:.0f} KiB) to {args.directory}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
