"""The seed policy texts, line by line after the scoring normalisation, for checking that expected quotes are real."""

from __future__ import annotations

import pytest
import yaml

from bot.evaluation import normalise_for_scoring
from tests.conftest import CORE_ROLES, REPO, SHARED

SEEDS = SHARED / "seeds"
SEED_FILES = {
    "howitt": "howitt-primary-derbyshire-2018.txt",
    "wolverhampton": "wolverhampton-connected-2022.txt",
    "crynallt": "neath-port-talbot-crynallt.txt",
    "rutland": "rutland-county-council-2017.txt",
    "reading": "reading-borough-school.txt",
}
# The roles a set may expect: the six every school has, and the others knowledge/roles.yaml names (police...).
KNOWN_ROLES = CORE_ROLES | frozenset(
    yaml.safe_load((REPO / "knowledge" / "roles.yaml").read_text(encoding="utf-8"))["roles"]
)


@pytest.fixture(scope="session")
def seed_lines() -> dict[str, list[str]]:
    if not SEEDS.exists():
        pytest.skip("shared/seeds is not beside this checkout")
    return {
        school: [
            normalise_for_scoring(line) for line in (SEEDS / name).read_text(encoding="utf-8").splitlines()
        ]
        for school, name in SEED_FILES.items()
    }
