"""A small hand-made tariff and rate table for the calculation tests."""

from datetime import date
from decimal import Decimal as D

import pytest

from clearway.tariff.calculation import CalculationPolicy, Calculator
from clearway.tariff.exchange import RateRecord, RateTable
from clearway.tariff.index import MeasureRecord, TariffIndex
from clearway.tariff.programmes import COLUMN2_COUNTRIES

START = date(2026, 1, 1)
ON = date(2026, 3, 2)


def m(code, measure_type, text, measure_id, **kw):
    return MeasureRecord(
        code=code,
        measure_type=measure_type,
        duty_text=text,
        valid_from=kw.pop("valid_from", START),
        measure_id=measure_id,
        source=kw.pop("source", "hts"),
        **kw,
    )


RECORDS = [
    # beef: 26.4% MFN, Free for KR/AU... (HTS symbols), column 2 31.1%
    m("02011050", "third_country", "26.4%", 1),
    m("02011050", "preference", "Free", 2, programme="A,KR,S"),
    m("02011050", "origin_rate", "31.1%", 3, programme="column2", countries=COLUMN2_COUNTRIES),
    # cheese: compound
    m("04069012", "third_country", "3.3¢/kg + 2.1%", 4),
    # wine: specific per litre; a national excise and a reduced VAT from a Clearway-format tariff
    m("22042150", "third_country", "6.3¢/liter", 5),
    m("22042150", "excise", "1.07 USD/liter", 6, source="clearway"),
    m("22042150", "vat", "5%", 7, source="clearway"),
    # gloves: per dozen pairs
    m("42032910", "third_country", "$1.20/doz. pr. + 5%", 8),
    # a preference defined by countries (Clearway format)
    m("61091000", "third_country", "16.5%", 9),
    m("61091000", "preference", "Free", 10, programme="EU-JO", countries=frozenset({"JO"}), source="clearway"),
    # an unreadable rate
    m("98010010", "third_country", "The rate applicable in the absence of this heading", 11),
]


@pytest.fixture
def index():
    return TariffIndex(RECORDS)


@pytest.fixture
def rates():
    return RateTable(
        "USD",
        [
            RateRecord("EUR", date(2026, 1, 1), D("1.1650")),
            RateRecord("EUR", date(2026, 3, 1), D("1.2000")),
            RateRecord("JPY", date(2026, 1, 1), D("0.006420")),
        ],
    )


@pytest.fixture
def make_calculator(index, rates):
    def build(**policy):
        return Calculator(tariff=index, rates=rates, policy=CalculationPolicy(**policy))

    return build
