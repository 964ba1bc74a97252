"""The declaration form's field names round-trip the declaration document (pure)."""

from __future__ import annotations

from clearway.declarations.schemas import DeclarationIn
from clearway.demo import sample_declaration
from clearway.web import forms


def test_a_document_survives_the_form_both_ways():
    doc = sample_declaration("FORM-1", items=3, seed=4)
    doc["goods_items"][1]["supplementary_quantity"] = {"quantity": "12", "unit": "NAR"}
    values, rows = forms.flatten(doc)
    assert rows == 3 and values["goods_items[1].supplementary_quantity.unit"] == "NAR"
    parsed = forms.parse(values)
    assert DeclarationIn.model_validate(parsed) == DeclarationIn.model_validate(doc)


def test_blank_rows_and_empty_fields_are_left_out():
    values = {"lrn": " X-1 ", "exporter.name": "", "goods_items[0].hs_code": "", "goods_items[4].hs_code": "847130"}
    values["goods_items[4].documents"] = "n380 INV-1\n\nN954  EUR1-7 "
    parsed = forms.parse(values)
    assert parsed["lrn"] == "X-1" and "exporter" not in parsed
    assert parsed["goods_items"] == [
        {
            "hs_code": "847130",
            "documents": [{"code": "N380", "reference": "INV-1"}, {"code": "N954", "reference": "EUR1-7"}],
            "sequence": 1,
        }
    ]


def test_errors_land_on_their_fields():
    errors = [
        {"field": "goods_items[0].documents[1].code", "reason": "bad code"},
        {"field": "declarant.address.country", "reason": "bad country"},
        {"field": "goods_items[1]", "reason": "gross below net"},
        {"field": "(body)", "reason": "an import declaration names the importer"},
    ]
    by_field, general = forms.error_map(errors, row_count=2)
    assert by_field == {
        "goods_items[0].documents": ["bad code"],
        "declarant.address.country": ["bad country"],
        "goods_items[1]": ["gross below net"],
    }
    assert general == ["an import declaration names the importer"]
