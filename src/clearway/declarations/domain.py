"""The declaration's life, as pure rules: statuses, who may do what when, and reference numbers.

No ORM or web imports here: the lifecycle and the identifiers are unit-tested on their own.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from clearway.errors import IllegalTransition


class Status(StrEnum):
    """Where a declaration stands (CDS / ASYCUDA vocabulary)."""

    SUBMITTED = "submitted"  # received and registered, not yet accepted
    ACCEPTED = "accepted"  # legally accepted, MRN issued, waiting for risk assessment
    REJECTED = "rejected"
    ASSESSED = "assessed"  # green channel: taxes and lane assessed, release to follow
    AWAITING_PAYMENT = "awaiting_payment"  # release blocked until duties are paid or guaranteed
    DOCUMENTARY_CHECK = "documentary_check"  # yellow channel
    PHYSICAL_INSPECTION = "physical_inspection"  # red channel
    DOCUMENTS_REQUESTED = "documents_requested"  # waiting for the declarant
    CONTROL_COMPLETED = "control_completed"  # result recorded, decision pending
    RELEASED = "released"
    REFUSED = "refused"
    SEIZED = "seized"
    CANCELLED = "cancelled"  # withdrawn by the declarant
    INVALIDATED = "invalidated"  # invalidated by customs


FINAL = frozenset(
    {Status.REJECTED, Status.RELEASED, Status.REFUSED, Status.SEIZED, Status.CANCELLED, Status.INVALIDATED}
)
UNDER_CONTROL = frozenset(
    {Status.DOCUMENTARY_CHECK, Status.PHYSICAL_INSPECTION, Status.DOCUMENTS_REQUESTED, Status.CONTROL_COMPLETED}
)


class Channel(StrEnum):
    """Selectivity lanes."""

    GREEN = "green"
    YELLOW = "yellow"
    RED = "red"


class Role(StrEnum):
    DECLARANT = "declarant"
    CUSTOMS_OFFICER = "customs_officer"
    RISK_ANALYST = "risk_analyst"
    CHECKPOINT_OPERATOR = "checkpoint_operator"
    ADMINISTRATOR = "administrator"
    SYSTEM = "system"  # the automatic chain (jobs)


class Action(StrEnum):
    ACCEPT = "accept"
    REJECT = "reject"
    ASSIGN_CHANNEL = "assign_channel"
    REQUIRE_PAYMENT = "require_payment"
    RELEASE = "release"
    REQUEST_DOCUMENTS = "request_documents"
    PROVIDE_DOCUMENTS = "provide_documents"
    RECORD_CONTROL_RESULT = "record_control_result"
    REROUTE = "reroute"
    REFUSE = "refuse"
    SEIZE = "seize"
    AMEND = "amend"
    CANCEL = "cancel"
    INVALIDATE = "invalidate"


@dataclass(frozen=True)
class Rule:
    """Who may take an action, from which statuses."""

    roles: frozenset[Role]
    sources: frozenset[Status]


def _rule(roles: set[Role], sources: set[Status]) -> Rule:
    return Rule(frozenset(roles), frozenset(sources))


OFFICER = {Role.CUSTOMS_OFFICER}
PRE_RELEASE = {
    Status.SUBMITTED,
    Status.ACCEPTED,
    Status.ASSESSED,
    Status.AWAITING_PAYMENT,
    *UNDER_CONTROL,
}

RULES: dict[Action, Rule] = {
    Action.ACCEPT: _rule({Role.SYSTEM}, {Status.SUBMITTED}),
    Action.REJECT: _rule({Role.SYSTEM, Role.CUSTOMS_OFFICER}, {Status.SUBMITTED}),
    Action.ASSIGN_CHANNEL: _rule({Role.SYSTEM}, {Status.ACCEPTED}),
    Action.REQUIRE_PAYMENT: _rule({Role.SYSTEM}, {Status.ASSESSED, Status.CONTROL_COMPLETED, Status.DOCUMENTARY_CHECK}),
    # The system releases green declarations; officers release after a check. A physical inspection needs its
    # result on record first, so PHYSICAL_INSPECTION is not a source.
    Action.RELEASE: _rule(
        {Role.SYSTEM, Role.CUSTOMS_OFFICER},
        {Status.ASSESSED, Status.AWAITING_PAYMENT, Status.DOCUMENTARY_CHECK, Status.CONTROL_COMPLETED},
    ),
    Action.REQUEST_DOCUMENTS: _rule(
        OFFICER, {Status.DOCUMENTARY_CHECK, Status.PHYSICAL_INSPECTION, Status.CONTROL_COMPLETED}
    ),
    Action.PROVIDE_DOCUMENTS: _rule({Role.DECLARANT}, {Status.DOCUMENTS_REQUESTED}),
    Action.RECORD_CONTROL_RESULT: _rule(OFFICER, {Status.DOCUMENTARY_CHECK, Status.PHYSICAL_INSPECTION}),
    Action.REROUTE: _rule(
        {Role.CUSTOMS_OFFICER, Role.RISK_ANALYST},
        {Status.ASSESSED, Status.DOCUMENTARY_CHECK, Status.PHYSICAL_INSPECTION},
    ),
    Action.REFUSE: _rule(OFFICER, set(UNDER_CONTROL)),
    Action.SEIZE: _rule(OFFICER, {Status.PHYSICAL_INSPECTION, Status.CONTROL_COMPLETED, Status.DOCUMENTARY_CHECK}),
    Action.AMEND: _rule({Role.DECLARANT}, PRE_RELEASE),
    # Goods under physical control cannot be withdrawn unilaterally.
    Action.CANCEL: _rule(
        {Role.DECLARANT},
        {
            Status.SUBMITTED,
            Status.ACCEPTED,
            Status.ASSESSED,
            Status.AWAITING_PAYMENT,
            Status.DOCUMENTARY_CHECK,
            Status.DOCUMENTS_REQUESTED,
        },
    ),
    Action.INVALIDATE: _rule(OFFICER, PRE_RELEASE),
}

HINTS: dict[tuple[Action, Status], str] = {
    (Action.RELEASE, Status.PHYSICAL_INSPECTION): "record the physical inspection result before releasing",
    (Action.CANCEL, Status.PHYSICAL_INSPECTION): "the goods are under physical control; ask the office to invalidate",
    (Action.CANCEL, Status.CONTROL_COMPLETED): "the goods are under control; ask the office to invalidate",
    (Action.PROVIDE_DOCUMENTS, Status.DOCUMENTARY_CHECK): "no documents are requested at the moment",
}

CHANNEL_STATUS = {
    Channel.GREEN: Status.ASSESSED,
    Channel.YELLOW: Status.DOCUMENTARY_CHECK,
    Channel.RED: Status.PHYSICAL_INSPECTION,
}


def check_allowed(action: Action, status: Status, role: Role) -> None:
    """Raises IllegalTransition (409) or PermissionError when `role` may not take `action` in `status`."""
    rule = RULES[action]
    if role not in rule.roles:
        raise PermissionError(f"a {role.value} may not {action.value.replace('_', ' ')} a declaration")
    if status not in rule.sources:
        allowed = ", ".join(sorted(s.value for s in rule.sources))
        hint = HINTS.get((action, status))
        detail = f"cannot {action.value.replace('_', ' ')} a declaration in status '{status.value}'"
        detail += f": {hint}" if hint else f" (possible from: {allowed})"
        raise IllegalTransition(detail, status=status.value, action=action.value)


def target_status(
    action: Action, status: Status, *, channel: Channel | None = None, new_channel: Channel | None = None
) -> Status:
    """Returns the status that `action` leads to (check_allowed first)."""
    match action:
        case Action.ACCEPT:
            return Status.ACCEPTED
        case Action.REJECT:
            return Status.REJECTED
        case Action.ASSIGN_CHANNEL | Action.REROUTE:
            if new_channel is None:
                raise ValueError("a channel is needed")
            return CHANNEL_STATUS[new_channel]
        case Action.REQUIRE_PAYMENT:
            return Status.AWAITING_PAYMENT
        case Action.RELEASE:
            return Status.RELEASED
        case Action.REQUEST_DOCUMENTS:
            return Status.DOCUMENTS_REQUESTED
        case Action.PROVIDE_DOCUMENTS:
            return Status.PHYSICAL_INSPECTION if channel == Channel.RED else Status.DOCUMENTARY_CHECK
        case Action.RECORD_CONTROL_RESULT:
            return Status.CONTROL_COMPLETED
        case Action.REFUSE:
            return Status.REFUSED
        case Action.SEIZE:
            return Status.SEIZED
        case Action.AMEND:
            return status
        case Action.CANCEL:
            return Status.CANCELLED
        case Action.INVALIDATE:
            return Status.INVALIDATED
    raise ValueError(f"unknown action {action}")  # pragma: no cover


def documents_in_words(details: dict[str, Any] | None) -> str:
    """The documents a request lists, as the trader reads them: "N954 EUR.1 movement certificate; ..."."""
    return "; ".join(f"{d['code']} {d['description']}" for d in (details or {}).get("documents", []))


# ---------------------------------------------------------------------------------------------------------------
# Identifiers: ISO 6346 check digits (containers, and the MRN check character, which uses the same algorithm).

_ISO6346_VALUES: dict[str, int] = {str(d): d for d in range(10)}
_value = 10
for _letter in "ABCDEFGHIJKLMNOPQRSTUVWXYZ":
    if _value % 11 == 0:
        _value += 1
    _ISO6346_VALUES[_letter] = _value
    _value += 1

CONTAINER_RE = re.compile(r"^[A-Z]{3}[UJZR]\d{7}$")
MRN_RE = re.compile(r"^\d{2}[A-Z]{2}[A-Z0-9]{14}$")
_MRN_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def iso6346_check_digit(body: str) -> int:
    """Check digit over `body` (weights 2**position, sum mod 11, 10 read as 0)."""
    total = sum(_ISO6346_VALUES[ch] * (2**i) for i, ch in enumerate(body))
    return total % 11 % 10


def container_number_problem(number: str) -> str | None:
    """Returns why `number` is not a valid ISO 6346 container number, or None."""
    if not CONTAINER_RE.match(number):
        return "not an ISO 6346 container number (4 letters, the 4th U, J, Z or R, then 7 digits)"
    expected = iso6346_check_digit(number[:10])
    if int(number[10]) != expected:
        return f"check digit is {number[10]} but should be {expected}"
    return None


def new_mrn(country_code: str, year: int) -> str:
    """A new Movement Reference Number: 2-digit year, country, 13 random characters, check character."""
    body = f"{year % 100:02d}{country_code.upper()}" + "".join(secrets.choice(_MRN_ALPHABET) for _ in range(13))
    return body + str(iso6346_check_digit(body))


def mrn_is_valid(mrn: str) -> bool:
    return bool(MRN_RE.match(mrn)) and iso6346_check_digit(mrn[:17]) == int(mrn[17])


EORI_RE = re.compile(r"^[A-Z]{2}[A-Z0-9]{1,15}$")
# Code-list prefixes that are not ISO 3166 country codes but are used in EORIs.
EORI_EXTRA_PREFIXES = frozenset({"XI", "EL"})


def eori_problem(eori: str, countries: frozenset[str]) -> str | None:
    """Returns why `eori` is malformed, or None. GB and XI numbers carry 12 digits after the prefix."""
    if not EORI_RE.match(eori):
        return "an EORI is a 2-letter country code followed by 1 to 15 letters or digits"
    prefix = eori[:2]
    if prefix not in countries and prefix not in EORI_EXTRA_PREFIXES:
        return f"'{prefix}' is not a country code"
    if prefix in {"GB", "XI"} and not re.fullmatch(r"\d{12}", eori[2:]):
        return f"a {prefix} EORI has exactly 12 digits after '{prefix}'"
    return None
