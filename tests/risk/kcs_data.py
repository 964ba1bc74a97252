"""Where the tests find the KCS training data: the shared copy beside the project, else the copy Clearway ships."""

from __future__ import annotations

import gzip
import shutil
import tempfile
from pathlib import Path

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "kcs-synthetic" / "train.csv"
SHIPPED = Path(__file__).resolve().parents[2] / "src" / "clearway" / "risk" / "shipped" / "kcs_train.csv.gz"


def _path() -> Path:
    if SHARED.is_file():
        return SHARED
    target = Path(tempfile.gettempdir()) / "clearway-tests-kcs-train.csv"
    if not target.is_file() and SHIPPED.is_file():
        with gzip.open(SHIPPED, "rb") as source, open(target.with_suffix(".tmp"), "wb") as out:
            shutil.copyfileobj(source, out)
        target.with_suffix(".tmp").replace(target)
    return target


DATA = _path()
