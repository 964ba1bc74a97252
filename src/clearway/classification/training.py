"""Training the HS classifier from labelled examples and officers' corrections, with versioned metadata."""

from __future__ import annotations

import csv
import random
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from clearway.classification.lexicon import LEXICON_FILE
from clearway.classification.model import MODEL_FORMAT, HSClassifier, Params, hs_accuracy
from clearway.classification.reference import HS2022_FILE, HTS_FILE, LABELED_FILE, load_nomenclature, load_tariff_lines
from clearway.classification.registry import default_root, file_digest, fingerprint
from clearway.classification.semantic import SHIPPED_EMBEDDINGS
from clearway.classification.text import hs6_of
from clearway.errors import InvalidInput, field_error

HOLDOUT_FRACTION = 0.2
HOLDOUT_SEED = 13


def read_labelled_csv(path: Path, *, field: str = "file") -> list[tuple[str, str]]:
    """(description, code) rows of a labelled CSV (columns `description` and `code` or `hs6`, as the shipped file)."""
    if not path.is_file():
        raise InvalidInput(f"{path} does not exist", errors=[field_error(field, "file not found")])
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        columns = set(reader.fieldnames or [])
        code_column = "code" if "code" in columns else "hs6" if "hs6" in columns else None
        if "description" not in columns or code_column is None:
            raise InvalidInput(
                f"{path} needs the columns description and code",
                errors=[field_error(field, "columns description and code (or hs6) are required")],
            )
        rows = []
        for number, row in enumerate(reader, start=2):
            description = (row.get("description") or "").strip()
            code = (row.get(code_column) or "").strip()
            if not description:
                continue
            if hs6_of(code) is None:
                raise InvalidInput(
                    f"{path} line {number}: {code!r} is not an HS code of at least 6 digits",
                    errors=[field_error(field, f"line {number}: code needs at least 6 digits")],
                )
            rows.append((description, code))
    return rows


def read_descriptions_csv(path: Path, *, field: str = "file") -> tuple[list[str], list[str] | None]:
    """Descriptions of a CSV to classify, and its codes if it has a `code` or `hs6` column (else None)."""
    if not path.is_file():
        raise InvalidInput(f"{path} does not exist", errors=[field_error(field, "file not found")])
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        columns = set(reader.fieldnames or [])
        if "description" not in columns:
            raise InvalidInput(
                f"{path} needs a description column", errors=[field_error(field, "no description column")]
            )
        code_column = "code" if "code" in columns else "hs6" if "hs6" in columns else None
        rows = list(reader)
    descriptions = [(row.get("description") or "").strip() for row in rows]
    codes = [(row.get(code_column) or "").strip() for row in rows] if code_column else None
    return descriptions, codes


def _merge(examples: Sequence[tuple[str, str]], corrections: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    """HS-6 examples; an officer's correction replaces a labelled example with the same description."""
    merged: dict[str, tuple[str, str]] = {}
    for description, code in [*examples, *corrections]:
        hs6 = hs6_of(code)
        if hs6 and description.strip():
            merged[description.strip().lower()] = (description.strip(), hs6)
    return list(merged.values())


def fit(
    examples: Sequence[tuple[str, str]], *, params: Params | None = None, progress: Callable[[str], None] | None = None
) -> HSClassifier:
    """Fits a classifier on (description, code) pairs plus the shipped nomenclature and national tariff texts."""
    return HSClassifier(params).fit(
        _merge(examples, ()),
        nomenclature=load_nomenclature(),
        tariff_lines=load_tariff_lines(),
        cache_dir=default_root() / "embeddings",
        progress=progress,
    )


def holdout_figures(examples: Sequence[tuple[str, str]], *, params: Params | None = None) -> dict[str, float]:
    """Figures on a seeded holdout of the examples (a model fitted on the rest)."""
    shuffled = list(examples)
    random.Random(HOLDOUT_SEED).shuffle(shuffled)
    cut = int(len(shuffled) * HOLDOUT_FRACTION)
    test, train_part = shuffled[:cut], shuffled[cut:]
    if not test or not train_part:
        return {}
    model = fit(train_part, params=params)
    ranked = model.rank([d for d, _ in test], limit=5)
    figures = hs_accuracy(ranked, [c for _, c in test])
    figures["holdout_rows"] = len(test)
    return figures


def train_model(
    examples: Sequence[tuple[str, str]],
    *,
    corrections: Sequence[tuple[str, str]] = (),
    params: Params | None = None,
    evaluate: bool = True,
    progress: Callable[[str], None] | None = None,
) -> HSClassifier:
    """Fits a model on examples + corrections and fills its metadata (fingerprint, params, holdout figures)."""
    merged = _merge(examples, corrections)
    if not merged:
        raise InvalidInput("no usable training examples", errors=[field_error("examples", "empty")])
    params = params or Params()
    figures: dict[str, float] = {}
    if evaluate:
        if progress:
            progress(f"evaluating on a {HOLDOUT_FRACTION:.0%} holdout of {len(merged)} examples")
        figures = holdout_figures(merged, params=params)
    if progress:
        progress(f"fitting on {len(merged)} examples")
    model = fit(merged, params=params, progress=progress)
    model.metadata = {
        "version": None,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "data_fingerprint": fingerprint(merged, file_digest(HS2022_FILE), file_digest(HTS_FILE)),
        "examples": len(merged),
        "corrections": len(corrections),
        "tariff_lines": len(model._references.texts) - len(load_nomenclature().subheadings),
        "params": params.to_dict(),
        "model_format": MODEL_FORMAT,
        "evaluation": figures,
    }
    return model


def shipped_examples() -> list[tuple[str, str]]:
    """The labelled examples shipped in the package ([] if the file is absent)."""
    return read_labelled_csv(LABELED_FILE) if LABELED_FILE.is_file() else []


def shipped_fingerprint() -> str:
    """Identifies the shipped files, parameters and model code the shipped model is built from."""
    code = [
        file_digest(Path(__file__).with_name(name))
        for name in ("model.py", "text.py", "reference.py", "semantic.py", "lexicon.py", "abbreviations.py")
    ]
    return fingerprint(
        [],
        file_digest(LABELED_FILE),
        file_digest(HS2022_FILE),
        file_digest(HTS_FILE),
        file_digest(SHIPPED_EMBEDDINGS),
        file_digest(LEXICON_FILE),
        repr(Params().to_dict()),
        f"format {MODEL_FORMAT}",
        *code,
    )


def build_shipped_model(progress: Callable[[str], None] | None = None) -> HSClassifier:
    """The model built from the shipped files (no holdout evaluation: it is built at first use)."""
    model = train_model(shipped_examples(), evaluate=False, progress=progress)
    model.metadata["version"] = "shipped"
    return model
