"""File-based registry of HS classifier versions, with one active version (like the risk models).

Layout under the root (default `var/models/classification/`):

    versions/v0001/   model.pkl + metadata.json (version, created_at, data fingerprint, params, evaluation figures)
    state.json        {"active": "v0002", "history": ["v0001"]}
    shipped/<fingerprint>/   cache of the model built from the files shipped in the package

When nothing is active, the model built from the shipped files (labelled examples, HS 2022 nomenclature, national
tariff texts) is used; it is built at first use and cached under `shipped/`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import pickle
import shutil
import threading
from collections.abc import Callable
from pathlib import Path

from clearway.classification.model import HSClassifier
from clearway.registry import ModelVersion, VersionRegistry
from clearway.registry import default_root as registry_root

__all__ = ["ClassifierRegistry", "ModelVersion", "default_root", "file_digest", "fingerprint"]

log = logging.getLogger(__name__)


ENV_VAR = "CLEARWAY_CLASSIFICATION_MODELS"


def default_root() -> Path:
    """The registry root: $CLEARWAY_CLASSIFICATION_MODELS, else <var_dir>/models/classification."""
    return registry_root("classification", ENV_VAR)


def fingerprint(examples: list[tuple[str, str]], *extra: str) -> str:
    """A short, order-independent digest of the training examples (and any extra strings, e.g. file digests)."""
    digest = hashlib.sha256()
    for description, code in sorted(examples):
        digest.update(f"{description}\x1f{code}\x1e".encode())
    for item in extra:
        digest.update(item.encode())
    return digest.hexdigest()[:16]


def file_digest(path: Path) -> str:
    if not path.is_file():
        return "absent"
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


class ClassifierRegistry(VersionRegistry[HSClassifier]):
    """Registered classifier versions under one root directory."""

    kind = "classification"
    env_var = ENV_VAR

    def save_model(self, model: HSClassifier, path: Path) -> None:
        model.save(path)
        (path / "metadata.json").write_text(json.dumps(model.metadata, indent=2, default=str), encoding="utf-8")

    def load_model(self, path: Path) -> HSClassifier:
        return HSClassifier.load(path)

    def load_active(self, progress: Callable[[str], None] | None = None) -> HSClassifier:
        """The active model, or the model built from the shipped files when none is active."""
        version = self.active_version()
        if version:
            try:
                return self.load(version)
            except (TypeError, AttributeError, ImportError, EOFError, pickle.UnpicklingError, OSError) as exc:
                # An artefact of an older format must not take suggestions down: fall back and say so.
                log.warning("classification model %s cannot be loaded (%s); using the shipped model", version, exc)
        return self.load_shipped(progress)

    def load_shipped(self, progress: Callable[[str], None] | None = None) -> HSClassifier:
        """The model built from the files shipped in the package, cached under `shipped/<fingerprint>/`."""
        from clearway.classification.training import build_shipped_model, shipped_fingerprint

        key = shipped_fingerprint()
        cache = self.root / "shipped" / key
        with _SHIPPED_LOCK:
            if (cache / "model.pkl").is_file():
                try:
                    return HSClassifier.load(cache)
                except Exception:
                    shutil.rmtree(cache, ignore_errors=True)
            model = build_shipped_model(progress)
            try:
                tmp = cache.with_name(f".{key}.tmp")
                shutil.rmtree(tmp, ignore_errors=True)
                model.save(tmp)
                (tmp / "metadata.json").write_text(json.dumps(model.metadata, indent=2, default=str), encoding="utf-8")
                shutil.rmtree(cache, ignore_errors=True)
                tmp.rename(cache)
                for stale in cache.parent.iterdir():  # models built from earlier shipped files
                    if stale != cache and not stale.name.startswith("."):
                        shutil.rmtree(stale, ignore_errors=True)
            except OSError:
                pass  # a read-only var/ only costs a rebuild next time
            return model


_SHIPPED_LOCK = threading.Lock()
