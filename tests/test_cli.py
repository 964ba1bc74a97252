"""The `clearway` command: migrations, users, demo data, with clear messages for bad input."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from clearway.cli import app
from clearway.config import get_settings

runner = CliRunner()


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("CLEARWAY_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("CLEARWAY_VAR_DIR", str(tmp_path))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_upgrade_users_and_demo(env):
    upgraded = runner.invoke(app, ["db", "upgrade"])
    assert upgraded.exit_code == 0, upgraded.output
    said = " ".join(upgraded.output.split())  # rich wraps long lines at the terminal's width
    assert "up to date" in said and "6,939 codes" in said

    created = runner.invoke(
        app, ["users", "create", "--username", "ana", "--password", "long-enough-1", "--role", "customs_officer"]
    )
    assert created.exit_code == 0 and "User ana created with role customs_officer" in created.output

    bad = runner.invoke(
        app, ["users", "create", "--username", "bo", "--password", "x", "--role", "pilot", "--eori", "GB1"]
    )
    assert bad.exit_code == 2
    for words in ("username:", "password: at least 8 characters", "role: unknown role 'pilot'", "eori[0]:"):
        assert words in bad.output

    demo = runner.invoke(app, ["demo", "load", "--if-empty"])
    assert demo.exit_code == 0 and "Demo data already present" in demo.output  # a user exists already


def test_demo_load_prints_the_logins(env):
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    demo = runner.invoke(app, ["demo", "load", "--if-empty"])
    assert demo.exit_code == 0, demo.output
    assert "HS classification assistant ready" in demo.output  # built before the declarations are assessed
    assert "Demo data loaded: 5 users, 24 declarations lodged" in demo.output
    assert "broker" in demo.output and "officer-demo-1" in demo.output
