"""Bills from Britain and the EU: a person confirms each (``non_usd_currency``), from the figures the rules read, so
those figures are read where the words are known and the reason says why where they are not (76B)."""

from __future__ import annotations

from decimal import Decimal

from api.review_reasons import describe
from extraction.pipeline import analyze
from shared.settings import ExtractorMode, Settings

OFFLINE = Settings(extractor=ExtractorMode.RULES)

BRITISH = """\
Northfield Energy Ltd
PO Box 4021, Leeds LS1 4AP

Your electricity bill
Bill date: 18/03/2026
Account number: 8500 1234 5678
Billing period: 14/02/2026 to 15/03/2026 (30 days)

Account summary
Balance brought forward                 £98.40
Payment received - thank you           -£98.40
Charges for this period                £104.79
Amount to pay                          £104.79
Payment due by 02/04/2026

Units used         342 kWh
Electricity 342 kWh at 24.50p per kWh          £83.79
Standing charge 30 days at 53.35p per day      £16.01
VAT at 5%                                       £4.99
"""


def test_a_balance_brought_forward_is_the_previous_balance() -> None:
    """Unread, the balance's sum missed by £98.40: "previous balance − payments + current charges ≠ total", on a bill
    that adds up."""
    report = analyze(BRITISH.encode(), provider_hint=None, settings=OFFLINE)
    assert "balance_mismatch" not in report.reasons and "non_usd_currency" in report.reasons
    assert report.bill is not None and report.bill.previous_balance == Decimal("98.40")


def test_a_total_to_pay_is_the_amount_due() -> None:
    text = BRITISH.replace("Amount to pay  ", "Total to pay   ")
    report = analyze(text.encode(), provider_hint=None, settings=OFFLINE)
    assert report.bill is not None and report.bill.total_amount == Decimal("104.79")


GERMAN = """\
Stadtwerke Feldkirchen GmbH
Rathausplatz 1, 85622 Feldkirchen

Stromrechnung
Rechnungsdatum: 3. März 2026
Kundennummer: 100 448 201
Leistungszeitraum: 1. Februar 2026 bis 28. Februar 2026

Verbrauch: 246 kWh   Zähler 1ESY1160999

Arbeitspreis 246 kWh x 33,50 ct        82,41 €
Grundpreis                             12,90 €
MwSt 19 %                              18,11 €
Rechnungsbetrag                       113,42 €

Fällig am 17. März 2026
"""


def test_a_bill_in_words_the_reader_does_not_know_is_not_called_no_bill() -> None:
    """ "No utility bill was found in this document: reject it" told the reviewer of a German bill to throw it away."""
    report = analyze(GERMAN.encode(), provider_hint=None, settings=OFFLINE)
    assert (report.decision, report.reasons) == ("review", ["non_usd_currency", "foreign_bill_unread"])
    assert "enter its values" in describe("foreign_bill_unread")
    receipt = GERMAN.replace("€", "$").replace("MwSt 19 %", "Tip")
    assert "not_a_bill" in analyze(receipt.encode(), provider_hint=None, settings=OFFLINE).reasons
