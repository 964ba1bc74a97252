"""A file-based registry of trained model versions with one active version and a rollback history.

Layout under a root directory (default `<var_dir>/models/<kind>/`):

    versions/v0001/   one saved model (its own files + metadata.json)
    versions/v0002/
    state.json        {"active": "v0002", "history": ["v0001"]}  (history: previously active, in order)

The risk models and the HS classifiers are versioned the same way; each domain subclasses `VersionRegistry` with
how its models are saved and loaded, and what is used when no version is active.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

from clearway.errors import Conflict, InvalidInput, NotFound, field_error

_VERSION = re.compile(r"^v\d{4,}$")


class Versioned(Protocol):
    metadata: dict[str, Any]


M = TypeVar("M", bound=Versioned)


@dataclass(frozen=True)
class ModelVersion:
    version: str
    path: Path
    metadata: dict[str, Any]
    active: bool


def default_root(kind: str, env_var: str) -> Path:
    """The registry root: $<env_var>, else <CLEARWAY_VAR_DIR or var>/models/<kind>."""
    if os.environ.get(env_var):
        return Path(os.environ[env_var])
    return Path(os.environ.get("CLEARWAY_VAR_DIR") or "var") / "models" / kind


class VersionRegistry(Generic[M]):
    """Registered versions of one kind of model under one root directory."""

    kind = "model"  # in messages: "no <kind> model version v0003"
    env_var = ""

    def __init__(self, root: str | Path | None = None) -> None:
        self.root = Path(root) if root is not None else default_root(self.kind, self.env_var)

    # -- what a domain provides ------------------------------------------------------------------------------
    def save_model(self, model: M, path: Path) -> None:
        raise NotImplementedError

    def load_model(self, path: Path) -> M:
        raise NotImplementedError

    # -- the registry ----------------------------------------------------------------------------------------
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
        if not _VERSION.match(version):
            raise InvalidInput(f"{version!r} is not a model version", errors=[field_error("version", "like v0001")])
        path = self._versions_dir / version
        if not (path / "metadata.json").is_file():
            raise NotFound(f"no {self.kind} model version {version}")
        return path

    def versions(self) -> list[ModelVersion]:
        """All registered versions, oldest first."""
        if not self._versions_dir.is_dir():
            return []
        active = self._state().get("active")
        out = []
        for path in sorted(self._versions_dir.iterdir()):
            meta_path = path / "metadata.json"
            if _VERSION.match(path.name) and meta_path.is_file():
                metadata = json.loads(meta_path.read_text(encoding="utf-8"))
                out.append(ModelVersion(path.name, path, metadata, path.name == active))
        return out

    def register(self, model: M, *, activate: bool = True) -> str:
        """Saves a model as the next version, made active unless told otherwise; returns the version."""
        existing = [int(v.version[1:]) for v in self.versions()]
        version = f"v{(max(existing) + 1 if existing else 1):04d}"
        model.metadata["version"] = version
        self._versions_dir.mkdir(parents=True, exist_ok=True)
        tmp = self._versions_dir / f".{version}.tmp"
        if tmp.exists():
            shutil.rmtree(tmp)
        self.save_model(model, tmp)
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
            raise Conflict(f"no {self.kind} model is active: nothing to roll back")
        previous = state["history"].pop() if state.get("history") else None
        state["active"] = previous
        self._write_state(state)
        return previous

    def active_version(self) -> str | None:
        return self._state().get("active")

    def load(self, version: str) -> M:
        return self.load_model(self._path(version))
