"""File-based registry of risk model versions, with one active version and a rollback history.

Layout under the root (default `var/models/risk/`):

    versions/v0001/   a model artefact (see `RiskModel.save`)
    versions/v0002/
    state.json        {"active": "v0002", "history": ["v0001", "v0002"]}  (history: previously active, in order)

When nothing is active, the demo model shipped in `clearway/risk/shipped/` is used.
"""

from __future__ import annotations

from pathlib import Path

from clearway.errors import NotFound
from clearway.registry import ModelVersion, VersionRegistry
from clearway.registry import default_root as registry_root
from clearway.risk.model import RiskModel

__all__ = ["SHIPPED_MODEL", "ModelRegistry", "ModelVersion", "default_root", "load_shipped"]

SHIPPED_MODEL = Path(__file__).with_name("shipped")
ENV_VAR = "CLEARWAY_RISK_MODELS"


def default_root() -> Path:
    """The registry root: $CLEARWAY_RISK_MODELS, else <var_dir>/models/risk."""
    return registry_root("risk", ENV_VAR)


class ModelRegistry(VersionRegistry[RiskModel]):
    """Registered risk model versions under one root directory."""

    kind = "risk"
    env_var = ENV_VAR

    def save_model(self, model: RiskModel, path: Path) -> None:
        model.save(path)

    def load_model(self, path: Path) -> RiskModel:
        return RiskModel.load(path)

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
