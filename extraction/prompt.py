"""What Gemini is asked: the task, the output conventions, and the provider's quirks."""

from __future__ import annotations

from extraction.rules.templates import BY_PROVIDER
from shared.bill import Provider

_TASK = """You read one utility bill (electricity, gas or water) and return its fields as JSON.
Rules:
- Copy values exactly as printed; never compute or guess. Use null when a field is not printed.
- Dates as YYYY-MM-DD. Amounts as plain decimals with two places, e.g. "1234.56";
  credits negative.
- currency is the ISO 4217 code of the amounts (USD, CAD, EUR, GBP), never a symbol such as "$".
- total_amount is the total amount due now, not the previous balance, a past-due amount or a
  minimum payment. payments_received is the money received since the last bill, as a
  positive number.
- usage: one entry per commodity with the billed quantity and its unit (kWh, therm, CCF, gal, m3
  or GJ; a kilolitre is 1 m3); commodity is electricity, gas or water. Net-metered usage may be
  negative: keep its minus sign.
  Usage printed in multiples of a unit ("Usage (1,000 gal): 8") is multiplied out: 8000 gal;
  MWh as kWh (12.4 MWh: 12400 kWh), Mcf as CCF (5.2 Mcf: 52 CCF), cubic feet as CCF (1200 cubic
  feet: 12 CCF).
- line_items: each charge row of the current charges; category is one of supply, delivery,
  tax, fee, other; commodity is electricity, gas, water (sewer counts as water) or null.
- is_utility_bill is false for anything that is not a utility bill (receipts, letters, ads).
"""


def build_prompt(provider: Provider | None) -> str:
    template = BY_PROVIDER.get(provider) if provider else None
    if template is None:
        return _TASK
    return f"{_TASK}\nThis bill is from {template.name}. Known quirks: {template.quirks}\n"
