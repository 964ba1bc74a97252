"""Typed settings, read from CLEARWAY_* environment variables."""

from __future__ import annotations

import secrets
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PLACEHOLDER_SECRETS = {"", "changeme", "change-me", "secret", "please-change", "dev", "test"}


class Settings(BaseSettings):
    """Everything an administration configures; defaults give an embedded SQLite demo."""

    model_config = SettingsConfigDict(env_prefix="CLEARWAY_", env_file=".env", extra="ignore")

    environment: Literal["development", "test", "production"] = "development"
    var_dir: Path = Path("var")
    database_url: str = ""
    secret_key: str = ""
    access_token_minutes: int = 8 * 60

    # The administration running this instance: country code used in MRNs, national currency.
    country_code: str = "US"
    national_currency: str = "USD"

    # How background jobs run: "thread" (embedded worker thread), "inline" (right after commit, in the
    # request: tests), "external" (a separate `clearway worker` process picks them up).
    jobs_mode: Literal["thread", "inline", "external"] = "thread"
    job_max_attempts: int = 8

    # Risk assessment asks the HS classification assistant whether each declared code fits its description.
    misclassification_check: bool = True
    http_threads: int = 8  # concurrent requests served by each process
    max_request_bytes: int = 2_000_000
    max_goods_items: int = 999

    # De minimis: goods whose customs value is at or below these (national currency) pay no duty / VAT.
    de_minimis_duty: Decimal = Decimal("0")
    de_minimis_vat: Decimal = Decimal("0")
    # Tariff (docs/tariff.md): customs value basis, national VAT rate in percent (the US has no federal VAT: 0),
    # whether excise is part of the VAT base.
    valuation_basis: Literal["CIF", "FOB"] = "CIF"
    vat_rate: Decimal = Decimal("0")
    vat_base_includes_excise: bool = False

    demo: bool = False
    cors_origins: list[str] = Field(default_factory=list)
    # Channel policy defaults of every office (docs/selectivity.md §8), e.g. '{"red_expected_pct": 3}';
    # an office's own parameters (PUT /api/v1/risk/offices/{office}/policy) override them.
    risk_policy: dict[str, float | int | bool | str] = Field(default_factory=dict)

    @field_validator("country_code")
    @classmethod
    def _country_upper(cls, value: str) -> str:
        return value.upper()

    @model_validator(mode="after")
    def _fill_defaults(self) -> Settings:
        if not self.database_url:
            self.database_url = f"sqlite:///{(self.var_dir / 'clearway.db').as_posix()}"
        if self.secret_key.strip().lower() in PLACEHOLDER_SECRETS:
            if self.environment == "production":
                raise ValueError("CLEARWAY_SECRET_KEY must be set to a real secret in production")
            self.secret_key = _local_secret(self.var_dir)
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def _local_secret(var_dir: Path) -> str:
    """Returns a per-installation random secret kept under var/, so tokens survive a restart."""
    path = var_dir / "secret_key"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        var_dir.mkdir(parents=True, exist_ok=True)
        value = secrets.token_urlsafe(48)
        path.write_text(value)
        path.chmod(0o600)
        return value


@lru_cache
def get_settings() -> Settings:
    """Returns the process-wide settings (tests build their own Settings instead)."""
    return Settings()
