"""The shipped US HTS: loader rules of its README, programme splitting, parsed share."""

from datetime import date
from decimal import Decimal as D
from pathlib import Path

import pytest

from clearway.tariff.calculation import CalculationPolicy, Calculator, DeclarationInput, GoodsItemInput
from clearway.tariff.exchange import RateTable
from clearway.tariff.index import TariffIndex, TariffLineNotFound
from clearway.tariff.service import shipped_hts_path
from clearway.tariff.sources import read_hts, split_special

SHARED = Path("/work/shared/data/us-hts/hts_full.csv")
ON = date(2026, 6, 1)


@pytest.fixture(scope="module")
def hts():
    with shipped_hts_path().open(encoding="utf-8", newline="") as handle:
        return read_hts(handle, valid_from=date(2026, 1, 1))


@pytest.fixture(scope="module")
def hts_index(hts):
    return TariffIndex(hts.measures)


def test_shipped_file_is_the_shared_one():
    if SHARED.exists():
        assert shipped_hts_path().read_bytes() == SHARED.read_bytes()


def test_report_counts_and_parsed_share(hts):
    report = hts.report
    assert report.rows_read == 35_733
    assert report.texts_total == report.texts_parsed + sum(report.unparsed.values())
    assert report.parsed_share >= 0.99
    assert "See additional U.S. note 1" in report.unparsed


def test_full_descriptions_follow_the_indent(hts):
    lines = {line.code: line for line in hts.lines}
    assert lines["0101210010"].description == (
        "Live horses, asses, mules and hinnies: › Horses: › Purebred breeding animals › Males"
    )
    assert lines["0201105010"].units == "kg"


def test_split_special():
    assert split_special("Free (A,AU,BH, CL) 3.2% (JP)") == [("Free", ("A", "AU", "BH", "CL")), ("3.2%", ("JP",))]
    assert split_special("77.2¢/liter (S+)") == [("77.2¢/liter", ("S+",))]
    assert split_special("Free (A, AU)The rate applicable to the natural juice in heading 2009 (A*,D)")[1] == (
        "The rate applicable to the natural juice in heading 2009",
        ("A*", "D"),
    )


def test_ten_digit_line_inherits_rate_of_its_eight_digit_parent(hts_index):
    line = hts_index.resolve("0101.21.00.10", ON)
    assert line.third_country.record.code == "01012100" and line.third_country.record.duty_text == "Free"
    beef = hts_index.resolve("0201.10.50.10", ON)
    assert beef.third_country.record.duty_text == "26.4%"
    assert any("KR" in p.programmes for p in beef.preferences)
    assert beef.origin_rates[0].record.duty_text == "31.1%"


def test_hts_beef_from_korea_free_with_claim(hts_index):
    calc = Calculator(tariff=hts_index, rates=RateTable("USD"), policy=CalculationPolicy())

    def duty(origin, claimed):
        a = calc.assess(
            DeclarationInput(
                "USD",
                "CIF",
                ON,
                (
                    GoodsItemInput(
                        "0201.10.50.10", origin, D("10000"), net_mass_kg=D("1000"), preference_claimed=claimed
                    ),
                ),
            )
        )
        return a.items[0].tax_lines[0].amount, a.items[0].preference

    assert duty("KR", True) == (D("0.00"), "granted: KR (US-Korea FTA (KORUS))")
    assert duty("KR", False) == (D("2640.00"), None)
    amount, note = duty("BR", True)
    assert amount == D("2640.00") and note.startswith("refused")


def test_hts_compound_cheese_rate(hts_index):
    calc = Calculator(tariff=hts_index, rates=RateTable("USD"), policy=CalculationPolicy())
    # 0406.10.08.00 prints its own rate ($1.509/kg); there is no 8-digit row 0406.10.08
    with pytest.raises(TariffLineNotFound, match=r"0406\.10\.08\.00"):
        hts_index.resolve("0406.10.08", ON)
    a = calc.assess(
        DeclarationInput("USD", "CIF", ON, (GoodsItemInput("0406.10.08.00", "FR", D("1000"), net_mass_kg=D("100")),))
    )
    assert a.items[0].tax_lines[0].amount == D("150.90")
    # compound: $1.035/kg + 14.9% on 1,000 USD and 100 kg = 103.50 + 149.00
    b = calc.assess(
        DeclarationInput("USD", "CIF", ON, (GoodsItemInput("1901.10.36.00", "FR", D("1000"), net_mass_kg=D("100")),))
    )
    assert b.items[0].tax_lines[0].amount == D("252.50")
