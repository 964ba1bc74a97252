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
import os
import pickle
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from clearway.classification.model import HSClassifier
from clearway.errors import Conflict, InvalidInput, NotFound, field_error

DEFAULT_ROOT = Path("var") / "models" / "classification"
log = logging.getLogger(__name__)


def default_root() -> Path:
    """The registry root: $CLEARWAY_CLASSIFICATION_MODELS, else <var_dir>/models/classification."""
    env = os.environ.get("CLEARWAY_CLASSIFICATION_MODELS")
    if env:
        return Path(env)
    var_dir = os.environ.get("CLEARWAY_VAR_DIR")
    return Path(var_dir) / "models" / "classification" if var_dir else DEFAULT_ROOT


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


@dataclass(frozen=True)
class ModelVersion:
    version: str
    path: Path
    metadata: dict[str, Any]
    active: bool


class ClassifierRegistry:
    """Registered classifier versions under one root directory."""

    def __init__(self, root: str | Path | None = None) -> None:
        self.root = Path(root) if root is not None else default_root()

    @property
    def _versions_dir(self) -> Path:
        return self.root / "versions"

    def _state(self) -> dict[str, Any]:
        path = self.root / "state.json"
        if not path.is_file():
            return {"active": None, "history": []}
        return json.loads(path.read_text(encoding="utf-8"))

    def _write_state(self, state: dict[str, Any]) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self.root / "state.json.tmp"
        tmp.write_text(json.dumps(state, indent=2), encoding="utf-8")
        tmp.replace(self.root / "state.json")  # atomic: a reader never sees half a state

    def _path(self, version: str) -> Path:
        if not (version.startswith("v") and version[1:].isdigit() and len(version) >= 5):
            raise InvalidInput(f"{version!r} is not a model version", errors=[field_error("version", "like v0001")])
        path = self._versions_dir / version
        if not (path / "metadata.json").is_file():
            raise NotFound(f"no classification model version {version}")
        return path

    def versions(self) -> list[ModelVersion]:
        """All registered versions, oldest first."""
        if not self._versions_dir.is_dir():
            return []
        active = self._state().get("active")
        out = []
        for path in sorted(self._versions_dir.iterdir()):
            meta = path / "metadata.json"
            if path.name.startswith("v") and meta.is_file():
                metadata = json.loads(meta.read_text(encoding="utf-8"))
                out.append(ModelVersion(path.name, path, metadata, path.name == active))
        return out

    def register(self, model: HSClassifier, *, activate: bool = True) -> str:
        """Saves a model as the next version (made active unless told otherwise); returns the version."""
        existing = [int(v.version[1:]) for v in self.versions()]
        version = f"v{(max(existing) + 1 if existing else 1):04d}"
        model.metadata["version"] = version
        self._versions_dir.mkdir(parents=True, exist_ok=True)
        tmp = self._versions_dir / f".{version}.tmp"
        if tmp.exists():
            shutil.rmtree(tmp)
        model.save(tmp)
        (tmp / "metadata.json").write_text(json.dumps(model.metadata, indent=2, default=str), encoding="utf-8")
        tmp.rename(self._versions_dir / version)
        if activate:
            self.activate(version)
        return version

    def activate(self, version: str) -> None:
        """Makes a registered version the active one (the previous one is remembered for rollback)."""
        self._path(version)
        state = self._state()
        if state.get("active") == version:
            return
        if state.get("active"):
            state.setdefault("history", []).append(state["active"])
        state["active"] = version
        self._write_state(state)

    def rollback(self) -> str | None:
        """Goes back to the previously active version; returns it (None: back to the shipped model)."""
        state = self._state()
        if not state.get("active"):
            raise Conflict("no classification model is active: nothing to roll back")
        previous = state["history"].pop() if state.get("history") else None
        state["active"] = previous
        self._write_state(state)
        return previous

    def active_version(self) -> str | None:
        return self._state().get("active")

    def load(self, version: str) -> HSClassifier:
        return HSClassifier.load(self._path(version))

    def load_active(self) -> HSClassifier:
        """The active model, or the model built from the shipped files when none is active."""
        version = self.active_version()
        if version:
            try:
                return self.load(version)
            except (TypeError, AttributeError, ImportError, EOFError, pickle.UnpicklingError, OSError) as exc:
                # An artefact of an older format must not take suggestions down: fall back and say so.
                log.warning("classification model %s cannot be loaded (%s); using the shipped model", version, exc)
        return self.load_shipped()

    def load_shipped(self) -> HSClassifier:
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
            model = build_shipped_model()
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
