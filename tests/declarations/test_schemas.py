"""Validation of a lodged declaration: every error at once, each with its field path."""

import copy

import pytest
from pydantic import ValidationError

from clearway.declarations.schemas import DeclarationIn, errors_from
from clearway.demo import sample_declaration

SUBHEADINGS = frozenset(
    {
        "847130",
        "610910",
        "080810",
        "640411",
        "950300",
        "851713",
        "871200",
        "220421",
        "731815",
        "940161",
        "420221",
        "300490",
        "392690",
    }
)


def validate(data):
    return DeclarationIn.model_validate(data, context={"hs_subheadings": SUBHEADINGS})


def errors_of(data):
    with pytest.raises(ValidationError) as caught:
        validate(data)
    return {e["field"]: e["reason"] for e in errors_from(caught.value)}


def test_a_sample_declaration_is_valid_and_items_are_numbered():
    data = sample_declaration("LRN-1", items=3)
    for item in data["goods_items"]:
        del item["sequence"]
    declaration = validate(data)
    assert [i.sequence for i in declaration.goods_items] == [1, 2, 3]


def test_every_error_is_reported_at_once():
    data = sample_declaration("LRN-2", items=3)
    data["goods_items"][0]["hs_code"] = "010190"
    data["goods_items"][1]["country_of_origin"] = "XX"
    data["goods_items"][2]["gross_mass_kg"] = "0.5"
    data["goods_items"][2]["net_mass_kg"] = "1"
    data["invoice"]["currency"] = "EUX"
    data["invoice"]["amount"] = "-5"
    data["declarant"]["eori"] = "GB1"
    data["containers"] = ["CSQU3054384"]
    data["unexpected"] = 1
    errors = errors_of(data)
    assert "unknown HS code 010190" in errors["goods_items[0].hs_code"]
    assert errors["goods_items[1].country_of_origin"] == "'XX' is not an ISO 3166-1 alpha-2 country code"
    assert "below net mass" in errors["goods_items[2]"]
    assert "ISO 4217" in errors["invoice.currency"]
    assert "greater than 0" in errors["invoice.amount"]
    assert "malformed EORI" in errors["declarant.eori"]
    assert "check digit" in errors["containers[0]"]
    assert errors["unexpected"] == "unknown field"


def test_too_many_goods_items():
    data = sample_declaration("LRN-3", items=1)
    item = data["goods_items"][0]
    data["goods_items"] = [dict(copy.deepcopy(item), sequence=n) for n in range(1, 1001)]
    errors = errors_of(data)
    assert errors["goods_items"] == "at most 999 goods items per declaration"


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        (("goods_items", 0, "item_price"), "0", "goods_items[0].item_price"),
        (("goods_items", 0, "net_mass_kg"), "-1", "goods_items[0].net_mass_kg"),
        (("goods_items", 0, "hs_code"), "8471", "goods_items[0].hs_code"),
        (("office_of_lodgement",), "NYC", "office_of_lodgement"),
        (("incoterm",), "FOO", "incoterm"),
        (("lrn",), "", "lrn"),
    ],
)
def test_single_field_errors(path, value, field):
    data = sample_declaration("LRN-4")
    target = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    assert field in errors_of(data)


def test_an_import_names_its_importer():
    data = sample_declaration("LRN-5")
    del data["importer"]
    assert "names the importer" in errors_of(data)["(body)"]
