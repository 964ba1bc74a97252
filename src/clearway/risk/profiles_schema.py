"""Pydantic schemas of a selectivity profile as data, and its validation on save (every error at once)."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from clearway.errors import InvalidInput, field_error
from clearway.risk.rules import (
    DEFAULT_FIELDS,
    PRIORITY_MAX,
    PRIORITY_MIN,
    FieldSpec,
    HitStatistics,
    ProfileStatus,
    SelectivityProfile,
    revise,
    validate_criteria,
)


class ProfileDraft(BaseModel):
    """What an analyst submits to create a profile or a new version of it."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=120, description="Short name shown in lists, e.g. 'Apples from US'")
    reason: str = Field(min_length=1, max_length=500, description="Why the declaration was selected, shown to officers")
    channel: Literal["green", "yellow", "red"]
    priority: int = Field(ge=PRIORITY_MIN, le=PRIORITY_MAX, description="Higher wins when several profiles hit")
    valid_from: date
    valid_to: date | None = Field(default=None, description="Last day of validity (inclusive); none = open-ended")
    criteria: dict[str, Any]
    mandatory: bool = Field(default=False, description="Applies even over budget and to trusted traders")
    kind: Literal["selection", "release"] = Field(
        default="selection", description="'release' profiles are whitelists that route to green"
    )
    description: str | None = Field(default=None, max_length=4000, description="Notes for other analysts")


class ProfileOut(BaseModel):
    """A stored profile version as the API returns it."""

    profile_id: str
    version: int
    status: Literal["draft", "active", "retired"]
    name: str
    reason: str
    channel: Literal["green", "yellow", "red"]
    priority: int
    valid_from: date
    valid_to: date | None
    criteria: dict[str, Any]
    mandatory: bool
    kind: Literal["selection", "release"]
    description: str | None = None
    hits: int = 0
    inspected: int = 0
    with_findings: int = 0
    hit_rate: float | None = None

    @classmethod
    def of(cls, profile: SelectivityProfile, stats: HitStatistics | None = None) -> ProfileOut:
        extra = stats.to_dict() if stats else {}
        extra.pop("profile_id", None)
        extra.pop("version", None)
        return cls(
            profile_id=profile.profile_id,
            version=profile.version,
            status=profile.status,
            name=profile.name,
            reason=profile.reason,
            channel=profile.channel,
            priority=profile.priority,
            valid_from=profile.valid_from,
            valid_to=profile.valid_to,
            criteria=dict(profile.criteria),
            mandatory=profile.mandatory,
            kind=profile.kind,
            description=profile.description,
            **extra,
        )


def _loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "body"


def _pydantic_errors(exc: ValidationError) -> list[dict[str, str]]:
    return [field_error(_loc(tuple(e["loc"])), e["msg"]) for e in exc.errors()]


def parse_profile(
    data: Mapping[str, Any],
    *,
    known_lists: Collection[str] | None = None,
    fields: Mapping[str, FieldSpec] = DEFAULT_FIELDS,
) -> ProfileDraft:
    """Validate a submitted profile; raises InvalidInput listing every error with its JSON path."""
    if not isinstance(data, Mapping):
        raise InvalidInput(
            "A selectivity profile is a JSON object.", errors=[field_error("body", "expected an object")]
        )
    errors: list[dict[str, str]] = []
    draft: ProfileDraft | None = None
    try:
        draft = ProfileDraft.model_validate(dict(data))
    except ValidationError as exc:
        # Criteria errors are reported by our own validator with precise paths, so skip pydantic's for that key.
        errors.extend(e for e in _pydantic_errors(exc) if not e["field"].startswith("criteria"))
    if "criteria" in data:
        errors.extend(validate_criteria(data["criteria"], fields=fields, known_lists=known_lists))
    else:
        errors.append(field_error("criteria", "required: the conditions that select declarations"))
    errors.extend(_cross_checks(data))
    if errors:
        raise InvalidInput(f"The selectivity profile has {len(errors)} error(s).", errors=errors)
    assert draft is not None
    return draft


def _cross_checks(data: Mapping[str, Any]) -> list[dict[str, str]]:
    errors = []
    start, end = _as_date(data.get("valid_from")), _as_date(data.get("valid_to"))
    if start and end and end < start:
        errors.append(field_error("valid_to", f"ends ({end}) before the profile starts ({start})"))
    kind, channel = data.get("kind", "selection"), data.get("channel")
    if kind == "selection" and channel == "green":
        errors.append(
            field_error(
                "channel", "a selection profile routes to yellow or red; use kind 'release' for a green whitelist"
            )
        )
    if kind == "release" and channel in ("yellow", "red"):
        errors.append(field_error("channel", "a release profile always routes to green"))
    if data.get("mandatory") is True and channel == "green":
        errors.append(field_error("mandatory", "only a yellow or red profile can be mandatory"))
    return errors


def _as_date(value: Any) -> date | None:
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            return None
    return None


def build_profile(
    draft: ProfileDraft, *, profile_id: str, version: int = 1, status: ProfileStatus = "draft"
) -> SelectivityProfile:
    """The immutable profile version for a validated draft."""
    return SelectivityProfile(
        profile_id=profile_id,
        version=version,
        name=draft.name,
        reason=draft.reason,
        channel=draft.channel,
        priority=draft.priority,
        valid_from=draft.valid_from,
        valid_to=draft.valid_to,
        criteria=draft.criteria,
        mandatory=draft.mandatory,
        kind=draft.kind,
        status=status,
        description=draft.description,
    )


def revise_profile(
    profile: SelectivityProfile, data: Mapping[str, Any], *, known_lists: Collection[str] | None = None
) -> SelectivityProfile:
    """Validate an edit and return it as version n+1 (a draft); the edited version is left unchanged."""
    draft = parse_profile(data, known_lists=known_lists)
    return revise(
        profile,
        name=draft.name,
        reason=draft.reason,
        channel=draft.channel,
        priority=draft.priority,
        valid_from=draft.valid_from,
        valid_to=draft.valid_to,
        criteria=draft.criteria,
        mandatory=draft.mandatory,
        kind=draft.kind,
        description=draft.description,
    )
