"""US special tariff programmes (the codes in the HTS "Special" column) and the countries they cover.

Pure data. Sources: HTS General Notes 3(c)(i) (programme symbols) and the notes of each agreement, as known to the
authors at the time of writing, not checked against the current notes; docs/tariff.md lists the caveats.
A programme whose statutory authority has lapsed has `in_force_until` set and is never granted after that date,
even though the schedule still prints its symbol.
Programmes without a country list (B, C, K, L: product or end-use agreements) can never be granted by origin alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True, slots=True)
class Programme:
    """A preferential programme: its symbol(s) in the Special column, name and beneficiary countries (ISO 3166)."""

    code: str
    name: str
    countries: frozenset[str]
    in_force_until: date | None = None
    note: str = ""

    def in_force(self, on: date) -> bool:
        return self.in_force_until is None or on <= self.in_force_until


CAFTA_DR = frozenset({"CR", "DO", "SV", "GT", "HN", "NI"})
USMCA = frozenset({"CA", "MX"})
# AGOA beneficiaries eligible for calendar year 2024 (32 countries, proclamation of October 2023).
AGOA = frozenset(
    {
        "AO",
        "BJ",
        "BW",
        "CV",
        "TD",
        "KM",
        "CI",
        "DJ",
        "CD",
        "SZ",
        "GM",
        "GH",
        "GW",
        "KE",
        "LS",
        "LR",
        "MG",
        "MW",
        "MR",
        "MU",
        "MZ",
        "NA",
        "NG",
        "CG",
        "RW",
        "ST",
        "SN",
        "SL",
        "ZA",
        "TZ",
        "TG",
        "ZM",
    }
)
# CBERA beneficiaries (Caribbean Basin Economic Recovery Act) after the CAFTA-DR countries left the programme.
CBERA = frozenset(
    {
        "AG",
        "AW",
        "BS",
        "BB",
        "BZ",
        "VG",
        "CW",
        "DM",
        "GD",
        "GY",
        "HT",
        "JM",
        "MS",
        "KN",
        "LC",
        "VC",
        "TT",
        "PA",
    }
)
# CBTPA (symbol R): the CBERA countries designated for the textile/apparel benefits.
CBTPA = frozenset({"BB", "BZ", "CW", "GY", "HT", "JM", "LC", "TT"})
# GSP least-developed beneficiaries (A+) as last listed before the programme lapsed; not exhaustive.
GSP_LDC = frozenset(
    {
        "AF",
        "BJ",
        "BT",
        "BF",
        "BI",
        "KH",
        "CF",
        "TD",
        "KM",
        "CD",
        "DJ",
        "ET",
        "GM",
        "GW",
        "HT",
        "KI",
        "LA",
        "LS",
        "LR",
        "MG",
        "MW",
        "ML",
        "MR",
        "MZ",
        "NP",
        "NE",
        "RW",
        "WS",
        "ST",
        "SN",
        "SL",
        "SB",
        "SO",
        "SS",
        "TZ",
        "TL",
        "TG",
        "TV",
        "UG",
        "VU",
        "YE",
        "ZM",
    }
)
# GSP beneficiaries (A, A*) other than the least developed: a documented subset of the main ones; not exhaustive.
GSP_OTHERS = frozenset(
    {
        "AL",
        "DZ",
        "AO",
        "AM",
        "AZ",
        "BZ",
        "BO",
        "BA",
        "BW",
        "BR",
        "CM",
        "CV",
        "CG",
        "CI",
        "DM",
        "EC",
        "EG",
        "FJ",
        "GA",
        "GE",
        "GH",
        "GD",
        "GY",
        "ID",
        "IQ",
        "JM",
        "JO",
        "KZ",
        "KE",
        "XK",
        "KG",
        "LB",
        "MK",
        "MU",
        "MD",
        "MN",
        "ME",
        "NA",
        "NG",
        "PK",
        "PG",
        "PY",
        "PH",
        "RS",
        "LC",
        "VC",
        "ZA",
        "LK",
        "SR",
        "TN",
        "TO",
        "UA",
        "UZ",
        "ZW",
    }
)
GSP_LAPSED = date(2020, 12, 31)

PROGRAMMES: dict[str, Programme] = {
    p.code: p
    for p in (
        Programme("A", "GSP", GSP_OTHERS | GSP_LDC, GSP_LAPSED, "authority lapsed 31 Dec 2020, not renewed"),
        Programme(
            "A*",
            "GSP (some beneficiaries excluded)",
            GSP_OTHERS | GSP_LDC,
            GSP_LAPSED,
            "authority lapsed 31 Dec 2020; the per-line exclusions (General Note 4(d)) are not modelled",
        ),
        Programme("A+", "GSP least-developed", GSP_LDC, GSP_LAPSED, "authority lapsed 31 Dec 2020"),
        Programme("AU", "US-Australia FTA", frozenset({"AU"})),
        Programme("BH", "US-Bahrain FTA", frozenset({"BH"})),
        Programme("CA", "NAFTA (Canada)", frozenset({"CA"}), date(2020, 6, 30), "replaced by USMCA on 1 Jul 2020"),
        Programme("MX", "NAFTA (Mexico)", frozenset({"MX"}), date(2020, 6, 30), "replaced by USMCA on 1 Jul 2020"),
        Programme("CL", "US-Chile FTA", frozenset({"CL"})),
        Programme("CO", "US-Colombia TPA", frozenset({"CO"})),
        Programme(
            "D",
            "AGOA",
            AGOA,
            None,
            "2024 eligibility list; AGOA's authority ran to 30 Sep 2025: check its renewal before relying on D",
        ),
        Programme("E", "CBERA", CBERA),
        Programme("E*", "CBERA (some beneficiaries excluded)", CBERA, None, "per-line exclusions not modelled"),
        Programme("IL", "US-Israel FTA", frozenset({"IL"})),
        Programme("JO", "US-Jordan FTA", frozenset({"JO"})),
        Programme("JP", "US-Japan Trade Agreement", frozenset({"JP"})),
        Programme("KR", "US-Korea FTA (KORUS)", frozenset({"KR"})),
        Programme("MA", "US-Morocco FTA", frozenset({"MA"})),
        Programme(
            "NP", "Nepal Preference Program", frozenset({"NP"}), date(2025, 12, 31), "authorised through 31 Dec 2025"
        ),
        Programme("OM", "US-Oman FTA", frozenset({"OM"})),
        Programme("P", "CAFTA-DR", CAFTA_DR),
        Programme("P+", "CAFTA-DR (quota-limited lines)", CAFTA_DR),
        Programme("PA", "US-Panama TPA", frozenset({"PA"})),
        Programme("PE", "US-Peru TPA", frozenset({"PE"})),
        Programme("R", "CBTPA", CBTPA, date(2030, 9, 30)),
        Programme("S", "USMCA", USMCA),
        Programme("S+", "USMCA (quota-limited lines)", USMCA),
        Programme("SG", "US-Singapore FTA", frozenset({"SG"})),
        # Product / end-use agreements: granted on the nature or use of goods, not by origin.
        Programme("B", "Automotive Products Trade Act", frozenset()),
        Programme("C", "Agreement on Trade in Civil Aircraft", frozenset()),
        Programme("K", "Agreement on Trade in Pharmaceutical Products", frozenset()),
        Programme("L", "Uruguay Round Concessions on Intermediate Chemicals for Dyes", frozenset()),
    )
}

# Column 2 rates apply to these origins instead of the General rate (Russia and Belarus since 2022).
COLUMN2_COUNTRIES = frozenset({"CU", "KP", "RU", "BY"})


def countries_of(codes: tuple[str, ...]) -> frozenset[str]:
    """Returns every country covered by any of the programme symbols (unknown symbols cover none)."""
    found: set[str] = set()
    for code in codes:
        programme = PROGRAMMES.get(code)
        if programme:
            found |= programme.countries
    return frozenset(found)


def programme_for(codes: tuple[str, ...], origin: str, on: date) -> tuple[Programme | None, str | None]:
    """Returns (a programme in force on `on` covering `origin`, None) or (None, the reason none applies)."""
    lapsed: list[str] = []
    for code in codes:
        programme = PROGRAMMES.get(code)
        if programme is None or origin not in programme.countries:
            continue
        if programme.in_force(on):
            return programme, None
        lapsed.append(f"{code} ({programme.name}) not in force on {on.isoformat()}: {programme.note}")
    if lapsed:
        return None, "; ".join(lapsed)
    return None, f"origin {origin} is not covered by programme(s) {', '.join(codes)}"
