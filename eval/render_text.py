"""A bill as a plain-text e-mail, the way many providers send paperless statements."""

from __future__ import annotations

from decimal import Decimal

from eval.synth import BillFacts


def email(facts: BillFacts) -> bytes:
    b, brand = facts.bill, facts.brand
    assert b.total_amount is not None and b.current_charges is not None
    assert b.previous_balance is not None and b.payments_received is not None
    assert b.statement_date and b.bill_period_start and b.bill_period_end and b.due_date
    money, day = brand.money, brand.date
    domain = brand.website.split("/")[0].removeprefix("www.")
    lines = [
        f"From: {brand.name} <billing@{domain}>",
        f"Subject: Your {brand.name} statement is ready",
        "",
        f"Hello {facts.customer},",
        "",
        f"Your {brand.name} statement is now available.",
        "",
        f"Account number: {b.account_number}",
        f"Statement date: {day(b.statement_date)}",
        f"Billing period: {day(b.bill_period_start)} to {day(b.bill_period_end)}",
        f"Amount due: {money(b.total_amount)}",
        f"Due date: {day(b.due_date)}",
        "",
        "Account summary",
        f"  Previous balance:    {money(b.previous_balance)}",
        f"  Payments received:   {money(-b.payments_received)}",
        f"  Current charges:     {money(b.current_charges)}",
        "",
        "Current charges",
        *[f"  {item.description} ..... {money(item.amount)}" for item in b.line_items],
        f"  Total current charges ..... {money(sum((i.amount for i in b.line_items), Decimal(0)))}",
        "",
        *[f"Usage this period: {m.usage:,} {m.unit.value} (meter {m.number})" for m in facts.meters],
        "",
        f"Pay online at {brand.website} or call {brand.phone}.",
        "Please do not reply to this message.",
    ]
    return ("\n".join(lines) + "\n").encode("utf-8")
