"""Selectivity rules: criteria written by risk analysts as data, validated, compiled to closures and evaluated.

A profile's criteria is a JSON tree of groups (`all`, `any`, `not`, `any_item`, `every_item`) and leaves
(`{"field": ..., "op": ..., "value": ...}`). Nothing is ever passed to `eval`/`exec`: validation checks the
tree against a closed registry of field paths and operators, then `compile_criteria` turns it into nested
closures. The exact semantics (goods-item binding, missing values, lists) are documented in docs/selectivity.md.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from functools import cached_property
from typing import Any, Literal

from clearway.errors import IllegalTransition, InvalidInput, field_error

Channel = Literal["green", "yellow", "red"]
ProfileKind = Literal["selection", "release"]
ProfileStatus = Literal["draft", "active", "retired"]

CHANNEL_SEVERITY: dict[str, int] = {"green": 0, "yellow": 1, "red": 2}
PRIORITY_MIN, PRIORITY_MAX = 1, 100
MAX_DEPTH = 8
MAX_NODES = 200
MAX_VALUES = 5000

Kind = Literal["code", "country", "hs", "text", "decimal", "integer", "boolean"]
Level = Literal["declaration", "item", "context"]
STRING_KINDS = frozenset({"code", "country", "hs", "text"})
NUMBER_KINDS = frozenset({"decimal", "integer"})

OPERATORS: dict[str, frozenset[str]] = {
    "eq": STRING_KINDS | NUMBER_KINDS | {"boolean"},
    "ne": STRING_KINDS | NUMBER_KINDS | {"boolean"},
    "in": STRING_KINDS | NUMBER_KINDS,
    "not_in": STRING_KINDS | NUMBER_KINDS,
    "prefix": STRING_KINDS,
    "contains": STRING_KINDS,
    "gt": NUMBER_KINDS,
    "gte": NUMBER_KINDS,
    "lt": NUMBER_KINDS,
    "lte": NUMBER_KINDS,
    "between": NUMBER_KINDS,
    "exists": STRING_KINDS | NUMBER_KINDS | {"boolean"},
    "in_list": STRING_KINDS,
}
GROUP_KEYS = ("all", "any", "not", "any_item", "every_item")
_COUNTRY_RE = re.compile(r"^[A-Za-z]{2}$")
_HS_RE = re.compile(r"^\d{2,10}$")


# --------------------------------------------------------------------------------------------------- fields


@dataclass(frozen=True)
class FieldSpec:
    """One field path analysts may use in a criterion.

    `level` says where the value lives: on the declaration, on each goods item (evaluated per item), or in the
    caller's `context`. `many` marks a field holding several values (containers, document codes): a leaf on it
    holds when any of the values satisfies it.
    """

    path: str
    kind: Kind
    level: Level
    description: str
    many: bool = False
    getter: Callable[[Mapping[str, Any], Mapping[str, Any]], Any] | None = field(default=None, compare=False)


def _dig(doc: Any, keys: Sequence[str]) -> Any:
    for key in keys:
        if not isinstance(doc, Mapping):
            return None
        doc = doc.get(key)
    return doc


def _dig_many(doc: Any, list_key: Sequence[str], keys: Sequence[str]) -> list[Any]:
    seq = _dig(doc, list_key)
    if isinstance(seq, Mapping):
        seq = [seq]
    if not isinstance(seq, list):
        return []
    out = []
    for element in seq:
        value = _dig(element, keys) if keys else element
        if value is not None:
            out.append(value)
    return out


def _decl(path: str, kind: Kind, description: str, many: bool = False) -> FieldSpec:
    keys = tuple(path.split("."))
    if many:
        return FieldSpec(path, kind, "declaration", description, True, lambda d, c: _dig_many(d, keys, ()))
    return FieldSpec(path, kind, "declaration", description, False, lambda d, c: _dig(d, keys))


def _item(name: str, kind: Kind, description: str) -> FieldSpec:
    keys = tuple(name.split("."))
    return FieldSpec("goods_items." + name, kind, "item", description, False, lambda item, facts: _dig(item, keys))


def _item_many(list_name: str, sub: str, kind: Kind, description: str) -> FieldSpec:
    list_key, keys = (list_name,), tuple(sub.split("."))
    return FieldSpec(
        f"goods_items.{list_name}.{sub}",
        kind,
        "item",
        description,
        True,
        lambda item, facts: _dig_many(item, list_key, keys),
    )


def item_fact(name: str, kind: Kind, description: str) -> FieldSpec:
    """A derived per-item fact the caller supplies in `context["items"]` (see `ItemFacts`)."""
    return FieldSpec("goods_items." + name, kind, "item", description, False, lambda item, facts: facts.get(name))


def context_field(name: str, kind: Kind, description: str) -> FieldSpec:
    """A declaration-level fact the caller supplies in `context` (dotted names dig into nested dicts)."""
    keys = tuple(name.split("."))
    return FieldSpec("context." + name, kind, "context", description, False, lambda d, c: _dig(c, keys))


def _value_per_kg(item: Mapping[str, Any], facts: Mapping[str, Any]) -> Decimal | None:
    price, mass = to_decimal(item.get("item_price")), to_decimal(item.get("net_mass_kg"))
    if price is None or mass is None or mass <= 0:
        return None
    return price / mass


def _item_count(declaration: Mapping[str, Any], context: Mapping[str, Any]) -> int:
    items = declaration.get("goods_items")
    return len(items) if isinstance(items, list) else 0


def _party_fields(role: str) -> list[FieldSpec]:
    return [
        _decl(f"{role}.eori", "code", f"EORI number of the {role}"),
        _decl(f"{role}.name", "text", f"name of the {role}"),
        _decl(f"{role}.address.country", "country", f"country of the {role}'s address"),
        _decl(f"{role}.address.postcode", "code", f"postcode of the {role}'s address"),
    ]


_DEFAULT_FIELD_LIST: list[FieldSpec] = [
    _decl("lrn", "code", "local reference number"),
    _decl("mrn", "code", "movement reference number"),
    _decl("type_code", "code", "declaration type (IM, EX, CO)"),
    _decl("procedure_code", "code", "requested and previous procedure (e.g. 4000)"),
    _decl("additional_procedure_code", "code", "additional procedure code"),
    _decl("office_of_lodgement", "code", "customs office of lodgement"),
    *_party_fields("declarant"),
    *_party_fields("importer"),
    *_party_fields("exporter"),
    _decl("border_transport.mode", "code", "mode of transport at the border (1 sea, 4 air, ...)"),
    _decl("border_transport.nationality", "country", "nationality of the active means of transport"),
    _decl("containers", "code", "container numbers", many=True),
    _decl("invoice.currency", "code", "invoice currency (ISO 4217)"),
    _decl("invoice.amount", "decimal", "total invoice amount"),
    _decl("incoterm", "code", "delivery terms (FOB, CIF, ...)"),
    _decl("country_of_dispatch", "country", "country of dispatch"),
    _decl("country_of_destination", "country", "country of destination"),
    FieldSpec("item_count", "integer", "declaration", "number of goods items", getter=_item_count),
    _item("sequence", "integer", "goods item number"),
    _item("hs_code", "hs", "commodity code (HS/CN/TARIC)"),
    _item("description", "text", "description of the goods"),
    _item("country_of_origin", "country", "country of origin"),
    _item("preference_code", "code", "tariff preference code"),
    _item("net_mass_kg", "decimal", "net mass in kg"),
    _item("gross_mass_kg", "decimal", "gross mass in kg"),
    _item("item_price", "decimal", "item price (invoice currency)"),
    _item("supplementary_quantity.quantity", "decimal", "supplementary quantity"),
    _item("supplementary_quantity.unit", "code", "unit of the supplementary quantity"),
    _item("packages.kind", "code", "kind of packages"),
    _item("packages.count", "integer", "number of packages"),
    _item_many("documents", "code", "code", "codes of the documents produced for the item (e.g. N935)"),
    _item_many("documents", "reference", "code", "references of the documents produced for the item"),
    FieldSpec(
        "goods_items.value_per_kg", "decimal", "item", "item price divided by net mass (derived)", getter=_value_per_kg
    ),
    item_fact(
        "value_per_kg_ratio_to_hs_median",
        "decimal",
        "value per kg divided by the median value per kg for the HS code (caller-supplied)",
    ),
    item_fact("misclassification_suspected", "boolean", "the classification model disagrees (caller-supplied)"),
    item_fact("score", "decimal", "per-item fraud probability (caller-supplied)"),
    context_field("score", "decimal", "model fraud probability of the declaration"),
    context_field("value_at_risk", "decimal", "model estimate of the revenue at risk"),
    context_field("trusted_trader", "boolean", "the importer or declarant holds an AEO authorisation"),
    context_field("radiation_alarm", "boolean", "a radiation portal alarm is raised on the consignment"),
    context_field("xray_anomaly", "boolean", "the X-ray image does not match the declared goods"),
    context_field("prior_findings", "integer", "number of past inspections of the importer with findings"),
]

DEFAULT_FIELDS: Mapping[str, FieldSpec] = {spec.path: spec for spec in _DEFAULT_FIELD_LIST}


def extend_fields(*extra: FieldSpec, base: Mapping[str, FieldSpec] = DEFAULT_FIELDS) -> dict[str, FieldSpec]:
    """A registry with extra fields (e.g. checkpoint readings added by another module)."""
    out = dict(base)
    for spec in extra:
        out[spec.path] = spec
    return out


# --------------------------------------------------------------------------------------------------- values


def to_decimal(value: Any) -> Decimal | None:
    """Decimal of a JSON number or numeric string; None when absent or not a number."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, Decimal):
        return value if value.is_finite() else None
    if isinstance(value, int | float | str):
        try:
            result = Decimal(str(value).strip())
        except InvalidOperation:
            return None
        return result if result.is_finite() else None
    return None


def normalize_text(value: Any, kind: str) -> str | None:
    """Comparable form of a string value: trimmed and case-folded; HS codes lose dots and spaces."""
    if value is None or isinstance(value, bool):
        return None
    text = str(value).strip()
    if kind == "hs":
        text = text.replace(".", "").replace(" ", "")
    return text.casefold()


def _normalize(value: Any, kind: str) -> Any:
    if kind in STRING_KINDS:
        return normalize_text(value, kind)
    if kind == "boolean":
        return value if isinstance(value, bool) else None
    return to_decimal(value)


class NamedLists:
    """The analysts' named lists (watched importers, sensitive HS codes, ...), normalised once for evaluation."""

    def __init__(self, lists: Mapping[str, Iterable[Any]] | None = None) -> None:
        self._exact: dict[str, frozenset[str]] = {}
        self._prefix: dict[str, tuple[str, ...]] = {}
        for name, values in (lists or {}).items():
            normalised: set[str] = set()
            for value in values:
                # An entry may serve an HS field ("8471.30" → "847130") or a code field ("12 34" stays as is).
                normalised.update(v for v in (normalize_text(value, "code"), normalize_text(value, "hs")) if v)
            self._exact[name] = frozenset(normalised)
            self._prefix[name] = tuple(sorted(normalised))

    def names(self) -> frozenset[str]:
        return frozenset(self._exact)

    def exact(self, name: str) -> frozenset[str]:
        return self._exact[name]

    def prefixes(self, name: str) -> tuple[str, ...]:
        return self._prefix[name]


def as_named_lists(lists: Mapping[str, Iterable[Any]] | NamedLists | None) -> NamedLists:
    return lists if isinstance(lists, NamedLists) else NamedLists(lists)


# --------------------------------------------------------------------------------------------------- validation


def _expected_ops() -> str:
    return ", ".join(OPERATORS)


def _check_scalar(value: Any, spec: FieldSpec, op: str) -> str | None:
    """Why `value` is not a valid operand of `op` on `spec`, or None."""
    kind = spec.kind
    if kind in STRING_KINDS:
        if not isinstance(value, str) or not value.strip():
            return f"expected a non-empty string for '{op}' on {spec.path}, got {_describe(value)}"
        if kind == "country" and not _COUNTRY_RE.match(value.strip()):
            return f"expected a two-letter ISO country code, got {value!r}"
        if kind == "hs" and op != "contains" and not _HS_RE.match(value.strip().replace(".", "").replace(" ", "")):
            return f"expected an HS code of 2 to 10 digits, got {value!r}"
        return None
    if kind == "boolean":
        return None if isinstance(value, bool) else f"expected true or false for {spec.path}, got {_describe(value)}"
    if kind == "integer":
        if isinstance(value, bool) or not isinstance(value, int):
            return f"expected an integer for '{op}' on {spec.path}, got {_describe(value)}"
        return None
    if isinstance(value, bool) or to_decimal(value) is None or not isinstance(value, int | float | str | Decimal):
        return f"expected a number for '{op}' on {spec.path}, got {_describe(value)}"
    return None


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, str):
        return f"the string {value!r}"
    return f"{value!r}"


def _validate_leaf(
    node: Mapping[str, Any],
    path: str,
    fields: Mapping[str, FieldSpec],
    known_lists: Collection[str] | None,
    errors: list[dict[str, str]],
) -> None:
    allowed = {"field", "op", "value", "list", "match"}
    for key in node:
        if key not in allowed:
            errors.append(field_error(f"{path}.{key}", f"unknown key '{key}'; a condition has field, op and value"))
    fpath, op = node.get("field"), node.get("op")
    spec = None
    if not isinstance(fpath, str) or not fpath:
        errors.append(field_error(f"{path}.field", "required: the dotted path of a declaration field"))
    else:
        spec = fields.get(fpath)
        if spec is None:
            hint = _closest(fpath, fields)
            errors.append(
                field_error(f"{path}.field", f"unknown field '{fpath}'" + (f"; did you mean '{hint}'?" if hint else ""))
            )
    if not isinstance(op, str) or op not in OPERATORS:
        shown = "missing" if op is None else f"unknown operator {op!r}"
        errors.append(field_error(f"{path}.op", f"{shown}; expected one of {_expected_ops()}"))
        return
    if spec is None:
        return
    if spec.kind not in OPERATORS[op]:
        errors.append(field_error(f"{path}.op", f"operator '{op}' does not apply to {spec.path} ({spec.kind})"))
        return
    vpath = f"{path}.value"
    has_value = "value" in node
    value = node.get("value")
    if op == "in_list":
        if has_value:
            errors.append(field_error(vpath, "in_list takes a list name in 'list', not a 'value'"))
        name = node.get("list")
        if not isinstance(name, str) or not name:
            errors.append(field_error(f"{path}.list", "required: the name of a list"))
        elif known_lists is not None and name not in known_lists:
            known = ", ".join(sorted(known_lists)) or "none defined"
            errors.append(field_error(f"{path}.list", f"unknown list '{name}'; known lists: {known}"))
        if node.get("match", "exact") not in ("exact", "prefix"):
            errors.append(field_error(f"{path}.match", "expected 'exact' or 'prefix'"))
        return
    for key in ("list", "match"):
        if key in node:
            errors.append(field_error(f"{path}.{key}", f"'{key}' is only used with the in_list operator"))
    if op == "exists":
        if has_value and not isinstance(value, bool):
            errors.append(field_error(vpath, f"expected true or false for 'exists', got {_describe(value)}"))
        return
    if not has_value:
        errors.append(field_error(vpath, f"required for operator '{op}'"))
        return
    if op in ("in", "not_in"):
        if not isinstance(value, list) or not value:
            errors.append(field_error(vpath, f"expected a non-empty list for '{op}', got {_describe(value)}"))
            return
        _check_many(value, spec, op, vpath, errors)
    elif op in ("prefix", "contains"):
        if isinstance(value, list):
            if not value:
                errors.append(field_error(vpath, f"expected a string or a non-empty list of strings for '{op}'"))
                return
            _check_many(value, spec, op, vpath, errors)
        else:
            _add(errors, vpath, _check_scalar(value, spec, op))
    elif op == "between":
        if not isinstance(value, list) or len(value) != 2:
            errors.append(field_error(vpath, f"expected [low, high] for 'between', got {_describe(value)}"))
            return
        before = len(errors)
        _check_many(value, spec, op, vpath, errors)
        if len(errors) == before and to_decimal(value[0]) > to_decimal(value[1]):  # type: ignore[operator]
            errors.append(field_error(vpath, "low bound is greater than high bound"))
    else:
        if isinstance(value, list):
            errors.append(field_error(vpath, f"expected a single value for '{op}', got a list (use 'in')"))
            return
        _add(errors, vpath, _check_scalar(value, spec, op))


def _check_many(values: list[Any], spec: FieldSpec, op: str, vpath: str, errors: list[dict[str, str]]) -> None:
    if len(values) > MAX_VALUES:
        errors.append(field_error(vpath, f"too many values ({len(values)}); at most {MAX_VALUES}, use a named list"))
        return
    for i, element in enumerate(values):
        _add(errors, f"{vpath}[{i}]", _check_scalar(element, spec, op))


def _add(errors: list[dict[str, str]], path: str, reason: str | None) -> None:
    if reason:
        errors.append(field_error(path, reason))


def _closest(name: str, fields: Mapping[str, FieldSpec]) -> str | None:
    import difflib

    match = difflib.get_close_matches(name, list(fields), n=1, cutoff=0.75)
    return match[0] if match else None


def validate_criteria(
    criteria: Any,
    *,
    path: str = "criteria",
    fields: Mapping[str, FieldSpec] = DEFAULT_FIELDS,
    known_lists: Collection[str] | None = None,
) -> list[dict[str, str]]:
    """Every problem in a criteria tree, each with its JSON path; an empty list when the tree is valid.

    `known_lists` are the names of the lists that exist; None skips that check.
    """
    errors: list[dict[str, str]] = []
    count = [0]
    too_deep = [False]

    def walk(node: Any, p: str, depth: int) -> None:
        count[0] += 1
        if depth > MAX_DEPTH:
            if not too_deep[0]:
                errors.append(field_error(p, f"criteria nested too deeply; at most {MAX_DEPTH} levels"))
                too_deep[0] = True
            return
        if not isinstance(node, Mapping):
            errors.append(field_error(p, f"expected a group or a condition object, got {_describe(node)}"))
            return
        groups = [k for k in GROUP_KEYS if k in node]
        if not groups:
            if "field" in node or "op" in node:
                _validate_leaf(node, p, fields, known_lists, errors)
            else:
                keys = ", ".join(map(repr, node)) or "nothing"
                errors.append(
                    field_error(
                        p, f"expected one of {', '.join(GROUP_KEYS)} or a condition (field, op, value); got {keys}"
                    )
                )
            return
        if len(node) != 1:
            errors.append(
                field_error(
                    p, f"a group has exactly one key ({', '.join(GROUP_KEYS)}); got " + ", ".join(map(repr, node))
                )
            )
            return
        key = groups[0]
        child = node[key]
        if key in ("all", "any"):
            if not isinstance(child, list):
                errors.append(field_error(f"{p}.{key}", f"expected a list of conditions, got {_describe(child)}"))
            elif not child:
                errors.append(field_error(f"{p}.{key}", "empty group; give at least one condition"))
            else:
                for i, element in enumerate(child):
                    walk(element, f"{p}.{key}[{i}]", depth + 1)
        else:
            walk(child, f"{p}.{key}", depth + 1)

    walk(criteria, path, 1)
    if count[0] > MAX_NODES:
        errors.append(field_error(path, f"criteria too large ({count[0]} nodes); at most {MAX_NODES}"))
    return errors


# --------------------------------------------------------------------------------------------------- compilation


@dataclass(frozen=True)
class ItemView:
    """One goods item with the derived facts the caller supplied for it."""

    sequence: Any
    item: Mapping[str, Any]
    facts: Mapping[str, Any]


@dataclass(frozen=True)
class Subject:
    """A declaration prepared for evaluation: the document, the context and its goods items."""

    declaration: Mapping[str, Any]
    context: Mapping[str, Any]
    items: tuple[ItemView, ...]
    lists: NamedLists


def prepare_subject(
    declaration: Mapping[str, Any],
    context: Mapping[str, Any] | None = None,
    lists: Mapping[str, Iterable[Any]] | NamedLists | None = None,
) -> Subject:
    """Bind each goods item to its facts from `context["items"]` (keyed by item sequence, or a list by position)."""
    context = context or {}
    raw_items = declaration.get("goods_items")
    raw_items = raw_items if isinstance(raw_items, list) else []
    facts_src = context.get("items")
    views = []
    for index, item in enumerate(raw_items):
        if not isinstance(item, Mapping):
            continue
        seq = item.get("sequence", index + 1)
        facts: Any = None
        if isinstance(facts_src, Mapping):
            facts = facts_src.get(seq, facts_src.get(str(seq)))
        elif isinstance(facts_src, list) and index < len(facts_src):
            facts = facts_src[index]
        views.append(ItemView(seq, item, facts if isinstance(facts, Mapping) else {}))
    return Subject(declaration, context, tuple(views), as_named_lists(lists))


Predicate = Callable[[Subject, ItemView | None], bool]


def _leaf_test(op: str, node: Mapping[str, Any], spec: FieldSpec) -> Callable[[Any, NamedLists], bool]:
    """The test of one normalised, non-missing value."""
    kind = spec.kind
    if op == "in_list":
        name, match = node["list"], node.get("match", "exact")
        if match == "prefix":
            return lambda v, lists: v.startswith(lists.prefixes(name))
        return lambda v, lists: v in lists.exact(name)
    raw: Any = node.get("value")
    if op in ("eq", "ne"):
        target = _normalize(raw, kind)
        return lambda v, lists: v == target
    if op in ("in", "not_in"):
        targets = frozenset(_normalize(x, kind) for x in raw)
        return lambda v, lists: v in targets
    if op == "prefix":
        prefixes = tuple(normalize_text(x, kind) for x in (raw if isinstance(raw, list) else [raw]))
        return lambda v, lists: v.startswith(prefixes)
    if op == "contains":
        needles = tuple(normalize_text(x, kind) for x in (raw if isinstance(raw, list) else [raw]))
        return lambda v, lists: any(n in v for n in needles)
    if op == "between":
        low, high = to_decimal(raw[0]), to_decimal(raw[1])
        return lambda v, lists: low <= v <= high
    bound = to_decimal(raw)
    return {
        "gt": lambda v, lists: v > bound,
        "gte": lambda v, lists: v >= bound,
        "lt": lambda v, lists: v < bound,
        "lte": lambda v, lists: v <= bound,
    }[op]


def _compile_leaf(node: Mapping[str, Any], spec: FieldSpec) -> tuple[Predicate, bool]:
    op = node["op"]
    getter = spec.getter
    assert getter is not None
    kind = spec.kind
    item_level = spec.level == "item"

    def values(subject: Subject, item: ItemView | None) -> list[Any]:
        raw: Any
        if item_level:
            raw = getter(item.item, item.facts) if item is not None else None
        else:
            raw = getter(subject.declaration, subject.context)
        seq = (raw or []) if spec.many else [raw]
        return [v for v in (_normalize(x, kind) for x in seq) if v is not None]

    if op == "exists":
        wanted = node.get("value", True)
        return (lambda s, i: bool(values(s, i)) == wanted), item_level
    test = _leaf_test(op, node, spec)
    if op in ("ne", "not_in"):
        # Absent data never hits: 'ne' holds only when a value is present and none of the values matches.
        return (lambda s, i: bool(vs := values(s, i)) and not any(test(v, s.lists) for v in vs)), item_level
    return (lambda s, i: any(test(v, s.lists) for v in values(s, i))), item_level


def _compile(node: Mapping[str, Any], fields: Mapping[str, FieldSpec]) -> tuple[Predicate, bool]:
    """A predicate and whether it refers to the currently bound goods item."""
    if "all" in node or "any" in node:
        key = "all" if "all" in node else "any"
        parts = [_compile(child, fields) for child in node[key]]
        preds = tuple(p for p, _ in parts)
        free = any(f for _, f in parts)
        if key == "all":
            return (lambda s, i: all(p(s, i) for p in preds)), free
        return (lambda s, i: any(p(s, i) for p in preds)), free
    if "not" in node:
        inner, free = _compile(node["not"], fields)
        return (lambda s, i: not inner(s, i)), free
    if "any_item" in node:
        inner, _ = _compile(node["any_item"], fields)
        return (lambda s, i: any(inner(s, it) for it in s.items)), False
    if "every_item" in node:
        inner, _ = _compile(node["every_item"], fields)
        return (lambda s, i: all(inner(s, it) for it in s.items)), False
    return _compile_leaf(node, fields[node["field"]])


@dataclass(frozen=True)
class CompiledCriteria:
    """A validated criteria tree turned into closures."""

    predicate: Predicate
    item_level: bool
    list_names: frozenset[str]

    def matches(self, subject: Subject) -> tuple[bool, tuple[Any, ...]]:
        """Whether the declaration is hit and, for item-level criteria, the sequences of the goods items that hit."""
        if not self.item_level:
            return self.predicate(subject, None), ()
        hit_items = tuple(it.sequence for it in subject.items if self.predicate(subject, it))
        return bool(hit_items), hit_items


def _list_names(node: Any) -> set[str]:
    if isinstance(node, Mapping):
        names = {node["list"]} if node.get("op") == "in_list" and isinstance(node.get("list"), str) else set()
        for value in node.values():
            names |= _list_names(value)
        return names
    if isinstance(node, list):
        return set().union(*(_list_names(v) for v in node)) if node else set()
    return set()


def compile_criteria(
    criteria: Any, *, fields: Mapping[str, FieldSpec] = DEFAULT_FIELDS, known_lists: Collection[str] | None = None
) -> CompiledCriteria:
    """Validate then compile; raises InvalidInput with every error and its JSON path."""
    errors = validate_criteria(criteria, fields=fields, known_lists=known_lists)
    if errors:
        raise InvalidInput(f"The selectivity criteria have {len(errors)} error(s).", errors=errors)
    predicate, item_level = _compile(criteria, fields)
    return CompiledCriteria(predicate, item_level, frozenset(_list_names(criteria)))


# --------------------------------------------------------------------------------------------------- profiles


@dataclass(frozen=True)
class SelectivityProfile:
    """One version of a selectivity profile. Content is immutable; an edit is a new version (`revise`)."""

    profile_id: str
    version: int
    name: str
    reason: str
    channel: Channel
    priority: int
    valid_from: date
    valid_to: date | None
    criteria: Mapping[str, Any]
    mandatory: bool = False
    kind: ProfileKind = "selection"
    status: ProfileStatus = "draft"
    description: str | None = None

    def __post_init__(self) -> None:
        # A private deep copy: later changes to the caller's dict cannot alter this version's content.
        object.__setattr__(self, "criteria", copy.deepcopy(dict(self.criteria)))

    def fingerprint(self) -> str:
        """SHA-256 of the version's content (not its status), to check that a stored version never changed."""
        content = {k: v for k, v in asdict(self).items() if k != "status"}
        return hashlib.sha256(json.dumps(content, sort_keys=True, default=str).encode()).hexdigest()

    @cached_property
    def compiled(self) -> CompiledCriteria:
        return compile_criteria(self.criteria)

    def is_valid_on(self, on: date) -> bool:
        return self.valid_from <= on and (self.valid_to is None or on <= self.valid_to)

    def is_active_on(self, on: date) -> bool:
        return self.status == "active" and self.is_valid_on(on)


_STATUS_MOVES = {("draft", "active"), ("draft", "retired"), ("active", "retired")}


def change_status(profile: SelectivityProfile, to: ProfileStatus) -> SelectivityProfile:
    """Activate or retire a version (draft → active → retired; retired is final)."""
    if (profile.status, to) not in _STATUS_MOVES:
        raise IllegalTransition(
            f"Profile {profile.profile_id} version {profile.version} is {profile.status}; it cannot become {to}.",
            errors=[field_error("status", f"{profile.status} → {to} is not allowed")],
        )
    return replace(profile, status=to)


def revise(profile: SelectivityProfile, **changes: Any) -> SelectivityProfile:
    """Version n+1 with `changes` applied, as a draft; identity and version are not editable.

    Callers validate the new content first (`profiles_schema.parse_profile`); this only versions it.
    """
    for key in ("profile_id", "version", "status"):
        if key in changes:
            raise InvalidInput(
                "A revision cannot change the profile's identity, version or status.",
                errors=[field_error(key, "not editable; a revision always makes a new draft version")],
            )
    return replace(profile, version=profile.version + 1, status="draft", **changes)


@dataclass(frozen=True)
class RuleHit:
    """A profile that hit a declaration, as stored with the channel decision."""

    profile_id: str
    version: int
    name: str
    channel: Channel
    priority: int
    reason: str
    mandatory: bool = False
    kind: ProfileKind = "selection"
    matched_items: tuple[Any, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "profile_id": self.profile_id,
            "version": self.version,
            "name": self.name,
            "channel": self.channel,
            "priority": self.priority,
            "reason": self.reason,
            "mandatory": self.mandatory,
            "kind": self.kind,
            "matched_items": list(self.matched_items),
        }


def hit_order(hit: RuleHit) -> tuple[int, int, int, str, int]:
    """Sort key, strongest first: mandatory, then priority, then the stricter channel."""
    return (-int(hit.mandatory), -hit.priority, -CHANNEL_SEVERITY[hit.channel], hit.profile_id, -hit.version)


def _current_versions(profiles: Iterable[SelectivityProfile], on: date) -> list[SelectivityProfile]:
    latest: dict[str, SelectivityProfile] = {}
    for profile in profiles:
        if not profile.is_active_on(on):
            continue
        kept = latest.get(profile.profile_id)
        if kept is None or profile.version > kept.version:
            latest[profile.profile_id] = profile
    return list(latest.values())


def _hit(profile: SelectivityProfile, subject: Subject) -> RuleHit | None:
    matched, items = profile.compiled.matches(subject)
    if not matched:
        return None
    return RuleHit(
        profile.profile_id,
        profile.version,
        profile.name,
        profile.channel,
        profile.priority,
        profile.reason,
        profile.mandatory,
        profile.kind,
        items,
    )


def _require_lists(profiles: Iterable[SelectivityProfile], lists: NamedLists) -> None:
    missing = sorted({n for p in profiles for n in p.compiled.list_names} - lists.names())
    if missing:
        raise InvalidInput(
            "Lists used by active selectivity profiles were not supplied: " + ", ".join(missing),
            errors=[field_error(f"lists.{n}", "not supplied") for n in missing],
        )


def evaluate_profiles(
    declaration: Mapping[str, Any],
    context: Mapping[str, Any] | None,
    profiles: Iterable[SelectivityProfile],
    lists: Mapping[str, Iterable[Any]] | NamedLists | None = None,
    *,
    on: date,
) -> list[RuleHit]:
    """The hits of the profiles active and valid on `on`, strongest first (see `hit_order`).

    When several versions of one profile are active, only the highest version is evaluated.
    """
    if isinstance(on, datetime):  # a timestamp: its UTC calendar day
        on = (on.astimezone(UTC) if on.tzinfo else on).date()
    named = as_named_lists(lists)
    current = _current_versions(profiles, on)
    _require_lists(current, named)
    subject = prepare_subject(declaration, context, named)
    hits = [h for h in (_hit(p, subject) for p in current) if h is not None]
    return sorted(hits, key=hit_order)


# --------------------------------------------------------------------------------------------------- statistics


@dataclass(frozen=True)
class HitOutcome:
    """What became of one hit: whether the goods were inspected and whether the inspection found something."""

    profile_id: str
    version: int
    inspected: bool = False
    finding: bool | None = None


@dataclass(frozen=True)
class HitStatistics:
    """Hit counts of one profile version; `hit_rate` is the share of inspected hits with a finding."""

    profile_id: str
    version: int
    hits: int = 0
    inspected: int = 0
    with_findings: int = 0

    @property
    def hit_rate(self) -> float | None:
        return self.with_findings / self.inspected if self.inspected else None

    def add(self, outcome: HitOutcome) -> HitStatistics:
        inspected = outcome.inspected
        return replace(
            self,
            hits=self.hits + 1,
            inspected=self.inspected + int(inspected),
            with_findings=self.with_findings + int(inspected and bool(outcome.finding)),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "profile_id": self.profile_id,
            "version": self.version,
            "hits": self.hits,
            "inspected": self.inspected,
            "with_findings": self.with_findings,
            "hit_rate": self.hit_rate,
        }


def aggregate_hit_statistics(outcomes: Iterable[HitOutcome]) -> dict[tuple[str, int], HitStatistics]:
    """Statistics per (profile id, version)."""
    stats: dict[tuple[str, int], HitStatistics] = {}
    for outcome in outcomes:
        key = (outcome.profile_id, outcome.version)
        stats[key] = stats.get(key, HitStatistics(*key)).add(outcome)
    return stats


@dataclass(frozen=True)
class BacktestCase:
    """A past declaration, its context, and its known fraud outcome (None when it was never inspected)."""

    declaration: Mapping[str, Any]
    context: Mapping[str, Any] = field(default_factory=dict)
    fraud: bool | None = None


@dataclass(frozen=True)
class BacktestResult:
    """How a profile would have fared on past declarations."""

    profile_id: str
    version: int
    declarations: int
    hits: int
    share: float
    hits_with_known_outcome: int
    hits_with_fraud: int
    precision: float | None
    known_frauds: int
    recall: float | None
    sample_hits: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.__dict__.items()}


def _cases(items: Iterable[Any]) -> Iterator[BacktestCase]:
    for item in items:
        if isinstance(item, BacktestCase):
            yield item
        elif isinstance(item, tuple):
            yield BacktestCase(*item)
        else:
            yield BacktestCase(item)


def backtest(
    profile: SelectivityProfile,
    declarations: Iterable[Any],
    lists: Mapping[str, Iterable[Any]] | NamedLists | None = None,
    *,
    sample_size: int = 20,
) -> BacktestResult:
    """Run one profile (whatever its status and validity) over past declarations.

    Each element is a BacktestCase, a (declaration, context, fraud) tuple, or a bare declaration dict.
    Precision is over the hits whose outcome is known; recall over the known frauds.
    """
    named = as_named_lists(lists)
    _require_lists([profile], named)
    compiled = profile.compiled
    total = hits = known = fraud_hits = frauds = 0
    sample: list[str] = []
    for case in _cases(declarations):
        total += 1
        matched, _ = compiled.matches(prepare_subject(case.declaration, case.context, named))
        frauds += int(case.fraud is True)
        if not matched:
            continue
        hits += 1
        if case.fraud is not None:
            known += 1
            fraud_hits += int(case.fraud)
        if len(sample) < sample_size:
            sample.append(str(case.declaration.get("mrn") or case.declaration.get("lrn") or ""))
    return BacktestResult(
        profile.profile_id,
        profile.version,
        total,
        hits,
        hits / total if total else 0.0,
        known,
        fraud_hits,
        fraud_hits / known if known else None,
        frauds,
        fraud_hits / frauds if frauds else None,
        tuple(sample),
    )
