"""Hand-computed assessments: each duty form, preferences, currencies, valuation basis, de minimis, rounding."""

from datetime import date
from decimal import Decimal as D

import pytest

from clearway.errors import InvalidInput, NotFound
from clearway.tariff.calculation import DeclarationInput, GoodsItemInput
from clearway.tariff.duty import DutyNotComputable
from clearway.tariff.exchange import MissingExchangeRate
from clearway.tariff.units import MissingQuantity

from .conftest import ON


def decl(*items, currency="USD", incoterm="CIF", freight="0", insurance="0", on=ON, invoice_amount=None):
    return DeclarationInput(
        currency=currency,
        incoterm=incoterm,
        acceptance_date=on,
        goods_items=tuple(items),
        freight=D(freight),
        insurance=D(insurance),
        invoice_amount=None if invoice_amount is None else D(invoice_amount),
    )


def item(code, price, origin="CN", **kw):
    return GoodsItemInput(commodity_code=code, origin_country=origin, item_price=D(price), **kw)


def line(assessment, tax_type, index=0):
    return next(t for t in assessment.items[index].tax_lines if t.tax_type == tax_type)


def test_ad_valorem_duty_and_vat(make_calculator):
    a = make_calculator(vat_rate=D("10")).assess(decl(item("0201.10.50.10", "1000.00", net_mass_kg=D("100"))))
    duty = line(a, "duty")
    assert (duty.base, duty.amount, duty.rate_text, duty.measure_id) == (D("1000.00"), D("264.00"), "26.4%", 1)
    vat = line(a, "vat")
    assert (vat.base, vat.amount) == (D("1264.00"), D("126.40"))  # VAT on value + duty
    assert a.totals == {"duty": D("264.00"), "excise": D("0.00"), "vat": D("126.40")}


def test_compound_duty(make_calculator):
    # 3.3¢/kg * 250 kg = 8.25; 2.1% * 600.00 = 12.60; total 20.85
    a = make_calculator().assess(decl(item("04069012", "600.00", net_mass_kg=D("250"))))
    duty = line(a, "duty")
    assert duty.amount == D("20.85") and duty.quantity == D("250") and duty.quantity_unit == "kg"


def test_specific_duty_with_unit_conversion(make_calculator):
    # 1,200 bottles of 750 ml declared as 900,000 ml = 900 l; 6.3¢/liter -> 56.70
    a = make_calculator().assess(
        decl(item("22042150", "3000.00", supplementary_quantity=D("900000"), supplementary_unit="ml"))
    )
    assert line(a, "duty").amount == D("56.70")
    # excise 1.07 USD/l * 900 = 963.00; VAT 5% (the tariff's VAT measure) on 3000 + 56.70 = 152.835 -> 152.84
    assert line(a, "excise").amount == D("963.00")
    vat = line(a, "vat")
    assert (vat.base, vat.amount, vat.measure_id) == (D("3056.70"), D("152.84"), 7)


def test_excise_in_vat_base_when_configured(make_calculator):
    a = make_calculator(vat_base_includes_excise=True).assess(
        decl(item("22042150", "3000.00", supplementary_quantity=D("900"), supplementary_unit="l"))
    )
    assert line(a, "vat").base == D("4019.70")  # 3000 + 56.70 + 963.00


def test_dozen_pairs_conversion(make_calculator):
    # 60 pairs = 5 doz. pr.: 5 * 1.20 = 6.00; 5% * 200 = 10.00 -> 16.00
    a = make_calculator().assess(
        decl(item("42032910", "200", supplementary_quantity=D("60"), supplementary_unit="prs."))
    )
    assert line(a, "duty").amount == D("16.00")


def test_missing_quantity_for_specific_duty_is_a_clear_error(make_calculator):
    with pytest.raises(MissingQuantity, match="per liter"):
        make_calculator().assess(decl(item("22042150", "100", net_mass_kg=D("90"))))


def test_preference_granted(make_calculator):
    a = make_calculator().assess(decl(item("02011050", "1000", origin="KR", preference_claimed=True)))
    assert line(a, "duty").amount == D("0.00") and line(a, "duty").measure_id == 2
    assert a.items[0].preference.startswith("granted: KR")


def test_preference_not_claimed_pays_third_country_rate(make_calculator):
    a = make_calculator().assess(decl(item("02011050", "1000", origin="KR")))
    assert line(a, "duty").amount == D("264.00") and a.items[0].preference is None


def test_preference_refused_origin_not_covered(make_calculator):
    a = make_calculator().assess(decl(item("02011050", "1000", origin="CN", preference_claimed=True)))
    assert line(a, "duty").amount == D("264.00")
    assert a.items[0].preference.startswith("refused") and "CN" in a.items[0].preference


def test_preference_refused_programme_lapsed(make_calculator):
    # Nepal is a GSP (A) beneficiary, but GSP lapsed on 31 Dec 2020.
    a = make_calculator().assess(decl(item("02011050", "1000", origin="NP", preference_claimed=True)))
    assert line(a, "duty").amount == D("264.00")
    assert "not in force" in a.items[0].preference
    from dataclasses import replace

    from clearway.tariff.calculation import CalculationPolicy, Calculator
    from clearway.tariff.index import TariffIndex

    from .conftest import RECORDS

    older = TariffIndex([replace(r, valid_from=date(2019, 1, 1)) for r in RECORDS])
    calc = Calculator(tariff=older, rates=make_calculator().rates, policy=CalculationPolicy())
    granted = calc.assess(decl(item("02011050", "1000", origin="NP", preference_claimed=True), on=date(2020, 6, 1)))
    assert granted.items[0].preference.startswith("granted: A (GSP)")


def test_preference_programme_named_must_match(make_calculator):
    a = make_calculator().assess(
        decl(item("02011050", "1000", origin="MX", preference_claimed=True, preference_programme="KR"))
    )
    assert a.items[0].preference.startswith("refused")
    a = make_calculator().assess(
        decl(item("02011050", "1000", origin="MX", preference_claimed=True, preference_programme="S"))
    )
    assert a.items[0].preference.startswith("granted: S (USMCA)")


def test_preference_by_country_list(make_calculator):
    a = make_calculator().assess(decl(item("61091000", "100", origin="JO", preference_claimed=True)))
    assert line(a, "duty").amount == D("0.00")
    b = make_calculator().assess(decl(item("61091000", "100", origin="EG", preference_claimed=True)))
    assert line(b, "duty").amount == D("16.50")


def test_column2_origin_rate(make_calculator):
    a = make_calculator().assess(decl(item("02011050", "1000", origin="RU")))
    assert line(a, "duty").amount == D("311.00") and line(a, "duty").measure_id == 3


def test_foreign_currency_invoice_uses_rate_in_force_on_acceptance(make_calculator):
    # EUR 1,000 on 2 March 2026: rate from 1 March 1.2000 -> USD 1,200.00; duty 26.4% = 316.80
    a = make_calculator().assess(decl(item("02011050", "1000"), currency="EUR"))
    assert a.exchange_rate == D("1.2000") and a.customs_value == D("1200.00")
    assert line(a, "duty").amount == D("316.80")
    # On 28 February the January rate applies
    b = make_calculator().assess(decl(item("02011050", "1000"), currency="EUR", on=date(2026, 2, 28)))
    assert b.customs_value == D("1165.00")


def test_missing_exchange_rate_is_an_error(make_calculator):
    with pytest.raises(MissingExchangeRate, match="GBP"):
        make_calculator().assess(decl(item("02011050", "1000"), currency="GBP"))
    with pytest.raises(MissingExchangeRate, match="first rate starts 2026-01-01"):
        make_calculator().assess(decl(item("02011050", "1000"), currency="EUR", on=date(2025, 12, 31)))


def test_fob_invoice_on_cif_basis_adds_freight_and_insurance_apportioned_by_value(make_calculator):
    a = make_calculator().assess(
        decl(
            item("02011050", "750"),
            item("04069012", "250", net_mass_kg=D("10")),
            incoterm="FOB",
            freight="100",
            insurance="20",
        )
    )
    # 120 apportioned 3:1 -> 90 and 30
    assert [i.customs_value for i in a.items] == [D("840.00"), D("280.00")]
    assert a.customs_value == D("1120.00")


def test_cif_invoice_on_cif_basis_adds_nothing_and_cfr_adds_insurance(make_calculator):
    a = make_calculator().assess(decl(item("02011050", "1000"), incoterm="CIF", freight="100", insurance="20"))
    assert a.customs_value == D("1000.00")
    b = make_calculator().assess(decl(item("02011050", "1000"), incoterm="CFR", freight="100", insurance="20"))
    assert b.customs_value == D("1020.00")


def test_fob_basis_deducts_transport_included_in_a_cif_price(make_calculator):
    calc = make_calculator(valuation_basis="FOB")
    assert calc.assess(
        decl(item("02011050", "1000"), incoterm="CIF", freight="100", insurance="20")
    ).customs_value == D("880.00")
    assert calc.assess(
        decl(item("02011050", "1000"), incoterm="FOB", freight="100", insurance="20")
    ).customs_value == D("1000.00")
    with pytest.raises(InvalidInput, match="exceed"):
        calc.assess(decl(item("02011050", "10"), incoterm="CIF", freight="100"))


def test_de_minimis_duty_and_vat(make_calculator):
    calc = make_calculator(de_minimis_duty=D("800"), de_minimis_vat=D("150"), vat_rate=D("20"))
    a = calc.assess(decl(item("02011050", "500")))
    assert line(a, "duty").amount == D("0.00") and line(a, "duty").note.startswith("de minimis")
    assert line(a, "vat").amount == D("100.00")  # 500 > 150: VAT due, on 500 + 0 duty
    b = calc.assess(decl(item("02011050", "150")))
    assert line(b, "vat").amount == D("0.00")
    c = calc.assess(decl(item("02011050", "800.01")))
    assert line(c, "duty").amount == D("211.20")  # above the threshold: 26.4% of 800.01 = 211.20264


def test_rounding_half_up_to_minor_unit(make_calculator):
    # 26.4% of 0.625 -> customs value 0.63 (half up), duty 0.16632 -> 0.17
    a = make_calculator().assess(decl(item("02011050", "0.625")))
    assert a.customs_value == D("0.63") and line(a, "duty").amount == D("0.17")
    # 26.4% of 1.25 = 0.33; of 12.50 = 3.30; of 0.9375 (customs value 0.94) = 0.24816 -> 0.25
    assert line(make_calculator().assess(decl(item("02011050", "0.9375"))), "duty").amount == D("0.25")


def test_national_currency_without_minor_unit(index, rates):
    from clearway.tariff.calculation import CalculationPolicy, Calculator
    from clearway.tariff.exchange import RateRecord, RateTable

    table = RateTable("JPY", [RateRecord("USD", date(2026, 1, 1), D("155.77"))])
    calc = Calculator(tariff=index, rates=table, policy=CalculationPolicy(national_currency="JPY"))
    a = calc.assess(decl(item("02011050", "10.00"), currency="USD"))
    assert a.customs_value == D("1558")  # 1557.7 -> 1558 yen, babel: JPY has no minor unit
    assert line(a, "duty").amount == D("411")  # 26.4% of 1558 = 411.312


def test_invoice_amount_must_match_items(make_calculator):
    with pytest.raises(InvalidInput, match="invoice_amount"):
        make_calculator().assess(decl(item("02011050", "10"), invoice_amount="11"))


def test_unknown_code_and_unreadable_rate(make_calculator):
    with pytest.raises(NotFound, match=r"0301\.11"):
        make_calculator().assess(decl(item("0301.11.00", "10")))
    with pytest.raises(DutyNotComputable, match="officer"):
        make_calculator().assess(decl(item("9801.00.10", "10")))


def test_unknown_incoterm(make_calculator):
    with pytest.raises(InvalidInput, match="incoterm"):
        make_calculator().assess(decl(item("02011050", "10"), incoterm="XYZ"))


def test_batch_path_matches_single(make_calculator):
    calc = make_calculator(vat_rate=D("7"))
    declarations = [
        decl(item("02011050", str(100 + n)), item("04069012", "50", net_mass_kg=D(n + 1))) for n in range(20)
    ]
    assert calc.assess_many(declarations) == [calc.assess(d) for d in declarations]


def test_declaration_document_view_and_freight_in_another_currency(make_calculator):
    from clearway.tariff.calculation import declaration_input

    document = {
        "invoice": {"currency": "EUR", "amount": "1000.00"},
        "freight": {"currency": "USD", "amount": "120.00"},
        "incoterm": "fob",
        "goods_items": [
            {
                "sequence": 1,
                "hs_code": "0201105010",
                "country_of_origin": "kr",
                "preference_code": "KR",
                "net_mass_kg": "100.000",
                "item_price": "750.00",
            },
            {
                "sequence": 2,
                "hs_code": "04069012",
                "country_of_origin": "FR",
                "preference_code": "100",
                "net_mass_kg": "10.000",
                "item_price": "250.00",
                "supplementary_quantity": {"quantity": "10", "unit": "kg"},
            },
        ],
    }
    view = declaration_input(document, acceptance_date=ON)
    assert view.goods_items[0].preference_claimed and view.goods_items[0].preference_programme == "KR"
    assert not view.goods_items[1].preference_claimed
    a = make_calculator().assess(view)
    # EUR 750 / 250 at 1.20 = USD 900 / 300; USD 120 freight apportioned 3:1 -> 90 / 30
    assert [i.customs_value for i in a.items] == [D("990.00"), D("330.00")]
    assert a.items[0].preference.startswith("granted: KR")
