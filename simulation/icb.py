"""The 42 integrated care boards of England: the roster, each system's make-up, and its slug.

The roster (``data/icb/roster.csv``: codes, name, NHS England region, registered adults in
February 2024) is package data with its source note (``data/icb/README.md``). Each ICB's make-up,
organisations by type with their managers and doctors in training, is built here (docs/ODD.md,
sections 5 and 6):

1. **Real counts first.** A count in ``data/icb/real_counts.csv`` (from a published lookup, with
   its date) is kept as it is; only what no lookup gives is apportioned. The trusts of each type
   (ODS trust list, January 2025) and the PCNs (ePCN, October 2024) are real in all 42 ICBs.
2. **Apportioned counts.** A national total (:data:`NATIONAL_COUNTS`), less the real counts, is
   shared among the remaining ICBs in proportion to their registered adults, as integers by
   largest-remainder rounding (:func:`largest_remainder`), with a floor where every ICB must
   have one (an acute trust, a PCN, a council). Today that is the councils alone.
3. **Managers** per organisation type: the 40,021 NHS hospital and community services managers
   (King's Fund, 2025; staff-group "managers", so non-clinical) go to trusts only; clinical
   managers are added at each type's clinical share, as in the archetypes. ICB, PCN and
   local-authority managers are [A], sized like the archetypes.
4. **Doctors in training** (28,500 in England, docs/ODD.md section 5) are shared by population,
   then among the types present by the archetypes' shares.

Every count, manager and trainee cell of the make-up says whether it is ``real: <source>``,
``apportioned`` or ``assumed`` (a fixed size per organisation, [A]). :func:`makeup` is written to
``data/icb/makeup.csv`` by ``python -m simulation.documentation``, which also writes
``configs/ics/icb/<slug>.yaml`` and ``configs/ics/england.yaml``.
"""

import csv
import difflib
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

from .params import ORG_TYPES, ConfigError

DATA_DIR = Path(__file__).resolve().parent / "data" / "icb"
ROSTER_FILE = DATA_DIR / "roster.csv"
REAL_COUNTS_FILE = DATA_DIR / "real_counts.csv"
MAKEUP_FILE = DATA_DIR / "makeup.csv"
APPORTIONED = "apportioned"
ASSUMED = "assumed"
REAL_PREFIX = "real: "


@dataclass(frozen=True)
class ICB:
    """One integrated care board of the roster."""

    slug: str
    name: str
    ons_code: str
    ods_code: str
    region: str
    population: int  # GP-registered patients aged 16 and over, February 2024


@dataclass(frozen=True)
class National:
    """A national figure that is shared among the ICBs, with its grounding."""

    total: int
    source: str
    minimum: int = 0  # each ICB gets at least this many


# Organisations of each type in England: the totals apportioning fills up to. One ICB per system
# by definition. The trusts and PCNs are the totals of the lookups in real_counts.csv (tested), so
# nothing of them is left to apportion; data/icb/README.md gives the lookups and the rules.
TRUST_LOOKUP = "G: ODS etr.csv, trusts open in January 2025, by NHS Staff Survey benchmark group"
NATIONAL_COUNTS = {
    # 195 acute, mental-health and community trusts (ambulance trusts are not modelled): 134
    # acute (13 of them specialist; combined acute and community trusts included), 48 mental
    # health (combined mental-health and community trusts included), 13 community. A trust counts
    # in the ICB of its headquarters, so five ICBs have no mental-health trust of their own.
    "acute_trust": National(134, TRUST_LOOKUP, 1),
    "community_trust": National(13, TRUST_LOOKUP),
    "mental_health_trust": National(48, TRUST_LOOKUP),
    # 1,283 PCNs open with at least one member practice (NHS Digital ePCN, October 2024).
    "pcn": National(1283, "G: NHS Digital ePCN, October 2024", 1),
    # Upper-tier local authorities with adult social care: about 152-153 (24 county councils,
    # 32 London boroughs, 36 metropolitan boroughs, about 58-59 unitaries, 2 special). No
    # authority-to-ICB lookup was found, so these are apportioned; councils that straddle ICB
    # boundaries are counted once, in the ICB the share of population gives.
    "social_care": National(153, "G: about 152-153 upper-tier authorities", 1),
}
# Published national figures of other dates that the totals above are checked against, within
# COUNT_TOLERANCE [A: the figures' dates differ]: the lookups are of late 2024 and January 2025;
# the ODS list shows five trusts closed by merger in 2024, so 195 trusts against 201 (-3%), and
# 1,283 PCNs against about 1,250 (+3%).
PUBLISHED_COUNTS = {
    ("acute_trust", "community_trust", "mental_health_trust"): National(
        201, "G: HSJ, August 2023: acute, mental-health, community and combined trusts"),
    ("pcn",): National(1250, "G: about 1,250 (NHS England, March 2025)"),
    ("social_care",): National(153, "G: about 152-153 upper-tier authorities"),
}
COUNT_TOLERANCE = 0.05

# Managers in England by where they work.
TRUST_MANAGERS = National(
    40021, "G: King's Fund 2025, managers in NHS hospital and community services (non-clinical)")
ICB_MANAGERS = National(8400, "A: 200 an ICB as in the england archetype; range 150-250 each")
SOCIAL_CARE_MANAGERS = National(
    16830, "A: about 110 a council, the archetypes' 100-125; range 80-150 each")
# A: a clinical director, a PCN manager and the practice managers of about 5.4 practices
# (6,758 practices in 1,250 PCNs, BJGP 2020), with a lead GP or nurse or two; range 6-15 (the
# archetypes use 10-25).
PCN_MANAGERS_EACH = 10
TRAINEES = National(28500, "G/A: half of about 57,000 doctors in core, specialty and GP "
                           "training (docs/ODD.md section 5)")

# Within an ICB, the non-clinical trust managers are shared among its trusts by these weights
# [A: the archetypes' trusts of 400, 200 and 200].
TRUST_WEIGHTS = {"acute_trust": 2.0, "community_trust": 1.0, "mental_health_trust": 1.0}
# Doctors in training by where they are placed [A: the england archetype's 480, 20, 60 and 120
# of 680 a system]; renormalised over the types an ICB has.
TRAINEE_SHARES = {"acute_trust": 480, "community_trust": 20, "mental_health_trust": 60,
                  "pcn": 120}
# Clinical share and sign-off layers of each type, as in the archetypes (docs/ODD.md section 5).
TYPE_DEFAULTS = {
    "icb": (0.2, 4.0),
    "acute_trust": (0.3, 3.0),
    "community_trust": (0.35, 3.0),
    "mental_health_trust": (0.35, 3.0),
    "pcn": (0.6, 1.0),
    "social_care": (0.1, 3.0),
}
# The national per-type totals of the make-up hold within this share of their figure (rounding of
# managers per organisation).
TOLERANCE = 0.01


def slug(name: str) -> str:
    """The slug of an official name: drop "NHS " and " Integrated Care Board", lower-case, drop
    punctuation (a hyphen separates words: "stoke_on_trent") and join the words with
    underscores."""
    core = name.removeprefix("NHS ").removesuffix(" Integrated Care Board")
    return "_".join(re.sub(r"[^\w\s]", "", core.lower().replace("-", " ")).split())


@cache
def roster() -> tuple[ICB, ...]:
    """The 42 ICBs, in the roster's order (by region)."""
    with ROSTER_FILE.open(newline="") as f:
        return tuple(ICB(slug=slug(row["icb_name"]), name=row["icb_name"],
                         ons_code=row["ons_code"], ods_code=row["ods_code"],
                         region=row["nhse_region"],
                         population=int(row["gp_registered_16plus_feb2024"]))
                     for row in csv.DictReader(f))


def slugs() -> list[str]:
    """Every ICB's slug, sorted."""
    return sorted(icb.slug for icb in roster())


def regions() -> dict[str, list[str]]:
    """NHS England region -> the slugs of its ICBs (both sorted)."""
    out: dict[str, list[str]] = {}
    for icb in sorted(roster(), key=lambda i: (i.region, i.slug)):
        out.setdefault(icb.region, []).append(icb.slug)
    return out


def closest(name: str, options: list[str], n: int = 3) -> list[str]:
    """The options nearest to ``name`` (difflib), best first."""
    return difflib.get_close_matches(name, options, n=n, cutoff=0.4)


def find(name: str) -> ICB:
    """The ICB of a slug; an unknown slug raises ConfigError naming the closest ones."""
    for icb in roster():
        if icb.slug == name:
            return icb
    near = closest(name, slugs())
    hint = f"; did you mean {', '.join(near)}?" if near else ""
    raise ConfigError(f"ics = icb/{name} is not one of the 42 ICBs{hint} "
                      "(list them: python -m simulation.icb)")


def largest_remainder(total: int, weights, minimum: int = 0) -> np.ndarray:
    """Integers summing to ``total`` in proportion to ``weights``, by largest remainders.

    Each share's quota is ``total * w / sum(w)``; each gets its whole part (at least
    ``minimum``), then the units left go to the largest fractional parts (ties to the first).
    If the floors took more than the total, units come back from the smallest fractional parts
    of those above the minimum.
    """
    w = np.asarray(weights, dtype=float)
    if total < minimum * len(w):
        raise ValueError(f"total {total} is below {len(w)} x minimum {minimum}")
    quota = total * w / w.sum()
    alloc = np.maximum(np.floor(quota).astype(np.int64), minimum)
    fraction = quota - np.floor(quota)
    left = total - int(alloc.sum())
    if left > 0:
        order = [i for i in np.argsort(-fraction, kind="stable") if alloc[i] == np.floor(quota[i])]
        alloc[order[:left]] += 1
    elif left < 0:
        order = [i for i in np.argsort(fraction, kind="stable") if alloc[i] > minimum]
        alloc[order[:-left]] -= 1
    return alloc


@cache
def real_counts() -> dict[tuple[str, str], tuple[int, str]]:
    """(ODS code, organisation type) -> (count, source) from ``real_counts.csv``; a row with an
    unknown ICB or type, a count that is not a whole number >= 0, no source or a second row for
    the same key raises ConfigError naming it."""
    codes = {board.ods_code for board in roster()}
    out: dict[tuple[str, str], tuple[int, str]] = {}
    with REAL_COUNTS_FILE.open(newline="") as f:
        for line, row in enumerate(csv.DictReader(f), start=2):
            key = (row["ods_code"], row["org_type"])
            where = f"{REAL_COUNTS_FILE.name} line {line} ({key[0]}, {key[1]})"
            if key[0] not in codes:
                raise ConfigError(f"{where}: ods_code is not an ICB of roster.csv")
            if key[1] not in NATIONAL_COUNTS:
                raise ConfigError(f"{where}: org_type is not one of {sorted(NATIONAL_COUNTS)}")
            if not row["count"].isdigit():
                raise ConfigError(f"{where}: count = {row['count']!r} is not a whole number >= 0")
            if not row["source"].strip():
                raise ConfigError(f"{where}: source is empty")
            if key in out:
                raise ConfigError(f"{where}: a second row for the same ICB and type")
            out[key] = (int(row["count"]), row["source"])
    return out


def organisation_counts(real: dict[tuple[str, str], tuple[int, str]] | None = None
                        ) -> dict[str, dict[str, tuple[int, str]]]:
    """slug -> organisation type -> (count, source): real counts kept, the rest apportioned."""
    real = real_counts() if real is None else real
    icbs = roster()
    out = {icb.slug: {"icb": (1, REAL_PREFIX + "one ICB per system")} for icb in icbs}
    for kind, national in NATIONAL_COUNTS.items():
        known = {icb.slug: real[icb.ods_code, kind] for icb in icbs
                 if (icb.ods_code, kind) in real}
        rest = [icb for icb in icbs if icb.slug not in known]
        remaining = max(national.total - sum(n for n, _ in known.values()), 0)
        shares = (largest_remainder(remaining, [i.population for i in rest],
                                    min(national.minimum, remaining // max(len(rest), 1)))
                  if rest else [])
        for icb in icbs:
            if icb.slug in known:
                n, source = known[icb.slug]
                out[icb.slug][kind] = (n, REAL_PREFIX + source)
        for icb, n in zip(rest, shares, strict=True):
            out[icb.slug][kind] = (int(n), APPORTIONED)
    return out


def makeup(real: dict[tuple[str, str], tuple[int, str]] | None = None) -> list[dict]:
    """One row per ICB x organisation type present: counts, managers and trainees per
    organisation, clinical share and layers, and where each number comes from."""
    icbs = roster()
    pops = [icb.population for icb in icbs]
    counts = organisation_counts(real)
    trust_nc = dict(zip(icbs, largest_remainder(TRUST_MANAGERS.total, pops), strict=True))
    icb_managers = dict(zip(icbs, largest_remainder(ICB_MANAGERS.total, pops), strict=True))
    council_managers = dict(zip(icbs, largest_remainder(SOCIAL_CARE_MANAGERS.total, pops),
                                strict=True))
    trainees = dict(zip(icbs, largest_remainder(TRAINEES.total, pops), strict=True))
    rows = []
    for icb in icbs:
        have = {kind: n for kind, (n, _) in counts[icb.slug].items() if n > 0}
        weight = sum(have.get(k, 0) * w for k, w in TRUST_WEIGHTS.items())
        placed = sum(TRAINEE_SHARES[k] for k in TRAINEE_SHARES if k in have)
        for kind in ORG_TYPES:
            if kind not in have:
                continue
            n = have[kind]
            clinical_share, layers = TYPE_DEFAULTS[kind]
            if kind in TRUST_WEIGHTS:
                non_clinical = trust_nc[icb] * TRUST_WEIGHTS[kind] / weight
                managers = round(non_clinical / (1.0 - clinical_share))
            elif kind == "icb":
                managers = int(icb_managers[icb])
            elif kind == "pcn":
                managers = PCN_MANAGERS_EACH
            else:
                managers = round(council_managers[icb] / n)
            doctors = (round(trainees[icb] * TRAINEE_SHARES[kind] / placed / n)
                       if kind in TRAINEE_SHARES else 0)
            rows.append({
                "slug": icb.slug, "ods_code": icb.ods_code, "region": icb.region,
                "org_type": kind, "count": n, "count_source": counts[icb.slug][kind][1],
                "managers": max(int(managers), 1),
                "managers_source": ASSUMED if kind == "pcn" else APPORTIONED,
                "clinical_share": clinical_share, "bureaucracy_layers": layers,
                "trainees": int(doctors),
                "trainees_source": APPORTIONED if kind in TRAINEE_SHARES else "none",
            })
    return rows


def makeup_csv() -> str:
    """The make-up as CSV text (``data/icb/makeup.csv``)."""
    rows = makeup()
    lines = [",".join(rows[0])]
    lines += [",".join(_csv_cell(v) for v in row.values()) for row in rows]
    return "\n".join(lines) + "\n"


def _csv_cell(value) -> str:
    text = str(value)
    return f'"{text}"' if "," in text else text


def system_config(icb: ICB, rows: list[dict] | None = None) -> dict:
    """One ICB as a system of the ICS schema (``params.SystemSpec``)."""
    rows = makeup() if rows is None else rows
    return {
        "name": icb.slug, "region": icb.region, "code": icb.ods_code,
        "population": icb.population,
        "organisations": [
            {"type": r["org_type"], "count": r["count"], "managers": r["managers"],
             "clinical_share": r["clinical_share"],
             "bureaucracy_layers": r["bureaucracy_layers"], "trainees": r["trainees"]}
            for r in rows if r["slug"] == icb.slug],
    }


def apportioned_inputs(slug_: str) -> list[str]:
    """The inputs of an ICB that are not real counts (``org_type.count`` etc.): apportioned or
    assumed."""
    return [f"{r['org_type']}.{column}" for r in makeup() if r["slug"] == slug_
            for column in ("count", "managers", "trainees")
            if r[f"{column}_source"] in (APPORTIONED, ASSUMED)]


def main() -> None:
    """``python -m simulation.icb``: the ICBs that run by name, by NHS England region."""
    boards = {b.slug: b for b in roster()}
    for region, members in regions().items():
        print(f"{region}:")
        for name in members:
            print(f"  icb/{name:<52} {boards[name].population:>9,} registered adults")


if __name__ == "__main__":
    main()
