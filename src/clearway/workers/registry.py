"""Imports every module that registers job handlers, so any runner knows them all."""


def load_handlers() -> None:
    import clearway.release.service  # noqa: F401
