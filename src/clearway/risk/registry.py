"""File-based registry of risk model versions, with one active version and a rollback history.

Layout under the root (default `var/models/risk/`):

    versions/v0001/   a model artefact (see `RiskModel.save`)
    versions/v0002/
    state.json        {"active": "v0002", "history": ["v0001", "v0002"]}  (history: previously active, in order)

When nothing is active, the demo model shipped in `clearway/risk/shipped/` is used.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from clearway.errors import Conflict, InvalidInput, NotFound, field_error
from clearway.risk.model import RiskModel

SHIPPED_MODEL = Path(__file__).with_name("shipped")
DEFAULT_ROOT = Path("var") / "models" / "risk"
_VERSION = re.compile(r"^v\d{4,}$")


def default_root() -> Path:
    """The registry root: $CLEARWAY_RISK_MODELS, else <var_dir>/models/risk."""
    env = os.environ.get("CLEARWAY_RISK_MODELS")
    if env:
        return Path(env)
    var_dir = os.environ.get("CLEARWAY_VAR_DIR")
    return Path(var_dir) / "models" / "risk" if var_dir else DEFAULT_ROOT


@dataclass(frozen=True)
class ModelVersion:
    version: str
    path: Path
    metadata: dict[str, Any]
    active: bool


class ModelRegistry:
    """Registered model versions under one root directory."""

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
        if not _VERSION.match(version):
            raise InvalidInput(f"{version!r} is not a model version", errors=[field_error("version", "like v0001")])
        path = self._versions_dir / version
        if not (path / "metadata.json").is_file():
            raise NotFound(f"no risk model version {version}")
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

    def register(self, model: RiskModel, *, activate: bool = True) -> str:
        """Save a model as the next version; make it active unless told otherwise. Returns the version."""
        existing = [int(v.version[1:]) for v in self.versions()]
        version = f"v{(max(existing) + 1 if existing else 1):04d}"
        model.metadata["version"] = version
        target = self._versions_dir / version
        tmp = self._versions_dir / f".{version}.tmp"
        if tmp.exists():
            shutil.rmtree(tmp)
        model.save(tmp)
        tmp.rename(target)
        if activate:
            self.activate(version)
        return version

    def activate(self, version: str) -> None:
        """Make a registered version the active one (the previous one is remembered for rollback)."""
        self._path(version)
        state = self._state()
        if state.get("active") == version:
            return
        if state.get("active"):
            state["history"].append(state["active"])
        state["active"] = version
        self._write_state(state)

    def rollback(self) -> str | None:
        """Go back to the previously active version; returns it (None: back to the shipped demo model)."""
        state = self._state()
        if not state.get("active"):
            raise Conflict("no risk model is active: nothing to roll back")
        previous = state["history"].pop() if state["history"] else None
        state["active"] = previous
        self._write_state(state)
        return previous

    def active_version(self) -> str | None:
        return self._state().get("active")

    def load(self, version: str) -> RiskModel:
        return RiskModel.load(self._path(version))

    def load_active(self) -> RiskModel:
        """The active model, or the shipped demo model when none is active."""
        version = self.active_version()
        if version:
            return self.load(version)
        return load_shipped()


def load_shipped() -> RiskModel:
    """The demo model shipped with Clearway (trained on the KCS synthetic data)."""
    if not (SHIPPED_MODEL / "metadata.json").is_file():
        raise NotFound("no shipped risk model: train one with `clearway risk train`")
    return RiskModel.load(SHIPPED_MODEL)
