"""Demo users (one per role) and demo declarations, and the sample declarations tests and benchmarks lodge."""

from __future__ import annotations

import random
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select

from clearway.auth import service as auth
from clearway.auth.models import User
from clearway.config import Settings
from clearway.db import Database
from clearway.declarations import service as declarations
from clearway.declarations.schemas import DeclarationIn
from clearway.nomenclature import service as nomenclature
from clearway.revenue.demo import load_demo_revenue, national_lines
from clearway.workers.jobs import JobRunner
from clearway.workers.registry import load_handlers


@dataclass(frozen=True)
class DemoUser:
    username: str
    password: str
    role: str
    full_name: str
    eoris: tuple[str, ...] = ()


DEMO_USERS = (
    DemoUser("broker", "broker-demo-1", "declarant", "Bay Customs Brokers", ("GB123456789000", "GB987654321000")),
    DemoUser("officer", "officer-demo-1", "customs_officer", "Officer Ana Reyes"),
    DemoUser("analyst", "analyst-demo-1", "risk_analyst", "Risk analyst Tom Okafor"),
    DemoUser("checkpoint", "checkpoint-demo-1", "checkpoint_operator", "Checkpoint operator Lee Park"),
    DemoUser("admin", "admin-demo-1", "administrator", "Administrator Sam Diaz"),
)

# (HS code, description, origin, price per kg in USD)
GOODS = (
    ("847130", "Laptop computers, 14 inch", "CN", 180),
    ("610910", "Men's cotton T-shirts, knitted", "BD", 14),
    ("080810", "Fresh apples, Gala", "NZ", 2),
    ("640411", "Sports footwear, textile uppers", "VN", 35),
    ("950300", "Plastic toy building blocks", "CN", 12),
    ("851713", "Smartphones", "KR", 900),
    ("871200", "Bicycles, non-motorised", "TW", 25),
    ("220421", "Red wine in bottles of 0.75 l", "FR", 9),
    ("731815", "Steel hex bolts with nuts", "IN", 3),
    ("940161", "Upholstered wooden armchairs", "IT", 40),
    ("420221", "Leather handbags", "IT", 250),
    ("300490", "Medicaments, packaged for retail sale", "DE", 400),
    ("392690", "Plastic cable ties", "CN", 6),
)
OFFICES = ("USNYC001", "USLAX001", "USJFK001")
IMPORTERS = (
    ("US100200300", "Harbor Home Goods Inc."),
    ("US200300400", "Pacific Outdoor Supply LLC"),
    ("US300400500", "Metro Electronics Corp."),
)
CONTAINERS = ("CSQU3054383", "MSKU1234565", "TGHU7654320")


def sample_declaration(
    lrn: str,
    *,
    declarant_eori: str = "GB123456789000",
    items: int = 3,
    seed: int | None = None,
    currency: str = "USD",
) -> dict[str, Any]:
    """A valid import declaration as JSON, with `items` goods items drawn from a realistic mix."""
    rng = random.Random(seed if seed is not None else lrn)
    importer = rng.choice(IMPORTERS)
    goods = []
    total = Decimal(0)
    for sequence in range(1, items + 1):
        code, text, origin, per_kg = rng.choice(GOODS)
        net = Decimal(rng.randint(5, 2000))
        price = (net * Decimal(per_kg) * Decimal(rng.uniform(0.7, 1.3))).quantize(Decimal("0.01"))
        total += price
        goods.append(
            {
                "sequence": sequence,
                "hs_code": code,
                "description": text,
                "country_of_origin": origin,
                "net_mass_kg": str(net),
                "gross_mass_kg": str(net + Decimal(rng.randint(1, 50))),
                "item_price": str(price),
                "packages": {"count": rng.randint(1, 40), "kind": "CT"},
                "documents": [{"code": "N380", "reference": f"INV-{lrn}"}],
            }
        )
    mode = rng.choice(["1", "4"])
    return {
        "lrn": lrn,
        "declaration_type": "IM",
        "procedure_code": "4000",
        "office_of_lodgement": rng.choice(OFFICES),
        "declarant": {
            "eori": declarant_eori,
            "name": "Bay Customs Brokers",
            "address": {"street": "1 Dock Road", "city": "Felixstowe", "postcode": "IP11 3SY", "country": "GB"},
        },
        "importer": {
            "eori": importer[0],
            "name": importer[1],
            "address": {"city": "New York", "postcode": "10001", "country": "US"},
        },
        "border_transport": {
            "mode": mode,
            "identity": "MAERSK ESSEN" if mode == "1" else "BA0117",
            "nationality": "DK" if mode == "1" else "GB",
        },
        "containers": [rng.choice(CONTAINERS)] if mode == "1" else [],
        "invoice": {"currency": currency, "amount": str(total)},
        "incoterm": rng.choice(["FOB", "CIF", "EXW"]),
        "country_of_dispatch": goods[0]["country_of_origin"],
        "country_of_destination": "US",
        "goods_items": goods,
    }


DEMO_CONTROLS = {3: "CONTROL-RED", 7: "CONTROL-YELLOW", 12: "CONTROL-YELLOW", 18: "CONTROL-RED"}


def has_users(db: Database) -> bool:
    """Whether anyone has an account yet (`demo load --if-empty` then loads nothing)."""
    with db.read_session() as session:
        return bool(session.scalar(select(func.count()).select_from(User)))


def load_demo(db: Database, settings: Settings, *, declarations_count: int = 24) -> str:
    """Creates the demo users and lodges demo declarations through the normal use case; returns a report."""
    load_handlers()
    with db.session() as session:
        nomenclature.load_shipped(session=session)
        users = {}
        for demo in DEMO_USERS:
            existing = session.scalar(select(User).where(User.username == demo.username))
            users[demo.username] = existing or auth.create_user(
                session=session,
                username=demo.username,
                password=demo.password,
                role=demo.role,
                eoris=list(demo.eoris),
                full_name=demo.full_name,
            )
        revenue_report = load_demo_revenue(session)
        session.commit()
        subheadings = nomenclature.subheadings(session=session)
        broker = users["broker"]
        lodged = 0
        for n in range(1, declarations_count + 1):
            data = national_lines(
                sample_declaration(f"DEMO-{n:04d}", declarant_eori=DEMO_USERS[0].eoris[n % 2], items=1 + n % 4)
            )
            # A few go to the officers' queue through the test trigger words, so every path can be tried at once.
            trigger = DEMO_CONTROLS.get(n)
            if trigger and settings.environment != "production":
                data["goods_items"][0]["description"] += f" {trigger}"
            declaration = DeclarationIn.model_validate(data, context={"hs_subheadings": subheadings})
            _, created = declarations.submit(
                session=session,
                user=broker,
                declaration=declaration,
                idempotency_key=None,
                country_code=settings.country_code,
            )
            lodged += created
        session.commit()
    ran = JobRunner(db).drain()
    logins = "\n".join(f"  {u.username:<11} {u.password:<18} {u.role}" for u in DEMO_USERS)
    return (
        f"Demo data loaded: {len(DEMO_USERS)} users, {lodged} declarations lodged, {ran} background jobs run.\n"
        f"{revenue_report}\nLogins (username, password, role):\n{logins}"
    )
