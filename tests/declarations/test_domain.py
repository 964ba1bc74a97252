"""The pure lifecycle and identifier rules, without a database."""

import pytest

from clearway.declarations import domain
from clearway.declarations.domain import Action, Channel, Role, Status
from clearway.declarations.schemas import COUNTRIES
from clearway.errors import IllegalTransition


def test_green_path_is_allowed_for_the_system():
    domain.check_allowed(Action.ACCEPT, Status.SUBMITTED, Role.SYSTEM)
    assert domain.target_status(Action.ACCEPT, Status.SUBMITTED) == Status.ACCEPTED
    assert domain.target_status(Action.ASSIGN_CHANNEL, Status.ACCEPTED, new_channel=Channel.GREEN) == Status.ASSESSED
    assert domain.target_status(Action.ASSIGN_CHANNEL, Status.ACCEPTED, new_channel=Channel.YELLOW) == (
        Status.DOCUMENTARY_CHECK
    )
    assert domain.target_status(Action.ASSIGN_CHANNEL, Status.ACCEPTED, new_channel=Channel.RED) == (
        Status.PHYSICAL_INSPECTION
    )
    domain.check_allowed(Action.RELEASE, Status.ASSESSED, Role.SYSTEM)


def test_release_during_physical_inspection_needs_the_result_first():
    with pytest.raises(IllegalTransition) as caught:
        domain.check_allowed(Action.RELEASE, Status.PHYSICAL_INSPECTION, Role.CUSTOMS_OFFICER)
    assert "record the physical inspection result" in caught.value.detail
    assert caught.value.status == 409


def test_nothing_happens_after_a_final_status():
    for status in domain.FINAL:
        for action in (Action.AMEND, Action.CANCEL, Action.RELEASE, Action.INVALIDATE):
            role = Role.DECLARANT if action in (Action.AMEND, Action.CANCEL) else Role.CUSTOMS_OFFICER
            with pytest.raises(IllegalTransition):
                domain.check_allowed(action, status, role)


@pytest.mark.parametrize(
    ("action", "role"),
    [
        (Action.RELEASE, Role.DECLARANT),
        (Action.AMEND, Role.CUSTOMS_OFFICER),
        (Action.SEIZE, Role.CHECKPOINT_OPERATOR),
        (Action.ACCEPT, Role.CUSTOMS_OFFICER),
    ],
)
def test_roles_are_checked(action, role):
    with pytest.raises(PermissionError):
        domain.check_allowed(action, Status.DOCUMENTARY_CHECK, role)


def test_documents_provided_return_to_the_control_of_the_channel():
    assert domain.target_status(Action.PROVIDE_DOCUMENTS, Status.DOCUMENTS_REQUESTED, channel=Channel.RED) == (
        Status.PHYSICAL_INSPECTION
    )
    assert domain.target_status(Action.PROVIDE_DOCUMENTS, Status.DOCUMENTS_REQUESTED, channel=Channel.YELLOW) == (
        Status.DOCUMENTARY_CHECK
    )


def test_goods_under_physical_control_cannot_be_withdrawn():
    with pytest.raises(IllegalTransition, match="ask the office to invalidate"):
        domain.check_allowed(Action.CANCEL, Status.PHYSICAL_INSPECTION, Role.DECLARANT)


@pytest.mark.parametrize("number", ["CSQU3054383", "MSKU1234565", "TGHU7654320"])
def test_valid_container_numbers(number):
    assert domain.container_number_problem(number) is None


@pytest.mark.parametrize(
    ("number", "reason"),
    [("CSQU3054384", "check digit is 4 but should be 3"), ("CSQ3054383", "not an ISO 6346"), ("CSQX3054383", "U, J")],
)
def test_invalid_container_numbers(number, reason):
    assert reason in domain.container_number_problem(number)


def test_mrn_has_year_country_and_a_valid_check_character():
    mrns = {domain.new_mrn("us", 2026) for _ in range(200)}
    assert len(mrns) == 200
    for mrn in mrns:
        assert mrn.startswith("26US") and len(mrn) == 18
        assert domain.mrn_is_valid(mrn)


def test_a_mistyped_mrn_is_detected_by_its_check_character():
    body = "26US0123456789ABC"
    mrn = body + str(domain.iso6346_check_digit(body))
    assert domain.mrn_is_valid(mrn)
    # Any single substitution whose weighted value change is not a multiple of 11 changes the check character
    # (ISO 6346 cannot see the rest; its check 10 is written as 0).
    wrong_digit = mrn[:17] + str((int(mrn[17]) + 1) % 10)
    assert not domain.mrn_is_valid(wrong_digit)
    assert not domain.mrn_is_valid(mrn[:4] + "1023456789ABC" + mrn[17])  # two digits swapped
    assert not domain.mrn_is_valid(mrn.lower())


@pytest.mark.parametrize(
    ("eori", "problem"),
    [
        ("GB123456789000", None),
        ("XI123456789000", None),
        ("DE1234567", None),
        ("GB12345", "exactly 12 digits"),
        ("QQ123", "not a country code"),
        ("gb123", "2-letter country code"),
        ("DE" + "1" * 16, "2-letter country code"),
    ],
)
def test_eori(eori, problem):
    found = domain.eori_problem(eori, COUNTRIES)
    assert found is None if problem is None else problem in found
