"""A Clearway-format tariff file (and optionally a rate table) stored in a test database, as `clearway tariff load`
stores one: read, saved as a new version, committed."""

from datetime import date
from pathlib import Path

from clearway.db import Database
from clearway.tariff import service
from clearway.tariff.exchange import read_rates_csv
from clearway.tariff.sources import read_clearway


def load_clearway_tariff(
    database: Database,
    path: Path,
    *,
    valid_from: date,
    name: str = "test",
    rates_csv: str | None = None,
    replace: bool = True,
) -> None:
    with database.session() as session:
        service.load_tariff(
            db_session=session,
            data=read_clearway(path, valid_from=valid_from),
            name=name,
            source_format="clearway",
            source=str(path),
            valid_from=valid_from,
            replace=replace,
        )
        if rates_csv is not None:
            service.load_rates(db_session=session, records=read_rates_csv(rates_csv))
        session.commit()
